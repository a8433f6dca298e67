"""The local "would applying change anything?" decision: certain only when safe."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fleetsync.shared.kube.unchanged import applied_content, applied_fields, unchanged

DESIRED: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
}

OWNED: dict[str, Any] = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:selector": {"f:app": {}},
        "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}}},
    },
}


def live_with(fields: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """DESIRED as the server keeps it: defaults filled in, fleetsync's entry owning `fields`."""
    live = copy.deepcopy(DESIRED)
    live["metadata"]["resourceVersion"] = "7"
    live["metadata"]["managedFields"] = [
        {
            "manager": "fleetsync",
            "operation": "Apply",
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": copy.deepcopy(OWNED if fields is None else fields),
        },
        {
            "manager": "kube-controller",
            "operation": "Update",
            "apiVersion": "v1",
            "fieldsV1": {"f:spec": {"f:clusterIP": {}}},
        },
    ]
    live["spec"]["clusterIP"] = "10.0.0.7"
    live["spec"]["ports"] = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}]
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = live
        for p in parents:
            node = node[p]
        node[leaf] = value
    return live


def desired_with(**changes: Any) -> dict[str, Any]:
    desired = copy.deepcopy(DESIRED)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = desired
        for p in parents:
            node = node[p]
        node[leaf] = value
    return desired


def owned_with(path: str, value: Any) -> dict[str, Any]:
    owned = copy.deepcopy(OWNED)
    *parents, leaf = path.split("|")
    node = owned
    for p in parents:
        node = node[p]
    if value is None:
        del node[leaf]
    else:
        node[leaf] = value
    return owned


def test_a_live_object_matching_every_declared_field_is_unchanged() -> None:
    assert unchanged(DESIRED, live_with())


def test_server_defaults_and_fields_other_managers_own_do_not_count() -> None:
    live = live_with(**{"metadata.annotations": {"team": "x"}})
    assert live["spec"]["ports"][0]["targetPort"] == 80 and live["spec"]["clusterIP"]
    assert unchanged(DESIRED, live)


def test_a_declared_value_that_differs_is_a_change() -> None:
    assert not unchanged(DESIRED, live_with(**{"spec.selector": {"app": "other"}}))
    assert not unchanged(desired_with(**{"metadata.labels": {"app": "web2"}}), live_with())


@pytest.mark.parametrize(
    ("declared", "live"),
    [("1", 1), (1, 1.0), (True, "true"), (0.5, "500m"), ("80", 80)],
)
def test_a_value_the_server_may_render_differently_is_never_taken_as_equal(
    declared: Any, live: Any
) -> None:
    assert not unchanged(
        desired_with(**{"spec.selector": {"app": declared}}),
        live_with(**{"spec.selector": {"app": live}}),
    )


def test_a_field_fleetsync_owns_but_no_longer_declares_is_a_change() -> None:
    owned = owned_with("f:metadata|f:labels|f:tier", {})
    live = live_with(owned, **{"metadata.labels": {"app": "web", "tier": "front"}})
    assert not unchanged(DESIRED, live)


def test_a_list_item_fleetsync_owns_but_no_longer_declares_is_a_change() -> None:
    owned = owned_with("f:spec|f:ports|" + 'k:{"port":443,"protocol":"TCP"}', {".": {}})
    live = live_with(owned)
    live["spec"]["ports"].append({"port": 443, "protocol": "TCP", "targetPort": 443})
    assert not unchanged(DESIRED, live)


def test_a_declared_field_fleetsync_no_longer_owns_is_a_change() -> None:
    """Another manager took it (an Update, or a forced apply): the apply takes it back."""
    assert not unchanged(DESIRED, live_with(owned_with("f:spec|f:selector", None)))
    taken = owned_with("f:spec|f:ports|" + 'k:{"port":80,"protocol":"TCP"}', {".": {}})
    assert not unchanged(DESIRED, live_with(taken))


def test_an_atomic_list_another_manager_extended_is_a_change() -> None:
    """A list fleetsync owns whole is compared whole, even when its items have names."""
    desired = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
        "spec": {"items": [{"name": "a", "v": 1}]},
    }
    owned = {"f:spec": {"f:items": {}}}
    live = copy.deepcopy(desired)
    live["metadata"]["managedFields"] = [
        {
            "manager": "fleetsync",
            "operation": "Apply",
            "apiVersion": "example.com/v1",
            "fieldsV1": owned,
        }
    ]
    assert unchanged(desired, live)
    live["spec"]["items"].append({"name": "b", "v": 2})
    assert not unchanged(desired, live)


