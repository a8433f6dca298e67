"""Apply-side tasks: reconcile one application on one cluster, follow its health until it
settles, and remove an application from a cluster it no longer targets (when asked to).

One reconcile per (application, cluster) runs at a time: it holds the pair's lease (renewed while
it runs, free within seconds of its worker's death). A reconcile or removal that finds the lease
held queues itself again with a short countdown instead of waiting; a health check steps aside.
So does a task whose cluster already has `FLEETSYNC_CLUSTER_THREADS` of this worker's threads
(`bulkhead.py`): a hanging cluster never holds every thread.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.reconcile import (
    HEALTH_CHECK_DEADLINE,
    Outcome,
    pair_lock,
    reconcile_pair,
    refresh_health,
    remove_pair,
)
from fleetsync.shared.reconcile_batch import reconcile_on_cluster
from fleetsync.shared.store import (
    ClosingWrites,
    PairOpening,
    Reply,
    Round,
    Store,
    open_pair,
    open_pairs,
)
from fleetsync.shared.tasking import (
    Job,
    Priority,
    TaskName,
    busy_countdown,
    fleet_task,
    stronger,
)
from fleetsync.workers.app import app
from fleetsync.workers.runtime import runtime

log = logging.getLogger(__name__)

_RESULT = {
    SyncState.SYNCED: "synced",
    SyncState.OUT_OF_SYNC: "out_of_sync",
    SyncState.UNKNOWN: "unknown",
}
HEALTH_INTERVAL_MAX = 30.0


@dataclass(slots=True)
class _Opened:
    """A reconcile's opening: a place among its cluster's threads (the bulkhead) and, with
    it, the pair's lease and reads (`pair`); None when the cluster has no place free."""

    cluster: str
    pair: PairOpening | None

    def cancel(self, rnd: Round) -> None:
        if self.pair is not None:
            self.pair.cancel(rnd)
            runtime().bulkhead.leave(self.cluster)


def _open_pair(store: Store, rnd: Round, kwargs: Mapping[str, Any]) -> _Opened:
    """The reconcile's part of its opening round: the pair's lease and everything it reads,
    once one of the cluster's places in this worker is taken."""
    app, cluster = str(kwargs["app"]), str(kwargs["cluster"])
    if not runtime().bulkhead.enter(cluster):
        return _Opened(cluster, None)
    return _Opened(cluster, open_pair(store, rnd, app, cluster, lease=pair_lock(app, cluster)))


@fleet_task(app, TaskName.RECONCILE, runtime=runtime, opening=_open_pair)
def reconcile(
    job: Job,
    app: str,
    cluster: str,
    reason: str = Trigger.CHANGE.value,
    retry: bool = False,
    mirror: bool = False,
) -> dict[str, object]:
    """`retry` and `mirror` only choose the message's coalescing key (`TaskName.ids`)."""
    trigger = Trigger.of(reason)
    opened: _Opened = job.opened
    if opened.pair is None:
        job.sender.reconcile(
            app, cluster, reason=trigger, countdown=busy_countdown(), priority=Priority.of(trigger)
        )
        return {"result": "requeued", "why": f"{cluster}'s threads in this worker are all busy"}
    try:
        return _reconcile(job, opened.pair, trigger)
    finally:
        runtime().bulkhead.leave(cluster)


def _reconcile(job: Job, opened: PairOpening, trigger: Trigger) -> dict[str, object]:
    app, cluster = opened.app, opened.cluster
    lease = opened.lease
    if lease is None:
        job.sender.reconcile(
            app, cluster, reason=trigger, countdown=busy_countdown(), priority=Priority.of(trigger)
        )
        return {"result": "requeued", "why": "another run holds the pair"}
    view = opened.view()
    with job.store.holding(lease):
        outcome = reconcile_pair(
            view,
            job.fleet,
            AppName(app),
            ClusterName(cluster),
            trigger=trigger,
            cache_dir=job.settings.kube_cache_dir,
        )
    view.release(lease)
    report = _report(view, outcome, trigger)
    assert job.closing is not None
    closing = ClosingWrites()
    view.write_into(closing)
    closing.write_into(job.closing)
    _follow(job, app, cluster, trigger, outcome)
    return report


