"""Where `locate` places a bundle object, resolved through the cluster's discovery: the
manifest's namespace, else the application's, else `default`; none for a cluster-scoped kind;
a kind only a bundled CRD defines resolved from that CRD and deferred."""

from __future__ import annotations

import pytest

from fleetsync.shared.kube.client import ApiResource, UnknownKindError
from fleetsync.shared.kube.crd import Definition
from fleetsync.shared.kube.ownership import mark_managed
from fleetsync.shared.kube.targets import Target, locate
from fleetsync.shared.model import ResourceKey
from tests.integration.kube.conftest import Live

CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def test_a_namespaced_object_is_placed_in_its_own_namespace_else_the_application_s_else_default(
    live: Live,
) -> None:
    client, app = live.client, live.app
    config_maps = ApiResource(
        group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True
    )
    assert locate(client, CONFIG_MAP, app=app, namespace=None) == Target(
        key=ResourceKey.parse("core/ConfigMap/default/c"),
        resource=config_maps,
        obj=mark_managed(CONFIG_MAP, app=app, namespace="default"),
    )
    assert locate(client, CONFIG_MAP, app=app, namespace=live.ns).key == ResourceKey.parse(
        f"core/ConfigMap/{live.ns}/c"
    )
    own = {**CONFIG_MAP, "metadata": {"name": "c", "namespace": "own"}}
    placed = locate(client, own, app=app, namespace=live.ns)
    assert (str(placed.key), placed.obj["metadata"]["namespace"]) == ("core/ConfigMap/own/c", "own")


def test_a_cluster_scoped_object_is_placed_in_no_namespace(live: Live) -> None:
    named = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "namespace": "x"}}
    target = locate(live.client, named, app=live.app, namespace=live.ns)
    assert str(target.key) == "core/Namespace/_/n"
    assert "namespace" not in target.obj["metadata"]
    assert (target.resource.namespaced, target.deferred) == (False, False)


def test_a_kind_only_a_bundled_crd_defines_resolves_from_it_deferred(live: Live) -> None:
    gadget = {
        "apiVersion": f"{live.group}/v1beta1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
    }
    definition = Definition(
        group=live.group, kind="Gadget", plural="gadgets", namespaced=True, versions=("v1beta1",)
    )
    bundled = {(f"{live.group}/v1beta1", "Gadget"): definition}
    target = locate(live.client, gadget, app=live.app, namespace=live.ns, bundled=bundled)
    assert target == Target(
        key=ResourceKey.parse(f"{live.group}/Gadget/{live.ns}/g"),
        resource=ApiResource(
            group=live.group, version="v1beta1", kind="Gadget", plural="gadgets", namespaced=True
        ),
        obj=mark_managed(gadget, app=live.app, namespace=live.ns),
        deferred=True,
    )
    for other in (None, {(f"{live.group}/v1", "Gadget"): definition}):
        with pytest.raises(UnknownKindError):
            locate(live.client, gadget, app=live.app, namespace=live.ns, bundled=other)
