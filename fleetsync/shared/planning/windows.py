"""Change windows and the freeze: whether an (application, cluster) pair may change now, and if
not, why, until when, and whether a manual sync or self-heal may still apply.

A deny window is open from each time its schedule fires for its duration; while one that applies
to a pair is open, the pair's automated syncs and rollout steps wait. When allow windows apply to
a pair, its changes wait while none of them is open. The freeze is an operator's fleet-wide deny
window with no end. Drift is detected and reported whatever the windows say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fleetsync.shared.model.declaration import Window, WindowKind
from fleetsync.shared.planning.cron import next_fire, parse_cron, previous_fire, zone

CHAIN_LIMIT = 1000
"""Overlapping openings followed to find when a window closes."""
CHAIN_HORIZON = 31 * 86400.0
"""A window whose openings overlap for longer than this is open at least that long: its end is
given as this far away (and looked at again before then)."""


@dataclass(frozen=True, slots=True)
class Freeze:
    """`fleetsync freeze`: every automated change waits until `fleetsync unfreeze`."""

    reason: str
    at: float
    manual_sync: bool = False


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a pair may not change now."""

    reason: str
    until: float | None
    """When the hold ends at the latest, as far as the schedules tell (None: not known, as
    for a freeze)."""
    manual_sync: bool
    """Whether `fleetsync sync` may still apply."""
    self_heal: bool
    """Whether drift may still be corrected."""


def open_until(window: Window, at: float) -> float | None:
    """When `window` closes if it is open at `at`; None when it is closed."""
    cron, tz = parse_cron(window.schedule), zone(window.timezone)
    fired = previous_fire(cron, at, tz)
    if fired is None or at >= fired + window.duration:
        return None
    end = fired + window.duration
    following = next_fire(cron, fired, tz)
    for _ in range(CHAIN_LIMIT):
        if following is None or following > end or end > at + CHAIN_HORIZON:
            break
        end = max(end, following + window.duration)
        following = next_fire(cron, following, tz)
    return end


def opens_at(window: Window, at: float) -> float | None:
    """When `window` next opens after `at` (None: never, as far as the search goes)."""
    return next_fire(parse_cron(window.schedule), at, zone(window.timezone))


def hold_for(
    windows: Sequence[Window],
    freeze: Freeze | None,
    app: str,
    labels: Mapping[str, str],
    at: float,
) -> Hold | None:
    """Why the pair (`app`, a cluster with `labels`) may not change at `at`, or None."""
    if freeze is not None:
        why = f"the fleet is frozen since {stamp(freeze.at)}"
        reason = f"{why}: {freeze.reason}" if freeze.reason else why
        return Hold(reason, None, freeze.manual_sync, False)
    applying = [w for w in windows if w.applies_to(app, labels)]
    denies = [w for w in applying if w.kind is WindowKind.DENY]
    open_denies = [(w, u) for w in denies if (u := open_until(w, at)) is not None]
    if open_denies:
        until = max(u for _, u in open_denies)
        names = ", ".join(f"'{w.name}'" for w, _ in open_denies)
        return Hold(
            f"deny window {names} is open until {stamp(until)}",
            until,
            all(w.manual_sync for w, _ in open_denies),
            all(w.self_heal for w, _ in open_denies),
        )
    allows = [w for w in applying if w.kind is WindowKind.ALLOW]
    if not allows or any(open_until(w, at) for w in allows):
        return None
    openings = [t for t in (opens_at(w, at) for w in allows) if t is not None]
    opening = min(openings) if openings else None
    names = ", ".join(f"'{w.name}'" for w in allows)
    when = f"; the next opens {stamp(opening)}" if opening else ""
    return Hold(
        f"outside the allow window {names}{when}",
        opening,
        any(w.manual_sync for w in allows),
        any(w.self_heal for w in allows),
    )


def stamp(at: float) -> str:
    """A moment for people: `2026-06-05 18:00 UTC`."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
