"""What a watcher says of a cluster's drift detection, as the beat and status read it."""

from __future__ import annotations

from fleetsync.shared.store.watchers import NO_WATCHER, DriftDetection, covered_by_watch


def test_a_watched_cluster_covers_its_pairs_except_those_with_a_kind_it_cannot_watch() -> None:
    found = DriftDetection("watching", "", "w1", uncovered=("db",))
    back = DriftDetection.from_json(found.to_json())
    assert back == found
    assert (back.covers("web"), back.covers("db")) == (True, False)
    assert back.describe() == "watching, but not every kind of db"
    assert back.describe_pair("web", "1h") == "watching (backstop check every 1h)"
    assert back.describe_pair("db", "5m") == (
        "interval checks only (every 5m): a kind of its inventory is not watched here"
    )
    assert not NO_WATCHER.covers("web")
    assert NO_WATCHER.describe_pair("web", "5m") == (
        "interval checks only (every 5m): no watcher process holds this cluster"
    )


def test_a_state_counts_only_from_the_live_owner_that_wrote_it() -> None:
    state = DriftDetection("watching", "", "w1").to_json()
    assert covered_by_watch([state.encode(), b"w1"], "web")
    assert not covered_by_watch([state.encode(), b"w2"], "web")  # written by a former owner
    assert not covered_by_watch(None, "web")  # no live owner
