"""Backoff after failures in a row: the one formula every retry of fleetsync uses (a repository
that cannot be polled, a cluster that answered 5xx or 429, an unforeseen error).

The delay doubles from `first` with each failure, is capped, never undercuts a delay the failure
itself asked for (Retry-After), and is spread by ±20% so a fleet that failed together does not
retry together.
"""

from __future__ import annotations

import random
from collections.abc import Callable

JITTER = 0.2


def backoff_delay(
    failures: int,
    *,
    first: float,
    cap: float,
    floor: float = 0.0,
    spread: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds until the next try after `failures` failures in a row (1 for the first)."""
    doubled = min(first * 2.0 ** max(failures - 1, 0), cap)
    return float(max(floor, doubled) * spread(1 - JITTER, 1 + JITTER))
