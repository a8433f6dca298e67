"""Two declared clusters whose kubeconfigs reach the same Kubernetes cluster: the first to
claim it (its kube-system uid, in `fleetsync-system/fleetsync-cluster`) keeps it, the second is
refused with a status naming both and writes nothing there, on kubesim and on a real API server.
The second kubeconfig is a copy of the first's file: another path, the same server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.shared.kube.identity import CLAIM_NAME, forget_verified
from fleetsync.shared.kube.inventory import mirror_name
from fleetsync.shared.model import SyncState, Trigger
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, SyncPolicy, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.reconcile import Outcome, reconcile_pair, remove_pair
from fleetsync.shared.store import Store
from tests.integration.kube.conftest import Live
from tests.integration.kube.manifests import config_map

REV = Revision(ref="main", sha="1" * 40)


@pytest.fixture(autouse=True)
def _fresh_claims() -> Iterator[None]:
    forget_verified()
    yield
    forget_verified()


def _fleet(live: Live, *clusters: Cluster, self_heal: bool = True) -> Fleet:
    app = Application(
        name=AppName(live.app),
        repository=RepoName("platform"),
        path="web",
        namespace=live.ns,
        targets=Targets(clusters=tuple(c.name for c in clusters)),
        sync=SyncPolicy(drift_interval=300.0, self_heal=self_heal),
    )
    return Fleet(clusters={c.name: c for c in clusters}, applications={app.name: app})


def _alias(live: Live, tmp_path: Path) -> Cluster:
    copy = tmp_path / "alias.kubeconfig"
    shutil.copyfile(live.cluster.kubeconfig, copy)
    return Cluster(name=ClusterName(f"alias-{live.suffix}"), kubeconfig=str(copy))


def _reconcile(
    store: Store, fleet: Fleet, live: Live, cluster: Cluster, trigger: Trigger = Trigger.CHANGE
) -> Outcome:
    return reconcile_pair(
        store,
        fleet,
        AppName(live.app),
        cluster.name,
        trigger=trigger,
        cache_dir=live.cache_dir,
    )


def test_a_second_cluster_reaching_the_same_server_is_refused_and_writes_nothing(
    redis_url: str, live: Live, tmp_path: Path
) -> None:
    store = Store.connect(redis_url)
    alias = _alias(live, tmp_path)
    fleet = _fleet(live, live.cluster, alias)
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": live.ns}},
        config_map("settings", live.ns, data={"mode": "blue"}),
    ]
    digest = store.put_bundle(Bundle.of(objects))
    store.set_desired(AppName(live.app), DesiredState(REV, digest, "plain", rendered_at=1.0))

    first = _reconcile(store, fleet, live, live.cluster).status
    assert first is not None and first.sync is SyncState.SYNCED, first
    mirror = f"/api/v1/namespaces/fleetsync-system/configmaps/{mirror_name(live.app)}"
    before = live.operator.get(mirror)
    assert before is not None
    uid = live.operator.get("/api/v1/namespaces/kube-system")["metadata"]["uid"]  # type: ignore[index]

    for trigger in (Trigger.CHANGE, Trigger.MANUAL, Trigger.DRIFT):
        refused = _reconcile(store, fleet, live, alias, trigger)
        status = refused.status
        assert status is not None and refused.retry_in is None, "refused for good, not retried"
        assert status.sync is SyncState.OUT_OF_SYNC
        assert status.message == (
            f"cluster {alias.name}: its kubeconfig reaches the same Kubernetes cluster as "
            f"cluster {live.cluster.name} (kube-system uid {uid}); fleetsync manages it as "
            f"{live.cluster.name} only and writes nothing through {alias.name}: remove one of "
            "the two from fleet.yaml or point its kubeconfig at the cluster meant"
        ), status.message
        assert store.status(AppName(live.app), alias.name) == status
    assert store.inventory(AppName(live.app), alias.name) is None, "no inventory for the second"
    after = live.operator.get(mirror)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    # The drift check of the cluster that owns it still passes; its removal from the second
    # declared name prunes nothing of the first's.
    forget_verified()
    again = _reconcile(store, fleet, live, live.cluster, Trigger.DRIFT).status
    assert again is not None and again.sync is SyncState.SYNCED, again
    without_alias = _fleet(live, live.cluster)
    fleet_keeping_alias_declared = Fleet(
        clusters={**without_alias.clusters, alias.name: alias},
        applications=without_alias.applications,
    )
    removed = remove_pair(
        store,
        fleet_keeping_alias_declared,
        AppName(live.app),
        alias.name,
        cache_dir=live.cache_dir,
    )
    assert removed.status is not None and "same Kubernetes cluster" in removed.status.message
    assert live.operator.get(f"/api/v1/namespaces/{live.ns}/configmaps/settings") is not None


def test_a_cluster_renamed_in_fleet_yaml_takes_its_claim_over(
    redis_url: str, live: Live, tmp_path: Path
) -> None:
    store = Store.connect(redis_url)
    alias = _alias(live, tmp_path)
    objects = [config_map(live.unique("settings"), "default", data={"mode": "blue"})]
    digest = store.put_bundle(Bundle.of(objects))
    store.set_desired(AppName(live.app), DesiredState(REV, digest, "plain", rendered_at=1.0))
    first = _reconcile(store, _fleet(live, live.cluster), live, live.cluster).status
    assert first is not None and first.sync is SyncState.SYNCED, first

    forget_verified()
    renamed = _reconcile(store, _fleet(live, alias), live, alias).status
    assert renamed is not None and renamed.sync is SyncState.SYNCED, renamed
    claim = live.operator.get(f"/api/v1/namespaces/fleetsync-system/configmaps/{CLAIM_NAME}")
    assert claim is not None and claim["data"]["cluster"] == alias.name
