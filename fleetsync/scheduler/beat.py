"""The beat process: `celery -A fleetsync.scheduler.beat beat`.

Celery beat drives one short tick (`FleetScheduler.tick`) instead of one entry per repository:
the schedules live in Redis due-sets. Exactly one beat is active: each tick first takes or renews
a lease in Redis, so a second beat process stays idle instead of double-emitting, and takes over
within a lease period if the first one dies.

A tick never ends the process. While Redis cannot be reached (restarting, failing over, cut
off) the beat stands by, says so once, and tries again with growing pauses (up to
`MAX_RETRY_SECONDS`); when Redis answers again it takes the lease back (if no other beat did)
and resumes where the due-sets say.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from typing import Any

from celery.beat import Scheduler

from fleetsync.scheduler.tick import Ticker
from fleetsync.shared.open_files import raise_open_files_limit
from fleetsync.shared.settings import Settings, load_settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import BROKER_UNAVAILABLE, Sender, make_celery
from fleetsync.shared.urls import display_url

log = logging.getLogger(__name__)

LEASE_NAME = "beat"
MAX_RETRY_SECONDS = 10.0


def lease_seconds(tick_seconds: float) -> float:
    """How long a beat's lease lasts unrenewed: a standby takes over this long after the
    active beat died."""
    return max(3 * tick_seconds, 10.0)


class FleetScheduler(Scheduler):  # type: ignore[misc]
    """A Celery beat scheduler whose every tick is fleetsync's tick, under a leader lease."""

    fleetsync_settings: Settings | None = None

    def setup_schedule(self) -> None:
        settings = self.fleetsync_settings or load_settings()
        self._settings = settings
        self._store = Store.connect(settings.redis_url, prefix=settings.key_prefix)
        self._ticker = Ticker(
            self._store, Sender(self.app, self._store), settings.fleet_file, background=True
        )
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._leading = False
        self._away_since: float | None = None
        self._retry_in = settings.tick_seconds

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One tick; returns the seconds until the next. Never raises: Celery's beat loop
        would end the process."""
        interval = self._settings.tick_seconds
        try:
            leading = self._store.hold_lease(LEASE_NAME, self._holder, ttl=lease_seconds(interval))
            self._redis_back()
            self._lead(leading)
            if leading:
                report = self._ticker.tick()
                if report.polls or report.drift_checks:
                    log.info(
                        "tick: %d polls, %d drift checks",
                        len(report.polls),
                        len(report.drift_checks),
                    )
        except BROKER_UNAVAILABLE as exc:
            return self._redis_away(exc)
        except Exception:
            log.exception("tick failed; the next tick retries")
        return interval

    def _lead(self, leading: bool) -> None:
        if leading != self._leading:
            log.warning("beat %s is %s", self._holder, "active" if leading else "standing by")
            self._leading = leading

    def _redis_away(self, exc: BaseException) -> float:
        """Stand by while Redis is away; the pause before the next try grows to a bound."""
        if self._away_since is None:
            self._away_since = time.monotonic()
            self._retry_in = self._settings.tick_seconds
            log.warning(
                "cannot reach Redis at %s: %s: %s; standing by, retrying with backoff",
                display_url(self._settings.redis_url),
                type(exc).__name__,
                exc,
            )
        else:
            self._retry_in = min(self._retry_in * 2, MAX_RETRY_SECONDS)
        self._lead(False)
        return self._retry_in

    def _redis_back(self) -> None:
        if self._away_since is not None:
            log.warning(
                "Redis at %s answers again after %.1fs; resuming",
                display_url(self._settings.redis_url),
                time.monotonic() - self._away_since,
            )
            self._away_since = None

    @property
    def info(self) -> str:
        return "fleetsync due-sets in Redis (leader lease)"

    def sync(self) -> None:
        """Nothing to persist: the schedule lives in Redis."""

    def close(self) -> None:
        """A beat that stops gives its lease up, so a standby (or its own successor after a
        restart) takes over at its next tick instead of when the lease expires."""
        if getattr(self, "_leading", False):
            with contextlib.suppress(*BROKER_UNAVAILABLE):
                self._store.give_up_lease(LEASE_NAME, self._holder)
            self._leading = False


raise_open_files_limit()
app = make_celery(load_settings(), main="fleetsync.scheduler")
app.conf.beat_scheduler = "fleetsync.scheduler.beat:FleetScheduler"
