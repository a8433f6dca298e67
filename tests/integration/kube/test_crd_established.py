"""A CRD and objects of its kind in one bundle, on a real kube-apiserver: the API server serves a
new kind only once the CRD is Established (asynchronously, after the create), so the engine waits
for it before applying the objects. kubesim establishes at once; a real server does not."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetsync.shared.kube.client import ClusterClient, connect, forget_clients
from fleetsync.shared.model import ChangeAction, SyncState
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from tests.integration.kube.manifests import namespace, sync, widget, widget_crd
from tests.support.realk8s import RealClusters


@pytest.fixture
def real(real_clusters: RealClusters, tmp_path: Path) -> Iterator[ClusterClient]:
    cluster = Cluster(name=ClusterName("real2"), kubeconfig=str(real_clusters.kubeconfig(1)))
    client = connect(cluster, cache_dir=tmp_path / "kube-cache", timeout=10.0)
    yield client
    forget_clients()


def _unique_kind(suffix: str, ns: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A CRD of a group never seen by this server, and one object of its kind."""
    crd = copy.deepcopy(widget_crd())
    group = f"t{suffix}.example.com"
    crd["metadata"]["name"] = f"widgets.{group}"
    crd["spec"]["group"] = group
    obj = widget("w1", ns=ns)
    obj["apiVersion"] = f"{group}/v1"
    return crd, obj


def test_objects_of_new_kinds_are_applied_once_their_crds_are_established(
    real: ClusterClient,
) -> None:
    run = uuid.uuid4().hex[:6]
    ns = f"t-{run}"
    kinds = [_unique_kind(f"{run}{i}", ns) for i in range(6)]
    bundle = [namespace(ns), *(crd for crd, _ in kinds), *(obj for _, obj in kinds)]
    result = sync(real, bundle, app=f"app-{run}", namespace=ns)
    assert result.error is None, result.error
    assert result.state is SyncState.SYNCED
    created = {str(c.key) for c in result.changes if c.action is ChangeAction.CREATED}
    assert {f"t{run}{i}.example.com/Widget/{ns}/w1" for i in range(6)} <= created
