"""The beat process: `celery -A fleetsync.scheduler.beat beat`.

Celery beat drives one short tick (`FleetScheduler.tick`) instead of one entry per repository:
the schedules live in Redis due-sets. Exactly one beat is active: each tick first takes or renews
a lease in Redis, so a second beat process stays idle instead of double-emitting, and takes over
within a lease period if the first one dies.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

from celery.beat import Scheduler

from fleetsync.scheduler.tick import Ticker
from fleetsync.shared.settings import Settings, load_settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender, make_celery

log = logging.getLogger(__name__)

LEASE_NAME = "beat"


class FleetScheduler(Scheduler):  # type: ignore[misc]
    """A Celery beat scheduler whose every tick is fleetsync's tick, under a leader lease."""

    fleetsync_settings: Settings | None = None

    def setup_schedule(self) -> None:
        settings = self.fleetsync_settings or load_settings()
        self._settings = settings
        self._store = Store.connect(settings.redis_url, prefix=settings.key_prefix)
        self._ticker = Ticker(self._store, Sender(self.app, self._store), settings.fleet_file)
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._leading = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = self._settings.tick_seconds
        leading = self._store.hold_lease(LEASE_NAME, self._holder, ttl=max(3 * interval, 10.0))
        if leading != self._leading:
            log.warning("beat %s is %s", self._holder, "active" if leading else "standing by")
            self._leading = leading
        if leading:
            try:
                report = self._ticker.tick()
                if report.polls or report.drift_checks:
                    log.info(
                        "tick: %d polls, %d drift checks",
                        len(report.polls),
                        len(report.drift_checks),
                    )
            except Exception:
                log.exception("tick failed; the next tick retries")
        return interval

    @property
    def info(self) -> str:
        return "fleetsync due-sets in Redis (leader lease)"

    def sync(self) -> None:
        """Nothing to persist: the schedule lives in Redis."""

    def close(self) -> None:
        """Nothing to close beyond the Redis pool, which closes with the process."""


app = make_celery(load_settings(), main="fleetsync.scheduler")
app.conf.beat_scheduler = "fleetsync.scheduler.beat:FleetScheduler"
