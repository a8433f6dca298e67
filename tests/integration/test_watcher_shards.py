"""Watcher processes share the clusters through Redis: balanced, spread when one is added, taken
over when one dies or leaves; and what each says about its clusters is believed only while it
holds them."""

from __future__ import annotations

import pytest

from fleetsync.shared.store import Store
from fleetsync.shared.store.watchers import NO_WATCHER, DriftDetection
from tests.support.waiting import wait_for

CLUSTERS = [f"c{i:02d}" for i in range(10)]


@pytest.fixture
def store(redis_url: str) -> Store:
    return Store.connect(redis_url)


def beat_all(
    store: Store, watchers: list[str], clusters: list[str], ttl: float = 30.0
) -> dict[str, list[str]]:
    """Two rounds of beats (a newcomer takes what others gave back in the round before)."""
    owned: dict[str, list[str]] = {}
    for _ in range(2):
        for w in watchers:
            owned[w] = store.balance_watchers(w, clusters, ttl=ttl)
    return owned


def test_one_watcher_takes_every_cluster_and_a_second_one_gets_half(store: Store) -> None:
    assert beat_all(store, ["a"], CLUSTERS) == {"a": CLUSTERS}
    owned = beat_all(store, ["a", "b"], CLUSTERS)
    assert sorted(owned["a"] + owned["b"]) == CLUSTERS
    assert (len(owned["a"]), len(owned["b"])) == (5, 5)
    owned = beat_all(store, ["a", "b", "c"], CLUSTERS)
    assert sorted(owned["a"] + owned["b"] + owned["c"]) == CLUSTERS
    assert sorted(len(v) for v in owned.values()) == [3, 3, 4]
    assert store.watch_owners() == {c: w for w, cs in owned.items() for c in cs}


def test_a_dead_watchers_clusters_are_taken_over_once_its_beat_lapses(store: Store) -> None:
    owned = beat_all(store, ["a", "b"], CLUSTERS, ttl=30.0)
    store.balance_watchers("dying", CLUSTERS, ttl=0.3)
    # "dying" never beats again: once its entry lapsed, a and b share everything.

    def shared_by_two() -> dict[str, list[str]] | None:
        owned = beat_all(store, ["a", "b"], CLUSTERS)
        return owned if sorted(owned["a"] + owned["b"]) == CLUSTERS else None

    owned = wait_for(shared_by_two, what="the dead watcher's clusters taken over")
    assert (len(owned["a"]), len(owned["b"])) == (5, 5)
    assert "dying" not in store.live_watchers()


def test_a_watcher_that_leaves_gives_its_clusters_back_at_once(store: Store) -> None:
    owned = beat_all(store, ["a", "b"], CLUSTERS)
    store.leave_watchers("b")
    assert store.balance_watchers("a", CLUSTERS, ttl=30) == CLUSTERS
    assert set(store.watch_owners().values()) == {"a"}
    assert owned["b"]


def test_clusters_removed_from_the_fleet_are_forgotten(store: Store) -> None:
    beat_all(store, ["a"], CLUSTERS)
    store.set_drift_detection("c09", DriftDetection("watching", "", "a"))
    assert store.balance_watchers("a", CLUSTERS[:3], ttl=30) == CLUSTERS[:3]
    assert sorted(store.watch_owners()) == CLUSTERS[:3]
    assert store.client.hkeys("fleetsync:watch:state") == []


def test_a_clusters_state_is_believed_only_from_its_live_owner(store: Store) -> None:
    beat_all(store, ["a"], CLUSTERS[:2])
    store.set_drift_detection("c00", DriftDetection("watching", "", "a"))
    store.set_drift_detection("c01", DriftDetection("interval", "watches refused: 403", "a"))
    found = store.drift_detection(["c00", "c01", "c09"])
    assert found["c00"].describe() == "watching"
    assert found["c01"].describe() == "interval checks only: watches refused: 403"
    assert found["c09"] is NO_WATCHER
    store.leave_watchers("a")
    assert store.drift_detection(["c00"])["c00"] is NO_WATCHER
