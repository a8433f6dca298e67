"""A follow-up health check and a reconcile of the same pair never interleave: a check that
wrote back the status it read before a reconcile would put an older revision back."""

from __future__ import annotations

from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Fleet
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.reconcile import pair_lock, refresh_health
from fleetsync.shared.store import Store
from tests.integration.kube.conftest import Live, kubesim_only

APP = AppName("web")


def _setup(store: Store, live: Live) -> tuple[Fleet, PairStatus]:
    bundle = Bundle.of(
        [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "d"}}]
    )
    digest = store.put_bundle(bundle)
    fleet = Fleet(
        clusters={live.cluster.name: live.cluster},
        applications={APP: Application(name=APP, repository=RepoName("r"), path="web")},
    )
    status = PairStatus(
        application=APP,
        cluster=live.cluster.name,
        sync=SyncState.SYNCED,
        health=Health.PROGRESSING,
        revision=Revision(ref="main", sha="a" * 40),
        digest=digest,
        at=store.now(),
    )
    store.record_status(status)
    return fleet, status


@kubesim_only
def test_a_health_check_steps_aside_while_the_pair_is_being_reconciled(
    redis_url: str, live: Live
) -> None:
    store = Store.connect(redis_url)
    fleet, status = _setup(store, live)
    cluster = ClusterName(live.cluster.name)
    with store.lease(pair_lock(APP, cluster)):
        assert refresh_health(store, fleet, APP, cluster, cache_dir=live.cache_dir) is None
        assert store.status(APP, cluster) == status
    # Once the reconcile is done, the check assesses what is there (nothing: Missing).
    assert refresh_health(store, fleet, APP, cluster, cache_dir=live.cache_dir) is Health.MISSING
    after = store.status(APP, cluster)
    assert after is not None and after.health is Health.MISSING and after.digest == status.digest