def _report(
    store: Store, outcome: Outcome, trigger: Trigger, *, batch: Counter[str] | None = None
) -> dict[str, object]:
    """Count the reconcile by result and log its one summary line; the task's outcome. A pair
    of a per-cluster batch counts into `batch` (the batch writes the sums, one command per
    counter) and, when it synced, logs its line at DEBUG: the batch's own line counts it."""
    s = outcome.status
    if s is None:
        return {"result": "skipped", "why": "no longer declared"}
    result = "failed" if outcome.retry_in is not None else _RESULT[s.sync]
    if batch is None:
        store.incr_stat(f"reconcile_{result}")
        store.incr_stat(f"reconcile_ms_{result}", int(s.duration * 1000))
    else:
        batch[f"reconcile_{result}"] += 1
        batch[f"reconcile_ms_{result}"] += int(s.duration * 1000)
    quiet = batch is not None and result == "synced"
    log.log(
        logging.DEBUG if quiet else logging.INFO,
        "reconcile (%s): %s, %s, %s: %s",
        trigger.label,
        s.sync.value,
        s.health.value,
        s.revision or "-",
        s.message,
    )
    return {
        "result": result,
        "sync": s.sync.value,
        "health": s.health.value,
        "revision": str(s.revision) if s.revision else None,
        "counts": {action: n for action, n in s.counts.items() if n},
        **({"retry_in": round(outcome.retry_in, 1)} if outcome.retry_in is not None else {}),
    }


@fleet_task(app, TaskName.CHECK_HEALTH, runtime=runtime)
def check_health(job: Job, app: str, cluster: str, attempt: int = 1) -> dict[str, object]:
    with runtime().bulkhead.place(cluster) as placed:
        if not placed:
            job.sender.check_health(app, cluster, attempt=attempt, countdown=busy_countdown())
            return {"result": "requeued", "why": f"{cluster}'s threads are all busy"}
        health = refresh_health(
            job.store,
            job.fleet,
            AppName(app),
            ClusterName(cluster),
            cache_dir=job.settings.kube_cache_dir,
        )
    delay = min(float(attempt), HEALTH_INTERVAL_MAX)
    waited = sum(min(float(n), HEALTH_INTERVAL_MAX) for n in range(1, attempt + 1))
    if health in (Health.PROGRESSING, Health.MISSING) and waited < HEALTH_CHECK_DEADLINE:
        job.sender.check_health(app, cluster, attempt=attempt + 1, countdown=delay)
    log.info("health (check %d): %s", attempt, health)
    return {"health": health.value if health else None, "attempt": attempt}


@fleet_task(app, TaskName.PRUNE_REMOVED, runtime=runtime)
def prune_removed(job: Job, app: str, cluster: str) -> dict[str, object]:
    with (
        job.store.lease(pair_lock(app, cluster)) as lease,
        runtime().bulkhead.place(cluster) as placed,
    ):
        if lease is None or not placed:
            job.sender.prune_removed(app, cluster, countdown=busy_countdown())
            return {"result": "requeued", "why": "another run holds the pair, or the cluster"}
        outcome = remove_pair(
            job.store,
            job.fleet,
            AppName(app),
            ClusterName(cluster),
            cache_dir=job.settings.kube_cache_dir,
        )
    left = outcome.status
    if outcome.retry_in is not None:
        job.sender.prune_removed(app, cluster, countdown=outcome.retry_in)
        return {"result": "failed", "retry_in": round(outcome.retry_in, 1)}
    if left is None:
        return {"result": "removed"}
    return {"result": _RESULT[left.sync], "counts": {a: n for a, n in left.counts.items() if n}}


@dataclass(slots=True)
class _OpenedBatch:
    """A per-cluster task's opening: one of the cluster's places, and each pair's lease and
    reads (None when the cluster has no place free)."""

    cluster: str
    pairs: list[PairOpening] | None
    marked: dict[str, Reply[str | None]] = field(default_factory=dict)
    """The reason each pair's coalescing mark held: one stronger than the batch's goes to a
    reconcile of its own (see `Sender.started_in`)."""

    def cancel(self, rnd: Round) -> None:
        if self.pairs is not None:
            for opening in self.pairs:
                opening.cancel(rnd)
            runtime().bulkhead.leave(self.cluster)


