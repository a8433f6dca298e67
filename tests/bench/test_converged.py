"""When the benchmark rig and the demo's live table count a pair as converged: Synced on what
its own cluster should run. With per-cluster variants each cluster runs its own bundle, first
produced by its own revision, so neither the application's digest (which names the whole set)
nor its revision is the pair's."""

from __future__ import annotations

from bench.rig import converged_pairs
from fleetsync.scheduler.demo.watch import converged
from fleetsync.scheduler.views import pair_view
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Store

APP = AppName("web")
FIRST = Revision(ref="main", sha="1" * 40)
SECOND = Revision(ref="main", sha="2" * 40)


def _state(revision: Revision, digest: str) -> DesiredState:
    return DesiredState(
        revision=revision,
        digest=Digest(digest),
        renderer="plain",
        rendered_at=1.0,
        observed=revision,
        variants=2,
    )


def _run(store: Store, cluster: str, revision: Revision, digest: str) -> PairStatus:
    status = PairStatus(
        application=APP,
        cluster=cluster,
        sync=SyncState.SYNCED,
        health=Health.HEALTHY,
        revision=revision,
        digest=Digest(digest),
        at=store.now(),
    )
    store.record_status(status)
    return status


def test_each_pair_is_compared_with_its_own_variant_not_the_application_s_set(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    names = [ClusterName(c) for c in ("eu", "us", "ap")]
    first = {names[0]: Digest("eu-1"), names[1]: Digest("us-1"), names[2]: Digest("ap-1")}
    store.set_desired_variants(APP, _state(FIRST, "set-1"), first)
    # The second commit changes eu's and ap's bundles; us keeps its own, from the first commit.
    second = {**first, names[0]: Digest("eu-2"), names[2]: Digest("ap-2")}
    store.set_desired_variants(APP, _state(SECOND, "set-2"), second)

    eu = _run(store, "eu", SECOND, "eu-2")
    us = _run(store, "us", FIRST, "us-1")
    ap = _run(store, "ap", SECOND, "eu-2")  # Synced at the new revision, but not on its bundle
    pairs = [(APP, "eu"), (APP, "us"), (APP, "ap")]

    assert set(converged_pairs(store, pairs, SECOND.sha[:10])) == {(APP, "eu"), (APP, "us")}
    assert converged_pairs(store, pairs, FIRST.sha[:10]) == {}  # not observed yet
    done = converged(store, app=APP, sha=SECOND.sha)
    assert [done(pair_view(s)) for s in (eu, us, ap)] == [True, True, False]
    assert not converged(store, app=APP, sha=FIRST.sha)(pair_view(eu))


def test_a_single_bundle_application_is_still_compared_with_its_one_digest(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    store.set_desired(APP, DesiredState(SECOND, Digest("one"), "plain", 1.0, observed=SECOND))
    good = _run(store, "eu", SECOND, "one")
    stale = _run(store, "us", FIRST, "old")
    assert set(converged_pairs(store, [(APP, "eu"), (APP, "us")], SECOND.sha)) == {(APP, "eu")}
    done = converged(store, app=APP, sha=SECOND.sha)
    assert (done(pair_view(good)), done(pair_view(stale))) == (True, False)
