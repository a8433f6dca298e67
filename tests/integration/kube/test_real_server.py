"""The apply engine on a real kube-apiserver: converge, a no-op re-sync, prune."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.shared.kube.client import ClusterClient, connect, forget_clients
from fleetsync.shared.model import ChangeAction, SyncState
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from tests.integration.kube.manifests import config_map, deployment, namespace, service, sync
from tests.support.realk8s import RealClusters


@pytest.fixture
def real(real_clusters: RealClusters, tmp_path: Path) -> Iterator[ClusterClient]:
    cluster = Cluster(name=ClusterName("real1"), kubeconfig=str(real_clusters.kubeconfig(0)))
    client = connect(cluster, cache_dir=tmp_path / "kube-cache", timeout=10.0)
    yield client
    forget_clients()


def test_a_bundle_converges_then_resyncs_unchanged_then_prunes_on_a_real_server(
    real: ClusterClient,
) -> None:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    app = f"app-{ns}"
    bundle = [namespace(ns), config_map("settings", ns), service("api", ns), deployment("api", ns)]

    first = sync(real, bundle, app=app, namespace=ns)
    assert first.error is None, first.error
    assert {c.action for c in first.changes} == {ChangeAction.CREATED}

    second = sync(real, bundle, app=app, namespace=ns, previous=first.inventory)
    assert second.error is None, second.error
    assert second.state is SyncState.SYNCED
    assert {c.action for c in second.changes} == {ChangeAction.UNCHANGED}

    third = sync(real, bundle[:2], app=app, namespace=ns, previous=second.inventory)
    assert third.error is None, third.error
    pruned = {str(c.key) for c in third.changes if c.action is ChangeAction.PRUNED}
    assert pruned == {f"core/Service/{ns}/api", f"apps/Deployment/{ns}/api"}
