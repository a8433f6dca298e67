"""/metrics: Prometheus metrics read from the store at scrape time, so the API keeps no counters
of its own and any API process reports the same numbers.

Counters come from the store's event counts (`store.stats()`), which are cumulative in Redis;
gauges describe the current state (pairs and applications by sync and health, repositories in
error, queue depths). Reconcile counts and durations by result appear once the apply side counts
`reconcile_<result>` and `reconcile_ms_<result>` events; until then those families are empty.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from itertools import product

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from fleetsync.scheduler.views import aggregate_sync, target_statuses
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Store

log = logging.getLogger(__name__)

QueueDepths = Callable[[], Mapping[str, int]]

STAT_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("ls_remote", "fleetsync_git_ls_remote", "Repository polls that ran git ls-remote."),
    ("fetch", "fleetsync_git_fetches", "Mirror fetches after a repository's sha moved."),
    (
        "repo_error_transient",
        "fleetsync_repository_errors_transient",
        "Failed polls or fetches that will be retried (unreachable, timeouts, 5xx).",
    ),
    (
        "repo_error_permanent",
        "fleetsync_repository_errors_permanent",
        "Failed polls or fetches that need a fix (unknown ref, refused credentials).",
    ),
)
"""(stats key, metric name, help) for plain event counters."""

NOTIFY_RESULTS = ("events", "delivered", "retry", "deferred", "dropped")
"""`notify_<result>` event counts: events made by the beat, deliveries by outcome."""

RECONCILE_COUNT_PREFIX = "reconcile_"
RECONCILE_MS_PREFIX = "reconcile_ms_"


class StoreCollector(Collector):
    def __init__(self, store: Store, queue_depths: QueueDepths | None = None) -> None:
        self._store = store
        self._queue_depths = queue_depths

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: describing would mean reading Redis at registration."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("fleetsync_store_up", "1 when the store answered this scrape.")
        try:
            families = list(self._families())
        except Exception as exc:
            log.warning("metrics: reading the store failed: %s: %s", type(exc).__name__, exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        stats = self._store.stats()
        yield from stat_counters(stats)
        yield from reconcile_results(stats)
        fleet = self._store.load_fleet()
        published = GaugeMetricFamily(
            "fleetsync_fleet_published", "1 when a fleet declaration is published."
        )
        published.add_metric([], 1 if fleet is not None else 0)
        yield published
        refused = GaugeMetricFamily(
            "fleetsync_fleet_error", "1 when the latest fleet.yaml edit was refused."
        )
        refused.add_metric([], 1 if self._store.fleet_error() else 0)
        yield refused
        if fleet is not None:
            statuses = {app: target_statuses(self._store, fleet, app) for app in fleet.applications}
            yield from state_gauges(statuses)
            yield from repository_gauges(self._store, fleet)
        if self._queue_depths is not None:
            depth = GaugeMetricFamily(
                "fleetsync_queue_depth", "Tasks waiting in a Celery queue.", labels=["queue"]
            )
            for queue, n in sorted(self._queue_depths().items()):
                depth.add_metric([queue], n)
            yield depth


def stat_counters(stats: Mapping[str, int]) -> Iterator[Metric]:
    for key, name, doc in STAT_COUNTERS:
        counter = CounterMetricFamily(name, doc)
        counter.add_metric([], stats.get(key, 0))
        yield counter
    lookups = CounterMetricFamily(
        "fleetsync_render_cache_lookups",
        "Render cache lookups: hit reuses a bundle, miss renders one.",
        labels=["result"],
    )
    lookups.add_metric(["hit"], stats.get("render_cache_hit", 0))
    lookups.add_metric(["miss"], stats.get("render", 0))
    yield lookups
    notices = CounterMetricFamily(
        "fleetsync_notifications",
        "Notifications: changes of state told (event), deliveries by how they ended.",
        labels=["result"],
    )
    for result in NOTIFY_RESULTS:
        notices.add_metric([result], stats.get(f"notify_{result}", 0))
    yield notices


def reconcile_results(stats: Mapping[str, int]) -> Iterator[Metric]:
    """Reconcile counts and durations by result from `reconcile_<result>` and
    `reconcile_ms_<result>` event counts."""
    counts: dict[str, int] = {}
    millis: dict[str, int] = {}
    for key, n in stats.items():
        if key.startswith(RECONCILE_MS_PREFIX):
            millis[key.removeprefix(RECONCILE_MS_PREFIX)] = n
        elif key.startswith(RECONCILE_COUNT_PREFIX):
            counts[key.removeprefix(RECONCILE_COUNT_PREFIX)] = n
    total = CounterMetricFamily(
        "fleetsync_reconciles", "Reconciles finished, by result.", labels=["result"]
    )
    duration = SummaryMetricFamily(
        "fleetsync_reconcile_duration_seconds",
        "Time spent in reconciles, by result.",
        labels=["result"],
    )
    for result in sorted(counts):
        total.add_metric([result], counts[result])
        if result in millis:
            duration.add_metric([result], counts[result], millis[result] / 1000)
    yield total
    yield duration


def state_gauges(statuses: Mapping[AppName, list[PairStatus]]) -> Iterator[Metric]:
    """Pairs and applications by sync and health (never-reconciled targets count as Unknown),
    and each pair's last reconcile duration."""
    pairs: Counter[tuple[SyncState, Health]] = Counter()
    apps: Counter[tuple[SyncState, Health]] = Counter()
    last = GaugeMetricFamily(
        "fleetsync_pair_last_reconcile_duration_seconds",
        "How long the pair's last reconcile took.",
        labels=["application", "cluster"],
    )
    for app, found in sorted(statuses.items()):
        pairs.update((s.sync, s.health) for s in found)
        apps[(aggregate_sync(s.sync for s in found), Health.worst(s.health for s in found))] += 1
        for s in found:
            if s.at:
                last.add_metric([app, s.cluster], s.duration)
    for name, doc, counted in (
        ("fleetsync_pairs", "Targeted (application, cluster) pairs by sync and health.", pairs),
        ("fleetsync_applications", "Applications by overall sync and worst health.", apps),
    ):
        family = GaugeMetricFamily(name, doc, labels=["sync", "health"])
        for sync, health in product(SyncState, Health):
            family.add_metric([sync.value, health.value], counted[(sync, health)])
        yield family
    yield last


def repository_gauges(store: Store, fleet: Fleet) -> Iterator[Metric]:
    failing = GaugeMetricFamily(
        "fleetsync_repository_poll_failures",
        "Failed polls or fetches in a row (0 when the last one succeeded).",
        labels=["repository"],
    )
    polled = GaugeMetricFamily(
        "fleetsync_repository_last_poll_timestamp_seconds",
        "When the repository was last polled successfully.",
        labels=["repository"],
    )
    for name in sorted(fleet.repositories):
        state = store.repo_state(name)
        failing.add_metric([name], state.failures if state.error else 0)
        if state.polled_at is not None:
            polled.add_metric([name], state.polled_at)
    yield failing
    yield polled


def metrics_registry(store: Store, queue_depths: QueueDepths | None) -> CollectorRegistry:
    """A registry of its own per app (never the process-global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, queue_depths))
    return registry