def test_keyed_items_are_matched_by_the_keys_fleetsync_owns_them_by() -> None:
    desired = desired_with(
        **{"spec.ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}
    )
    owned = owned_with(
        "f:spec|f:ports|" + 'k:{"port":443,"protocol":"TCP"}', {".": {}, "f:name": {}, "f:port": {}}
    )
    live = live_with(owned)
    live["spec"]["ports"].append(
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}
    )
    assert unchanged(desired, live)
    live["spec"]["ports"][1]["name"] = "tls"
    assert not unchanged(desired, live)
    live["spec"]["ports"][1]["name"] = "https"
    live["spec"]["ports"].reverse()
    assert not unchanged(desired, live), "another order: left to the server"


def test_a_set_of_scalars_is_matched_item_by_item() -> None:
    desired = desired_with(**{"metadata.finalizers": ["a/b", "c/d"]})
    owned = owned_with("f:metadata|f:finalizers", {".": {}, 'v:"a/b"': {}, 'v:"c/d"': {}})
    assert unchanged(desired, live_with(owned, **{"metadata.finalizers": ["a/b", "c/d"]}))
    assert not unchanged(desired, live_with(owned, **{"metadata.finalizers": ["a/b"]}))
    fewer = owned_with("f:metadata|f:finalizers", {".": {}, 'v:"a/b"': {}})
    assert not unchanged(desired, live_with(fewer, **{"metadata.finalizers": ["a/b", "c/d"]}))


def test_without_fleetsync_s_own_apply_entry_nothing_is_certain() -> None:
    live = live_with()
    live["metadata"]["managedFields"] = live["metadata"]["managedFields"][1:]
    assert not unchanged(DESIRED, live)
    assert not unchanged(DESIRED, None)
    status_only = live_with()
    status_only["metadata"]["managedFields"][0]["subresource"] = "status"
    assert not unchanged(DESIRED, status_only)
    older = live_with()
    older["metadata"]["managedFields"][0]["apiVersion"] = "v1beta1"
    assert not unchanged(DESIRED, older), "a field set recorded at another version"


def test_a_null_or_a_field_the_server_never_records_is_left_to_the_server() -> None:
    assert not unchanged(desired_with(**{"spec.selector": {"app": None}}), live_with())
    assert not unchanged(desired_with(**{"metadata.resourceVersion": "7"}), live_with())
    assert not unchanged(desired_with(status={"phase": "Up"}), live_with(status={"phase": "Up"}))


def test_the_empty_status_and_null_timestamp_of_generated_manifests_are_ignored() -> None:
    generated = desired_with(status={}, **{"metadata.creationTimestamp": None})
    assert unchanged(generated, live_with())


def test_another_name_or_namespace_is_never_the_same_object() -> None:
    assert not unchanged(desired_with(**{"metadata.namespace": "other"}), live_with())
    assert not unchanged(desired_with(kind="Endpoints"), live_with())


def test_a_keyed_item_declared_twice_is_left_to_the_server() -> None:
    twice = desired_with(**{"spec.ports": [{"name": "http", "port": 80}] * 2})
    assert not unchanged(twice, live_with())


@pytest.mark.parametrize(
    "element",
    ["i:0", "q:unknown", "k:not-json", "k:[]", 'v:{"a":1}'],
)
def test_a_fields_v1_form_not_understood_is_left_to_the_server(element: str) -> None:
    owned = owned_with("f:spec|f:ports", {element: {}})
    assert not unchanged(DESIRED, live_with(owned))


def applied(
    desired: dict[str, Any], live_body: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    """`live_body` as the server keeps it after fleetsync applied `desired`, owning `fields`."""
    live = {
        "apiVersion": desired["apiVersion"],
        "kind": desired["kind"],
        **copy.deepcopy(live_body),
    }
    live["metadata"] = {
        **desired["metadata"],
        "resourceVersion": "3",
        "managedFields": [
            {
                "manager": "fleetsync",
                "operation": "Apply",
                "apiVersion": desired["apiVersion"],
                "fieldsType": "FieldsV1",
                "fieldsV1": fields,
            }
        ],
    }
    return live


def test_a_quantity_the_server_respelled_is_unchanged_and_a_new_value_is_not() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "shop"},
        "spec": {"hard": {"requests.cpu": "4000m", "pods": 10}},
    }
    fields = {"f:spec": {"f:hard": {".": {}, "f:requests.cpu": {}, "f:pods": {}}}}
    stored = {"spec": {"hard": {"requests.cpu": "4", "pods": "10"}}}
    live = applied(desired, stored, fields)
    assert unchanged(desired, live)
    more = copy.deepcopy(desired)
    more["spec"]["hard"]["requests.cpu"] = "4500m"
    assert not unchanged(more, live)


