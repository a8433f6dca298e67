"""A batch's shared reads (`share_reads`) answer each application's LIST from one LIST of the
kind, by the application's label, and keep answering as the server would after the batch's own
writes: an object applied, relabelled to another application, deleted. A kind resolves once per
client until discovery is invalidated, the batch's invalidation included.

Real parts: a kubesim cluster over HTTP and its request counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetsync.shared.kube import connect, share_reads
from fleetsync.shared.kube.client import ApiResource, ClusterClient, UnknownKindError
from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE
from fleetsync.shared.kube.ownership import APPLICATION_LABEL, MANAGED_BY, MANAGED_BY_LABEL
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from kubesim import ClusterHandle, Simulator
from tests.integration.kube.manifests import widget_crd
from tests.support.waiting import wait_for

NS = "default"


@pytest.fixture
def handle(kubesim: Simulator, tmp_path: Path) -> Iterator[ClusterHandle]:
    found = kubesim.add_cluster(f"shared-{tmp_path.name[-6:]}".lower().replace("_", "-"))
    yield found
    kubesim.remove_cluster(found.name)


def _cm(name: str, app: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, APPLICATION_LABEL: app, **labels},
        },
        "data": {"v": "1"},
    }


def _selector(app: str, *more: str) -> str:
    return ",".join((f"{MANAGED_BY_LABEL}={MANAGED_BY}", f"{APPLICATION_LABEL}={app}", *more))


def test_each_application_lists_its_own_objects_from_one_list_through_the_batchs_writes(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    plain = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    configmaps = plain.resolve("v1", "ConfigMap")
    for name, app in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        plain.apply(configmaps, _cm(name, app, tier="web" if name != "a2" else "db"), force=True)
    batch = share_reads(plain)

    def names(app: str, *more: str) -> list[str]:
        listed = batch.list(configmaps, namespace=NS, label_selector=_selector(app, *more))
        return sorted(o["metadata"]["name"] for o in listed)

    assert names("a") == ["a1", "a2"]
    assert names("b") == ["b1"]
    assert names("c") == []
    assert names("a", "tier=web") == ["a1"]
    batch.apply(configmaps, _cm("b2", "b"), force=True)  # a new object of b
    batch.apply(configmaps, _cm("a2", "b"), force=True)  # a2 moves from a to b
    assert names("a") == ["a1"]
    assert names("b") == ["a2", "b1", "b2"]
    assert batch.delete(configmaps, name="b1", namespace=NS)
    assert names("b") == ["a2", "b2"]
    assert not batch.delete(configmaps, name="b1", namespace=NS), "gone, and no longer held"
    plain.apply(
        configmaps,
        {**_cm("by-hand", "a"), "metadata": {"name": "by-hand", "namespace": NS}},
        force=True,
    )
    assert batch.delete(configmaps, name="by-hand", namespace=NS), "never held: not fleetsync's"
    unlabelled = _cm("a1", "a")
    del unlabelled["metadata"]["labels"][APPLICATION_LABEL]
    batch.apply(configmaps, unlabelled, force=True)  # a1 loses its application label
    assert names("a") == []
    # What a fresh client lists, for every application: the same.
    fresh = share_reads(plain)
    for app in ("a", "b"):
        listed = fresh.list(configmaps, namespace=NS, label_selector=_selector(app))
        assert sorted(o["metadata"]["name"] for o in listed) == names(app), app
    assert batch.requests_saved >= 9, "every list after the first was answered from it"


def test_a_kind_resolves_once_until_discovery_is_invalidated_through_the_batch_too(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    plain = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    crds = plain.resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    group = f"{handle.name}.example.com"
    crd = widget_crd(group)
    plain.apply(crds, crd, force=True)
    batch = share_reads(plain)
    assert wait_for(lambda: _resolves(batch, group)).namespaced
    assert plain.resolve(f"{group}/v1", "Widget") is batch.resolve(f"{group}/v1", "Widget")
    # The kind changes scope on the server: a resolve answers as before until discovery is
    # invalidated (as a sync does after CRDs changed), then as the server says.
    assert plain.delete(crds, name=crd["metadata"]["name"])
    wait_for(lambda: plain.get(crds, name=crd["metadata"]["name"]) is None)
    crd["spec"]["scope"] = "Cluster"
    plain.apply(crds, crd, force=True)
    assert batch.resolve(f"{group}/v1", "Widget").namespaced
    batch.invalidate_discovery()
    assert not wait_for(lambda: _resolves(batch, group)).namespaced
    assert not plain.resolve(f"{group}/v1", "Widget").namespaced


def _resolves(client: ClusterClient, group: str) -> ApiResource | None:
    try:
        return client.resolve(f"{group}/v1", "Widget")
    except UnknownKindError:
        return None


def test_credentials_that_may_not_list_the_inventory_copies_read_each_by_itself(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    plain = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    configmaps = plain.resolve("v1", "ConfigMap")
    home = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INVENTORY_NAMESPACE}}
    plain.apply(plain.resolve("v1", "Namespace"), home, force=True)
    copy = {**_cm("copy", "a"), "metadata": {"name": "copy", "namespace": INVENTORY_NAMESPACE}}
    plain.apply(configmaps, copy, force=True)
    handle.forbid_lists("configmaps", [INVENTORY_NAMESPACE])

    batch = share_reads(plain)

    found = batch.get(configmaps, name="copy", namespace=INVENTORY_NAMESPACE)
    assert found is not None and found["metadata"]["name"] == "copy"
    assert batch.requests_saved == 0


def test_a_list_in_a_namespace_holds_that_namespace_alone_through_the_batchs_writes(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    """A LIST by fleetsync's label alone (no further term: no label index) in one namespace,
    and the batch's writes in it and in another namespace."""
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    plain = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    configmaps = plain.resolve("v1", "ConfigMap")
    other = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}
    plain.apply(plain.resolve("v1", "Namespace"), other, force=True)

    def in_other(name: str) -> dict[str, Any]:
        obj = _cm(name, "a")
        obj["metadata"]["namespace"] = "other"
        return obj

    plain.apply(configmaps, _cm("here", "a"), force=True)
    plain.apply(configmaps, in_other("there"), force=True)
    batch = share_reads(plain)
    managed = f"{MANAGED_BY_LABEL}={MANAGED_BY}"

    def names(namespace: str) -> list[tuple[str, str]]:
        listed = batch.list(configmaps, namespace=namespace, label_selector=managed)
        return sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in listed)

    assert names(NS) == [(NS, "here")]
    batch.apply(configmaps, _cm("new", "b"), force=True)
    batch.apply(configmaps, in_other("elsewhere"), force=True)
    assert names(NS) == [(NS, "here"), (NS, "new")]
    assert batch.delete(configmaps, name="here", namespace=NS)
    assert names(NS) == [(NS, "new")]
    assert names("") == [(NS, "new"), ("other", "elsewhere"), ("other", "there")]
    assert batch.requests_saved == 2, "the second and third LIST in the namespace"


