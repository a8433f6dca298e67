"""Apply-side tasks: reconcile one application on one cluster, follow its health until it
settles, and remove an application from a cluster it no longer targets (when asked to).

One reconcile per (application, cluster) runs at a time (a Redis lock with expiry); a trigger
that arrives meanwhile queues one more run, which reads the newest desired state when it starts.
"""

from __future__ import annotations

import logging

from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.reconcile import (
    HEALTH_CHECK_DEADLINE,
    pair_lock,
    reconcile_pair,
    refresh_health,
    remove_pair,
)
from fleetsync.shared.tasking import Priority, TaskName, Trigger, define_task
from fleetsync.workers.app import app
from fleetsync.workers.runtime import runtime

log = logging.getLogger(__name__)

LOCK_SECONDS = 900.0
_RESULT = {
    SyncState.SYNCED: "synced",
    SyncState.OUT_OF_SYNC: "out_of_sync",
    SyncState.UNKNOWN: "unknown",
}
HEALTH_INTERVAL_MAX = 30.0


@define_task(app, TaskName.RECONCILE)
def reconcile(app: str, cluster: str, reason: str = Trigger.CHANGE.value) -> None:
    rt = runtime()
    rt.sender.started(TaskName.RECONCILE, app, cluster)
    fleet = rt.fleet()
    if fleet is None:
        return
    trigger = Trigger.of(reason)
    with rt.store.lock(pair_lock(app, cluster), ttl=LOCK_SECONDS):
        outcome = reconcile_pair(
            rt.store,
            fleet,
            AppName(app),
            ClusterName(cluster),
            trigger=trigger,
            cache_dir=rt.settings.kube_cache_dir,
        )
    if outcome.retry_in is not None:
        rt.sender.reconcile(
            app,
            cluster,
            reason=trigger,
            countdown=outcome.retry_in,
            priority=Priority.PERIODIC,
        )
    if outcome.follow_health:
        rt.sender.check_health(app, cluster, attempt=1, countdown=1.0)
    if outcome.status is not None:
        s = outcome.status
        result = "failed" if outcome.retry_in is not None else _RESULT[s.sync]
        rt.store.incr_stat(f"reconcile_{result}")
        rt.store.incr_stat(f"reconcile_ms_{result}", int(s.duration * 1000))
        log.info(
            "reconcile %s on %s (%s): %s, %s, %s: %s",
            app,
            cluster,
            trigger.value,
            s.sync.value,
            s.health.value,
            s.revision or "-",
            s.message,
        )


@define_task(app, TaskName.CHECK_HEALTH)
def check_health(app: str, cluster: str, attempt: int = 1) -> None:
    rt = runtime()
    fleet = rt.fleet()
    if fleet is None:
        return
    health = refresh_health(
        rt.store, fleet, AppName(app), ClusterName(cluster), cache_dir=rt.settings.kube_cache_dir
    )
    delay = min(float(attempt), HEALTH_INTERVAL_MAX)
    waited = sum(min(float(n), HEALTH_INTERVAL_MAX) for n in range(1, attempt + 1))
    if health in (Health.PROGRESSING, Health.MISSING) and waited < HEALTH_CHECK_DEADLINE:
        rt.sender.check_health(app, cluster, attempt=attempt + 1, countdown=delay)
    log.info("health %s on %s (check %d): %s", app, cluster, attempt, health)


@define_task(app, TaskName.PRUNE_REMOVED)
def prune_removed(app: str, cluster: str) -> None:
    rt = runtime()
    fleet = rt.fleet()
    if fleet is None:
        return
    with rt.store.lock(pair_lock(app, cluster), ttl=LOCK_SECONDS):
        remove_pair(
            rt.store,
            fleet,
            AppName(app),
            ClusterName(cluster),
            cache_dir=rt.settings.kube_cache_dir,
        )