def test_a_secret_s_string_data_is_unchanged_while_its_base64_data_matches() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "shop"},
        "stringData": {"password": "s3cr3t"},
    }
    fields = {"f:stringData": {".": {}, "f:password": {}}}
    live = applied(desired, {"type": "Opaque", "data": {"password": "czNjcjN0"}}, fields)
    assert unchanged(desired, live)
    live["data"]["password"] = "b3RoZXI="
    assert not unchanged(desired, live)


def test_a_null_the_server_keeps_is_unchanged_and_a_missing_one_is_not_certain() -> None:
    desired = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "shop"},
        "spec": {"template": {"metadata": {"creationTimestamp": None}}},
    }
    fields = {"f:spec": {"f:template": {"f:metadata": {"f:creationTimestamp": {}}}}}
    kept = applied(
        desired, {"spec": {"template": {"metadata": {"creationTimestamp": None}}}}, fields
    )
    assert unchanged(desired, kept)
    dropped = applied(desired, {"spec": {"template": {"metadata": {}}}}, fields)
    assert not unchanged(desired, dropped)


def test_a_default_in_a_whole_list_counts_for_built_in_kinds_only() -> None:
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"ingress": [{"ports": [{"port": 8080}]}]},
    }
    fields = {"f:spec": {"f:ingress": {}}}
    stored = {"spec": {"ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}]}}
    assert unchanged(policy, applied(policy, stored, fields))
    custom = {**policy, "apiVersion": "example.com/v1", "kind": "Policy"}
    assert not unchanged(custom, applied(custom, stored, fields))


def widget(**spec: Any) -> dict[str, Any]:
    """A custom resource: stored as sent, no defaults filled in."""
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
        "spec": spec,
    }


def test_a_cluster_scoped_object_matching_its_manifest_is_unchanged() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader", "labels": {"app": "web"}},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    fields = {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:rules": {}}
    live = applied(role, {"rules": copy.deepcopy(role["rules"])}, fields)
    assert unchanged(role, live)
    renamed = applied(role, {"rules": copy.deepcopy(role["rules"])}, fields)
    renamed["metadata"]["name"] = "writer"
    assert not unchanged(role, renamed)


@pytest.mark.parametrize("fields_v1", ["f:spec", ["f:spec"], 7])
@pytest.mark.parametrize("kind", ["Service", "Secret"])
def test_an_apply_entry_without_a_field_set_is_left_to_the_server(
    kind: str, fields_v1: Any
) -> None:
    """The server always records one; an entry without it says nothing certain (and never
    stops a sync)."""
    desired = desired_with(kind=kind, status={})
    live = live_with(kind=kind)
    live["metadata"]["managedFields"][0]["fieldsV1"] = fields_v1
    assert not unchanged(desired, live)
    del live["metadata"]["managedFields"][0]["fieldsV1"]
    assert not unchanged(desired, live)


@pytest.mark.parametrize(
    "element",
    ["i:0", "q:unknown", "k:not-json", "k:[]", 'k:"a"', "k:{}", 'v:{"a":1}', 'v:{"name":"a"}'],
)
def test_an_element_that_names_no_item_is_left_to_the_server_even_where_the_item_matches(
    element: str,
) -> None:
    desired = widget(items=[{"name": "a"}])
    live = applied(desired, {"spec": {"items": [{"name": "a"}]}}, {"f:spec": {"f:items": {}}})
    assert unchanged(desired, live), "owned whole, the same item: certain"
    live["metadata"]["managedFields"][0]["fieldsV1"] = {"f:spec": {"f:items": {element: {}}}}
    assert not unchanged(desired, live)


def test_a_field_set_node_that_is_not_an_object_is_left_to_the_server() -> None:
    desired = widget(items=[{"name": "a"}])
    live = applied(desired, {"spec": {"items": [{"name": "a"}]}}, {"f:spec": {"f:items": "x"}})
    assert not unchanged(desired, live)


def test_a_list_of_scalars_is_never_matched_by_a_keyed_element() -> None:
    desired = widget(tags=["a"])
    owned = {"f:spec": {"f:tags": {'k:{"name":"a"}': {}}}}
    assert not unchanged(desired, applied(desired, {"spec": {"tags": ["a"]}}, owned))


def test_a_null_declared_where_the_live_object_holds_an_empty_map_is_a_change() -> None:
    """Applying the null removes the field fleetsync owns."""
    desired = widget(size=1, extra=None)
    owned = {"f:spec": {"f:size": {}, "f:extra": {}}}
    assert not unchanged(desired, applied(desired, {"spec": {"size": 1, "extra": {}}}, owned))


