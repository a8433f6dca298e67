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
from fleetsync.shared.kube.client import ApiResource
from fleetsync.shared.kube.read_ahead import Read, ReadAhead
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from kubesim import ClusterHandle, Simulator
from tests.support.waiting import wait_for

CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "a", "namespace": "default"},
    "data": {"k": "v"},
}


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


def _ahead_of_a_config_map(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> tuple[ReadAhead, ApiResource]:
    """A read-ahead client whose GET of ConfigMap default/a was answered before anyone asked."""
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    shared = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    configmaps = shared.resolve("v1", "ConfigMap")
    shared.apply(configmaps, CONFIG_MAP, force=True)
    handle.reset_request_counts()
    ahead = ReadAhead(shared)
    ahead.fetch([Read(configmaps, "default", "a"), Read(configmaps, "default", "a")])
    wait_for(lambda: handle.request_counts().get(("get", "configmaps")), what="the read ahead")
    return ahead, configmaps


def test_a_read_asked_twice_ahead_is_sent_once_and_a_dry_run_keeps_it(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    ahead, configmaps = _ahead_of_a_config_map(kubesim, handle, tmp_path)

    ahead.apply(configmaps, {**CONFIG_MAP, "data": {"k": "dry"}}, force=True, dry_run=True)
    found = ahead.get(configmaps, name="a", namespace="default")

    assert found is not None and found["data"] == {"k": "v"}
    assert handle.request_counts()[("get", "configmaps")] == 1


@pytest.mark.parametrize("write", ["apply", "create", "delete"])
def test_a_write_sends_the_reads_held_before_it_again(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path, write: str
) -> None:
    ahead, configmaps = _ahead_of_a_config_map(kubesim, handle, tmp_path)
    other = {**CONFIG_MAP, "metadata": {"name": "b", "namespace": "default"}}
    if write == "apply":
        ahead.apply(configmaps, {**CONFIG_MAP, "data": {"k": "new"}}, force=True)
    elif write == "create":
        ahead.create(configmaps, other)
    else:
        ahead.delete(configmaps, name="b", namespace="default")

    ahead.get(configmaps, name="a", namespace="default")

    assert handle.request_counts()[("get", "configmaps")] == 2
