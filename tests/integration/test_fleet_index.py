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