def test_an_empty_status_fleetsync_owns_is_compared_with_the_live_status() -> None:
    """A kind without a status subresource: applying `status: {}` owns the status whole."""
    desired = {**widget(size=1), "status": {}}
    owned = {"f:spec": {"f:size": {}}, "f:status": {}}
    assert unchanged(desired, applied(desired, {"spec": {"size": 1}, "status": {}}, owned))
    set_live = applied(desired, {"spec": {"size": 1}, "status": {"phase": "Up"}}, owned)
    assert not unchanged(desired, set_live), "the apply would empty the status"


def test_a_value_a_server_kept_as_written_is_unchanged() -> None:
    """A server that does not respell a quantity applies it the same way again."""
    desired = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "shop"},
        "spec": {"hard": {"requests.cpu": "4000m"}},
    }
    fields = {"f:spec": {"f:hard": {".": {}, "f:requests.cpu": {}}}}
    assert unchanged(
        desired, applied(desired, {"spec": {"hard": {"requests.cpu": "4000m"}}}, fields)
    )
    assert not unchanged(
        desired, applied(desired, {"spec": {"hard": {"requests.cpu": "5"}}}, fields)
    )


def test_a_null_item_of_a_set_is_left_to_the_server() -> None:
    desired = widget(tags=["a", None])
    owned = {"f:spec": {"f:tags": {'v:"a"': {}, "v:null": {}}}}
    live = applied(desired, {"spec": {"tags": ["a", None]}}, owned)
    assert not unchanged(desired, live)
    kept = widget(tags=["a"])
    assert unchanged(
        kept, applied(kept, {"spec": {"tags": ["a"]}}, {"f:spec": {"f:tags": {'v:"a"': {}}}})
    )


def test_a_keyed_item_fleetsync_owns_that_the_drift_view_cannot_see_dropped_is_a_change() -> None:
    """The drift view keys named items by name and sees nothing dropped; fleetsync's field set
    still owns the item the manifest no longer declares, so the apply would remove it."""
    desired = widget(items=[{"name": "a"}])
    owned = {"f:spec": {"f:items": {'k:{"name":"a"}': {".": {}, "f:name": {}}}}}
    live_body = {"spec": {"items": [{"name": "a"}, {"name": "b"}]}}
    assert unchanged(desired, applied(desired, live_body, owned))
    owned["f:spec"]["f:items"]['k:{"name":"b"}'] = {".": {}, "f:name": {}}
    assert not unchanged(desired, applied(desired, live_body, owned))


def test_what_the_drift_view_shows_as_drift_is_never_unchanged() -> None:
    """Items keyed by `id` whose names repeat: fleetsync's item is live as declared, but the
    drift view, which keys named items by name, compares it with another manager's item."""
    desired = widget(items=[{"id": 1, "name": "a"}])
    owned = {"f:spec": {"f:items": {'k:{"id":1}': {".": {}, "f:id": {}, "f:name": {}}}}}
    alone = {"spec": {"items": [{"id": 1, "name": "a"}]}}
    assert unchanged(desired, applied(desired, alone, owned))
    crowded = {"spec": {"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "a"}]}}
    assert not unchanged(desired, applied(desired, crowded, owned))


def test_an_apply_entry_s_field_set_that_is_not_an_object_is_none() -> None:
    live = applied(DESIRED, {}, {"f:spec": {}})
    assert applied_fields(live, api_version="v1") == {"f:spec": {}}
    assert applied_fields(live, api_version="v2") is None
    live["metadata"]["managedFields"][0]["fieldsV1"] = ["f:spec"]
    assert applied_fields(live, api_version="v1") is None


def test_the_content_an_entry_can_own_leaves_out_identity_and_what_generators_add() -> None:
    generated = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "web", "creationTimestamp": None},
        "data": {"k": "v"},
        "status": {},
    }
    assert applied_content(generated, {"f:data": {}}) == {"data": {"k": "v"}}
    assert applied_content(generated, {"f:data": {}, "f:status": {}}) == {
        "data": {"k": "v"},
        "status": {},
    }
    labelled = {**generated, "metadata": {"name": "c", "labels": {"a": "b"}}}
    assert applied_content(labelled, {}) == {"metadata": {"labels": {"a": "b"}}, "data": {"k": "v"}}
    assert applied_content({"kind": "ConfigMap", "metadata": None}, {}) == {"metadata": None}
    stamped = {**generated, "metadata": {"name": "c", "creationTimestamp": "2026-01-01T00:00:00Z"}}
    assert applied_content(stamped, {})["metadata"] == {"creationTimestamp": "2026-01-01T00:00:00Z"}
