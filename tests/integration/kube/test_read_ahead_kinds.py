"""A reconcile's read-ahead client (`ReadAhead`, one per reconcile) resolves kinds through its
cluster's client: a kind the cluster's client resolved is not looked up in discovery again by
every reconcile, and an invalidation through either is seen by both.

Real parts: a kubesim cluster over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.shared.kube import connect
from fleetsync.shared.kube.read_ahead import ReadAhead
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from kubesim import ClusterHandle, Simulator


@pytest.fixture
def handle(kubesim: Simulator, tmp_path: Path) -> Iterator[ClusterHandle]:
    found = kubesim.add_cluster(f"ahead-{tmp_path.name[-6:]}".lower().replace("_", "-"))
    yield found
    kubesim.remove_cluster(found.name)


def test_each_reconcile_s_read_ahead_resolves_through_the_cluster_s_client(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    shared = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    configmaps = shared.resolve("v1", "ConfigMap")
    first, second = ReadAhead(shared), ReadAhead(shared)
    assert first.resolve("v1", "ConfigMap") is configmaps
    assert second.resolve("apps/v1", "Deployment") is shared.resolve("apps/v1", "Deployment")

    second.invalidate_discovery()
    again = shared.resolve("v1", "ConfigMap")
    assert again == configmaps and again is not configmaps  # looked up again once
    assert first.resolve("v1", "ConfigMap") is again
