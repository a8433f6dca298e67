"""Which desired state a pair runs: a rollback pin before the latest render, on real Redis."""

from __future__ import annotations

from fleetsync.shared.desired import (
    Because,
    desired_for_pair,
    desired_for_pairs,
    latest_for_pair,
)
from fleetsync.shared.model.desired import DesiredState, Pin, Variant
from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.store import Store

APP = AppName("shop")
CLUSTER = ClusterName("east")
OLD = Revision(ref="main", sha="a" * 40)
NEW = Revision(ref="main", sha="b" * 40)


def _render(store: Store, revision: Revision, digest: str) -> None:
    state = DesiredState(revision=revision, digest=Digest(digest), renderer="plain", rendered_at=1)
    store.set_desired(APP, state)


def test_nothing_is_desired_before_the_first_render(redis_url: str) -> None:
    store = Store.connect(redis_url)
    assert desired_for_pair(store, APP, CLUSTER) is None
    assert latest_for_pair(store, APP, CLUSTER) is None


def test_a_pair_runs_the_latest_render_of_what_git_declares(redis_url: str) -> None:
    store = Store.connect(redis_url)
    _render(store, OLD, "d1")
    _render(store, NEW, "d2")
    chosen = desired_for_pair(store, APP, CLUSTER)
    assert chosen is not None
    assert (chosen.revision, chosen.digest, chosen.because) == (NEW, "d2", Because.GIT)


def test_a_rollback_pin_wins_over_the_latest_render_which_stays_what_the_pair_is_behind(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    _render(store, NEW, "d2")
    store.set_pin(APP, Pin(revision=OLD, digest=Digest("d1"), at=2))

    chosen = desired_for_pair(store, APP, CLUSTER)
    assert chosen is not None
    assert (chosen.revision, chosen.digest, chosen.because) == (OLD, "d1", Because.PIN)
    latest = latest_for_pair(store, APP, CLUSTER)
    assert latest is not None and (latest.revision, latest.digest) == (NEW, "d2")

    store.set_pin(APP, None)
    back = desired_for_pair(store, APP, CLUSTER)
    assert back is not None and back.digest == "d2"


def test_a_per_cluster_pin_gives_each_cluster_its_own_bundle_from_a_fresh_connection(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    west, north = ClusterName("west"), ClusterName("north")
    state = DesiredState(
        revision=NEW, digest=Digest("set"), renderer="plain", rendered_at=1, variants=3
    )
    store.set_desired_variants(
        APP, state, {CLUSTER: Digest("e2"), west: Digest("w2"), north: Digest("n2")}
    )
    pinned = {CLUSTER: Variant(OLD, Digest("e1")), west: Variant(OLD, Digest("w1"))}
    store.set_pin(APP, Pin(revision=OLD, digest=Digest("pins"), at=2, clusters=pinned))

    again = Store.connect(redis_url)  # what a restarted process reads
    chosen = desired_for_pairs(again, APP, [CLUSTER, west, north])
    assert [(c.digest, c.because) for c in chosen.values() if c] == [
        ("e1", Because.PIN),
        ("w1", Because.PIN),
        ("n2", Because.GIT),  # a cluster that did not run the revision keeps Git's latest
    ]
    assert "did not run main@sha1:" in chosen[north].note  # type: ignore[union-attr]
    one = desired_for_pair(again, APP, west)
    assert one is not None and (one.revision, one.digest) == (OLD, "w1")


def test_each_revision_s_per_cluster_bundles_are_kept_for_rollbacks_the_last_30(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    west = ClusterName("west")
    revisions = [Revision(ref="main", sha=f"{n:040x}") for n in range(1, 33)]
    for n, revision in enumerate(revisions):
        state = DesiredState(
            revision=revision, digest=Digest(f"set{n}"), renderer="plain", rendered_at=n
        )
        # east's bundle moves with every commit; west's only every tenth
        digests = {CLUSTER: Digest(f"e{n}"), west: Digest(f"w{n // 10}")}
        store.set_desired_variants(APP, state, digests, {west: "x"} if n == 31 else {})

    kept = store.variant_set_revisions(APP)
    assert kept == [str(r) for r in reversed(revisions[2:])]
    assert store.variant_set(APP, str(revisions[1])) is None  # trimmed
    at = store.variant_set(APP, str(revisions[25]))
    assert at == {
        CLUSTER: Variant(revisions[25], Digest("e25")),
        west: Variant(revisions[20], Digest("w2")),
    }
    assert store.variant_set(APP, str(revisions[31])) == {
        CLUSTER: Variant(revisions[31], Digest("e31"))  # west's render failed: it did not run it
    }
