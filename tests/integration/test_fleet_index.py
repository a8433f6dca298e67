"""The fleet in memory: every pair's cell loaded once, then only what the store's feed says
changed; a trimmed or reset feed reloads everything. Real Redis."""

from __future__ import annotations

import hashlib
import json
import time

from fleetsync.scheduler.fleet_index import FleetIndex
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, Repository, Targets
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Store
from fleetsync.shared.store.watchers import DriftDetection
from tests.support.waiting import wait_for


def fleet() -> Fleet:
    repo = Repository(RepoName("r"), "https://git.example.com/r.git")
    clusters = [Cluster(ClusterName(c), "/k") for c in ("c1", "c2")]
    apps = [
        Application(
            AppName(a),
            repo.name,
            a,
            targets=Targets(clusters=(ClusterName("c1"), ClusterName("c2"))),
        )
        for a in ("a", "b")
    ]
    return Fleet({repo.name: repo}, {c.name: c for c in clusters}, {a.name: a for a in apps})


def record(store: Store, app: str, cluster: str, health: Health) -> None:
    store.record_status(
        PairStatus(app, cluster, SyncState.SYNCED, health, revision="main@sha1:" + "a" * 40, at=1.0)
    )


def test_the_index_follows_status_writes_and_forgotten_pairs(redis_url: str) -> None:
    store = Store.connect(redis_url)
    declared = fleet()
    store.publish_fleet(
        declared, hashlib.sha256(json.dumps(declared.to_json()).encode()).hexdigest()
    )
    record(store, "a", "c1", Health.HEALTHY)
    index = FleetIndex(store)
    first = index.snapshot(declared)
    assert first.cell("a", "c1")[:2] == ("Synced", "Healthy")
    assert first.cell("b", "c2")[:2] == ("Unknown", "Unknown")

    record(store, "a", "c1", Health.DEGRADED)
    record(store, "b", "c2", Health.PROGRESSING)
    second = index.snapshot(declared)
    assert second.position != first.position
    assert second.cell("a", "c1")[1] == "Degraded" and second.cell("b", "c2")[1] == "Progressing"
    assert first.cell("a", "c1")[1] == "Healthy"  # a snapshot never changes under its reader

    store.forget_pair("b", "c2")
    assert index.snapshot(declared).cell("b", "c2")[:2] == ("Unknown", "Unknown")
    assert index.snapshot(declared).position == index.snapshot(declared).position


def test_a_reset_or_trimmed_feed_reloads_every_cell(redis_url: str) -> None:
    store = Store.connect(redis_url)
    declared = fleet()
    record(store, "a", "c1", Health.HEALTHY)
    index = FleetIndex(store)
    seen = index.snapshot(declared).position
    # A reset is told by the feed's ids going back or starting over, which needs the clock to
    # have left the millisecond of the last entry read.
    wait_for(lambda: time.time() * 1000 > int(seen.split("-")[0]) + 1, what="the next ms")
    store.client.flushall()
    record(store, "a", "c2", Health.DEGRADED)
    after_reset = index.snapshot(declared)
    assert after_reset.cell("a", "c1")[:2] == ("Unknown", "Unknown")
    assert after_reset.cell("a", "c2")[1] == "Degraded"

    for _ in range(10):
        record(store, "b", "c1", Health.HEALTHY)
    store.client.xtrim(store.key("changes"), maxlen=3, approximate=False)  # as FEED_LENGTH does
    store.client.hset(store.key("cells", "a"), "c1", '["OutOfSync","Missing","",2.0,"x"]')
    # Written without a feed entry: only a reload (the feed was trimmed past the index) sees it.
    read = store.read_feed(after_reset.position)
    assert not read.complete
    assert index.snapshot(declared).cell("a", "c1")[:2] == ("OutOfSync", "Missing")


