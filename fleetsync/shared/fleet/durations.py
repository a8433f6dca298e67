"""Durations as fleet.yaml writes them (90, 30s, 5m, 1h30m) and their bounds."""

from __future__ import annotations

import re


def format_duration(seconds: float) -> str:
    """Seconds as fleet.yaml writes them: 90 -> '1m30s', 3600 -> '1h'."""
    rest = round(seconds)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DURATION_FORMAT = "write seconds (90) or hours, minutes, seconds (30s, 5m, 1h30m)"
MAX_DURATION_SECONDS = 7 * 24 * 3600
MAX_DURATION_TEXT = "7 days (168h, 604800)"
MAX_DURATION_CHARS = 32
