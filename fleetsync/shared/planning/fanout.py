"""How a commit's reconciles are sent: one task per pair, or one per cluster for many.

A commit that changes many applications on the same cluster (a fleet-wide change) is cheaper to
converge as one task per cluster (`reconcile_batch.py`): one task's overhead, one round trip to
read every pair, the cluster's reads shared. A cluster that only a few changed applications
target keeps one task per pair: they run in parallel on different threads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

BATCH_LIMIT = 50
"""The most applications one per-cluster task converges (a bound on its run time)."""


@dataclass(frozen=True, slots=True)
class Fanout:
    pairs: tuple[tuple[str, str], ...]
    """(application, cluster) sent one task each."""
    batches: tuple[tuple[str, tuple[str, ...]], ...]
    """(cluster, applications) sent one task each."""


def plan_fanout(
    pairs: Iterable[tuple[str, str]], *, batch_from: int, limit: int = BATCH_LIMIT
) -> Fanout:
    """Group the pairs of each cluster that has at least `batch_from` of them (0: never) into
    tasks of at most `limit` applications; the others stay one task each. Order is kept."""
    by_cluster: dict[str, list[str]] = defaultdict(list)
    order: list[tuple[str, str]] = []
    for app, cluster in pairs:
        by_cluster[cluster].append(app)
        order.append((app, cluster))
    batched = {c for c, apps in by_cluster.items() if batch_from and len(apps) >= batch_from}
    batches = tuple(
        (cluster, tuple(apps[i : i + limit]))
        for cluster, apps in by_cluster.items()
        if cluster in batched
        for i in range(0, len(apps), limit)
    )
    return Fanout(
        pairs=tuple(p for p in order if p[1] not in batched),
        batches=batches,
    )
