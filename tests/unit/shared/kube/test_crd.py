"""Reading a bundled CRD: the kinds it defines and where their objects will live."""

from __future__ import annotations

from typing import Any

from fleetsync.shared.kube.client import ApiResource
from fleetsync.shared.kube.crd import Definition, defined_kinds, definition_of

CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def crd(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1", "served": True},
                {"name": "v2", "served": True},
                {"name": "v0", "served": False},
            ],
            **spec,
        },
    }


def test_defined_kinds_lists_every_served_version_of_a_bundled_crd() -> None:
    kinds = defined_kinds([crd(), CONFIG_MAP])
    assert set(kinds) == {("example.com/v1", "Widget"), ("example.com/v2", "Widget")}
    assert kinds[("example.com/v1", "Widget")] == Definition(
        group="example.com",
        kind="Widget",
        plural="widgets",
        namespaced=True,
        versions=("v1", "v2"),
    )


def test_a_crd_after_other_objects_of_the_bundle_still_defines_its_kinds() -> None:
    kinds = defined_kinds([CONFIG_MAP, crd(names={}), crd()])
    assert set(kinds) == {("example.com/v1", "Widget"), ("example.com/v2", "Widget")}


def test_a_definition_says_where_its_objects_live() -> None:
    cluster_wide = definition_of(crd(scope="Cluster", names={"kind": "Widget"}))
    assert cluster_wide is not None
    assert cluster_wide.api_resource("v2") == ApiResource(
        group="example.com", version="v2", kind="Widget", plural="widgets", namespaced=False
    )


def test_another_object_or_an_incomplete_crd_defines_nothing() -> None:
    assert definition_of(CONFIG_MAP) is None
    assert definition_of(crd(group="")) is None
    assert definition_of(crd(versions=[{"name": "v1", "served": False}])) is None
    assert defined_kinds([crd(names={})]) == {}


def test_a_crd_whose_spec_is_missing_or_not_a_map_defines_nothing_and_breaks_nothing() -> None:
    # The server refuses such a CRD, naming what is missing; the bundle's other kinds are read.
    broken = [{**crd(), "spec": spec} for spec in (None, [], "widgets")]
    without = {k: v for k, v in crd().items() if k != "spec"}
    for obj in (*broken, without):
        assert definition_of(obj) is None, obj
    assert set(defined_kinds([*broken, without, crd()])) == {
        ("example.com/v1", "Widget"),
        ("example.com/v2", "Widget"),
    }


def test_a_version_is_served_unless_it_says_otherwise_and_counts_only_with_a_name() -> None:
    definition = definition_of(
        crd(versions=["v0", {"served": True}, {"name": "v1"}, {"name": "v2", "served": True}])
    )
    assert definition is not None and definition.versions == ("v1", "v2")


def test_a_crd_without_a_scope_defines_namespaced_objects() -> None:
    spec = crd()["spec"]
    del spec["scope"]
    definition = definition_of({**crd(), "spec": spec})
    assert definition is not None and definition.namespaced is True


def test_a_crd_whose_names_are_not_a_map_defines_nothing() -> None:
    assert definition_of(crd(names="Widget")) is None
    assert definition_of(crd(names={"plural": "widgets"})) is None