def _open_batch(store: Store, rnd: Round, kwargs: Mapping[str, Any]) -> _OpenedBatch:
    """Every pair's coalescing mark cleared, lease and reads, in the task's opening round."""
    cluster, apps = str(kwargs["cluster"]), [str(a) for a in kwargs["apps"]]
    marked = runtime().sender.clear_pair_marks_in(rnd, cluster, apps)
    if not runtime().bulkhead.enter(cluster):
        return _OpenedBatch(cluster, None, marked)
    return _OpenedBatch(
        cluster,
        open_pairs(store, rnd, apps, cluster, leases=[pair_lock(a, cluster) for a in apps]),
        marked,
    )


@fleet_task(app, TaskName.RECONCILE_CLUSTER, runtime=runtime, opening=_open_batch)
def reconcile_cluster(
    job: Job, cluster: str, apps: list[str], reason: str = Trigger.CHANGE.value
) -> dict[str, object]:
    """Reconcile many applications on one cluster (a commit changed them all): each pair under
    its own lease, with its own status and history, the cluster's reads shared."""
    trigger = Trigger.of(reason)
    opened: _OpenedBatch = job.opened
    if opened.pairs is None:
        job.sender.reconcile_on_cluster(
            cluster, apps, reason=trigger, priority=Priority.of(trigger)
        )
        return {"result": "requeued", "why": f"{cluster}'s threads in this worker are all busy"}
    pairs = []
    assert job.closing is not None
    for pair in opened.pairs:
        marked = opened.marked[pair.app].value
        own = stronger(trigger.value, marked)
        if own is trigger:
            pairs.append(pair)
            continue
        pair.cancel(job.closing)  # its lease, released with the batch's writes
        job.after.append(partial(_reconcile_alone, job, pair.app, cluster, own))
    try:
        return _reconcile_batch(job, pairs, cluster, trigger)
    finally:
        runtime().bulkhead.leave(cluster)


def _reconcile_alone(job: Job, app: str, cluster: str, trigger: Trigger) -> None:
    job.sender.reconcile(app, cluster, reason=trigger, priority=Priority.of(trigger))


def _reconcile_batch(
    job: Job, pairs: list[PairOpening], cluster: str, trigger: Trigger
) -> dict[str, object]:
    held = [(p, lease) for p in pairs if (lease := p.lease) is not None]
    for busy in (p for p in pairs if p.lease is None):
        job.sender.reconcile(
            busy.app,
            cluster,
            reason=trigger,
            countdown=busy_countdown(),
            priority=Priority.of(trigger),
        )
    views = [p.view() for p, _ in held]
    with ExitStack() as leases:
        for _, lease in held:
            leases.enter_context(job.store.holding(lease))
        outcomes = reconcile_on_cluster(
            views,
            job.fleet,
            ClusterName(cluster),
            trigger=trigger,
            cache_dir=job.settings.kube_cache_dir,
        )
    assert job.closing is not None
    results: dict[str, int] = {}
    counted: Counter[str] = Counter()
    closing = ClosingWrites()  # every pair's writes, merged where Redis can take them together
    for view, (_, lease), outcome in zip(views, held, outcomes, strict=True):
        view.release(lease)
        result = str(_report(view, outcome, trigger, batch=counted)["result"])
        results[result] = results.get(result, 0) + 1
        view.write_into(closing)
        _follow(job, view.pair[0], cluster, trigger, outcome)
    closing.write_into(job.closing)
    for name, amount in counted.items():
        job.store.queue_stat(job.closing, name, amount)
    requeued = len(pairs) - len(views)
    log.info(
        "reconcile of %d applications (%s): %s%s",
        len(views),
        trigger.label,
        ", ".join(f"{n} {result}" for result, n in sorted(results.items())) or "none held",
        f"; {requeued} busy, queued again" if requeued else "",
    )
    return {"result": "batch", "pairs": len(views), "requeued": requeued, **results}


def _follow(job: Job, app: str, cluster: str, trigger: Trigger, outcome: Outcome) -> None:
    """What comes after a pair's reconcile, sent once its writes are: a retry, a continuation,
    a health follow-up."""
    again = outcome.retry_in if outcome.retry_in is not None else outcome.continue_in
    if again is not None:
        job.after.append(
            lambda: job.sender.retry_reconcile(app, cluster, reason=trigger, countdown=again)
        )
    if outcome.follow_health:
        job.after.append(lambda: job.sender.check_health(app, cluster, attempt=1, countdown=1.0))