def test_a_selector_with_other_than_equality_terms_is_answered_by_the_server(
    kubesim: Simulator, handle: ClusterHandle, tmp_path: Path
) -> None:
    cluster = Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    plain = connect(cluster, cache_dir=tmp_path / "cache", timeout=10.0)
    configmaps = plain.resolve("v1", "ConfigMap")
    plain.apply(configmaps, _cm("a1", "a", tier="web"), force=True)
    plain.apply(configmaps, _cm("a2", "a", tier="db"), force=True)
    plain.apply(configmaps, _cm("b1", "b"), force=True)
    batch = share_reads(plain)
    managed = f"{MANAGED_BY_LABEL}={MANAGED_BY}"

    def names(selector: str) -> list[str]:
        listed = batch.list(configmaps, namespace=NS, label_selector=selector)
        return sorted(o["metadata"]["name"] for o in listed)

    assert names(f"{managed},tier!=web") == ["a2", "b1"]
    assert names(f"{managed},tier==web") == ["a1"]
    assert names(f"{managed},tier in (web,db)") == ["a1", "a2"]
    assert names(f"{managed},!tier") == ["b1"]
    assert names(f"{managed},tier") == ["a1", "a2"]
    assert {"a1", "a2", "b1"} <= set(names(""))
    assert batch.requests_saved == 0