def test_a_status_not_refreshed_in_time_reads_unknown_and_moves_the_counts(redis_url: str) -> None:
    store = Store.connect(redis_url)
    declared = fleet()
    soon = time.time() + 0.5
    store.record_status(
        PairStatus("a", "c1", SyncState.SYNCED, Health.HEALTHY, at=time.time(), stale_after=soon)
    )
    store.record_status(
        PairStatus("a", "c2", SyncState.SYNCED, Health.HEALTHY, at=1.0, stale_after=time.time() - 1)
    )
    index = FleetIndex(store)
    first = index.snapshot(declared)
    assert first.cell("a", "c1")[:2] == ("Synced", "Healthy")
    assert first.cell("a", "c2")[:2] == ("Unknown", "Unknown")
    assert "stale" in first.cell("a", "c2")[4]
    assert first.app_tally["a"][("Synced", "Healthy")] == 1

    wait_for(lambda: time.time() > soon, what="the first status's time to pass")
    later = index.snapshot(declared)
    assert later.cell("a", "c1")[:2] == ("Unknown", "Unknown")
    assert later.app_tally["a"][("Synced", "Healthy")] == 0
    assert later.app_tally["a"][("Unknown", "Unknown")] == 2
    assert later.cluster_tally["c1"] == {("Synced", "Healthy"): 0, ("Unknown", "Unknown"): 2}


def watched_status(app: str, cluster: str, *, until: float) -> PairStatus:
    """Written under live watches: past its unwatched time, current until `until` if watched."""
    now = time.time()
    return PairStatus(
        app,
        cluster,
        SyncState.SYNCED,
        Health.HEALTHY,
        at=now - 400,
        stale_after=now - 1,
        watched_until=until,
    )


def shown(store: Store, index: FleetIndex, app: str, cluster: str) -> list[tuple[str, str]]:
    """(sync, health) of the pair as each reader shows it: the index, the statuses read in
    bulk, the status read alone."""
    cell = index.snapshot(fleet()).cell(app, cluster)
    [bulk] = store.statuses_of([(app, cluster)])
    alone = store.status(app, cluster)
    assert bulk is not None and alone is not None
    return [cell[:2], (bulk.sync.value, bulk.health.value), (alone.sync.value, alone.health.value)]


def test_a_status_written_under_watches_stays_current_only_while_a_live_watch_covers_it(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    assert store.balance_watchers("w1", ["c1", "c2"], ttl=60) == ["c1", "c2"]
    store.set_drift_detection("c1", DriftDetection(mode="watching", watcher="w1"))
    store.set_drift_detection("c2", DriftDetection(mode="watching", watcher="w1", uncovered=("b",)))
    hour = time.time() + 3600
    store.record_status(watched_status("a", "c1", until=hour))
    store.record_status(watched_status("a", "c2", until=hour))
    store.record_status(watched_status("b", "c2", until=hour))  # b's kinds unwatched on c2
    soon = time.time() + 0.5
    store.record_status(watched_status("b", "c1", until=soon))
    index = FleetIndex(store, watch_recheck=0)
    synced = ("Synced", "Healthy")
    assert shown(store, index, "a", "c1") == [synced] * 3
    assert shown(store, index, "a", "c2") == [synced] * 3
    assert shown(store, index, "b", "c2") == [("Unknown", "Unknown")] * 3
    assert shown(store, index, "b", "c1") == [synced] * 3
    # Past its backstop's time, a status is stale even though the watch still covers it.
    wait_for(lambda: time.time() > soon, what="b on c1's backstop time to pass")
    assert shown(store, index, "b", "c1") == [("Unknown", "Unknown")] * 3
    assert index.snapshot(fleet()).app_tally["a"][synced] == 2

    store.leave_watchers("w1")  # the watcher is gone (and nothing checked the pairs since)
    assert shown(store, index, "a", "c1") == [("Unknown", "Unknown")] * 3
    later = index.snapshot(fleet())
    assert (later.app_tally["a"][synced], later.app_tally["a"][("Unknown", "Unknown")]) == (0, 2)
    assert "no live watch covers it" in later.cell("a", "c2")[4]
    alone = store.status("a", "c2")
    assert alone is not None and alone.stale
    assert alone.message.startswith("stale: last checked 6m ago, and no live watch covers it")
