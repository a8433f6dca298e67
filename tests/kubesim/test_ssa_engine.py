"""The server-side apply engine as pure code over dicts (no HTTP)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesim.fieldpaths import field_set, from_fields_v1, to_fields_v1
from kubesim.listschema import builtin_list_schema, crd_list_schema
from kubesim.managedfields import decode_entries, record_update
from kubesim.ssa import ApplyConflict, apply_configuration

SCHEMA = builtin_list_schema("Deployment")


def deploy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
    }


def apply(
    live: dict[str, Any] | None, cfg: dict[str, Any], manager: str, force: bool = False
) -> dict[str, Any]:
    return apply_configuration(
        live,
        cfg,
        manager=manager,
        force=force,
        schema=SCHEMA,
        ignore_status=True,
        now="2026-01-01T00:00:00Z",
    ).object


def owners(obj: dict[str, Any]) -> dict[str, set[tuple[str, ...]]]:
    return {e.manager: e.fields for e in decode_entries(obj)}


def containers(*items: dict[str, Any]) -> dict[str, Any]:
    return {"template": {"spec": {"containers": list(items)}}}


def test_field_set_round_trips_through_fields_v1() -> None:
    obj = deploy(
        replicas=2, **containers({"name": "a", "image": "x", "ports": [{"containerPort": 80}]})
    )
    fields = field_set(obj, SCHEMA, ignore_status=True)
    assert from_fields_v1(to_fields_v1(fields)) == fields
    encoded = to_fields_v1(fields)
    item = encoded["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"a"}']
    assert "." in item and "f:image" in item
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in item["f:ports"]


def test_field_set_leaves_out_identity_and_status_when_status_is_a_subresource() -> None:
    obj = {**deploy(replicas=1), "status": {"replicas": 1}}
    fields = field_set(obj, SCHEMA, ignore_status=True)
    assert ("f:spec", "f:replicas") in fields
    assert not any(p[0] in ("f:status", "f:apiVersion", "f:kind") for p in fields)
    assert not any(p[:2] == ("f:metadata", "f:name") for p in fields)


def test_apply_on_nothing_creates_and_records_an_apply_manager() -> None:
    obj = apply(None, deploy(replicas=2), "fleetsync")
    assert obj["spec"]["replicas"] == 2
    entry = obj["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"]) == ("fleetsync", "Apply")
    assert entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


def test_conflicting_value_owned_by_another_manager_is_refused_naming_it() -> None:
    live = apply(None, deploy(replicas=2), "alice")
    with pytest.raises(ApplyConflict) as err:
        apply(live, deploy(replicas=3), "bob")
    assert [(c.manager, c.field) for c in err.value.conflicts] == [("alice", ".spec.replicas")]
    assert 'conflict with "alice": .spec.replicas' in str(err.value)


def test_same_value_is_shared_ownership_not_a_conflict() -> None:
    live = apply(None, deploy(replicas=2), "alice")
    obj = apply(live, deploy(replicas=2), "bob")
    assert ("f:spec", "f:replicas") in owners(obj)["alice"]
    assert ("f:spec", "f:replicas") in owners(obj)["bob"]


def test_force_takes_ownership_from_the_other_manager() -> None:
    live = apply(None, deploy(replicas=2, paused=False), "alice")
    obj = apply(live, deploy(replicas=3), "bob", force=True)
    assert obj["spec"]["replicas"] == 3
    assert ("f:spec", "f:replicas") not in owners(obj)["alice"]
    assert ("f:spec", "f:paused") in owners(obj)["alice"]
    assert owners(obj)["bob"] == {("f:spec", "f:replicas")}


def test_field_dropped_from_configuration_and_owned_by_nobody_else_is_removed() -> None:
    live = apply(None, deploy(replicas=2, paused=True), "alice")
    obj = apply(live, deploy(replicas=2), "alice")
    assert "paused" not in obj["spec"]


def test_field_dropped_but_still_owned_by_another_manager_stays() -> None:
    live = apply(None, deploy(replicas=2, paused=True), "alice")
    live = apply(live, deploy(paused=True), "bob")
    obj = apply(live, deploy(replicas=2), "alice")
    assert obj["spec"]["paused"] is True


def test_dropped_label_disappears_and_empty_map_goes_with_it() -> None:
    cfg = deploy(replicas=1)
    cfg["metadata"]["labels"] = {"a": "1"}
    live = apply(None, cfg, "alice")
    obj = apply(live, deploy(replicas=1), "alice")
    assert "labels" not in obj["metadata"]


def test_containers_merge_by_name_across_managers() -> None:
    live = apply(None, deploy(**containers({"name": "app", "image": "app:1"})), "alice")
    obj = apply(live, deploy(**containers({"name": "sidecar", "image": "proxy:1"})), "bob")
    names = [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]]
    assert names == ["app", "sidecar"]


def test_dropped_container_is_removed_from_the_list() -> None:
    live = apply(
        None,
        deploy(**containers({"name": "a", "image": "x"}, {"name": "b", "image": "y"})),
        "alice",
    )
    obj = apply(live, deploy(**containers({"name": "a", "image": "x"})), "alice")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["a"]


def test_env_merges_by_name_and_ports_by_port_and_protocol() -> None:
    first = {
        "name": "a",
        "image": "x",
        "env": [{"name": "A", "value": "1"}],
        "ports": [{"containerPort": 80}],
    }
    second = {
        "name": "a",
        "env": [{"name": "B", "value": "2"}],
        "ports": [{"containerPort": 80, "protocol": "UDP"}],
    }
    live = apply(None, deploy(**containers(first)), "alice")
    obj = apply(live, deploy(**containers(second)), "bob")
    c = obj["spec"]["template"]["spec"]["containers"][0]
    assert [e["name"] for e in c["env"]] == ["A", "B"]
    assert len(c["ports"]) == 2


def test_lists_without_keys_are_atomic() -> None:
    live = apply(None, deploy(**containers({"name": "a", "args": ["1", "2"]})), "alice")
    obj = apply(live, deploy(**containers({"name": "a", "args": ["3"]})), "alice")
    assert obj["spec"]["template"]["spec"]["containers"][0]["args"] == ["3"]


def test_crd_schema_list_map_keys_make_lists_merge() -> None:
    schema = crd_list_schema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "items": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["id"],
                            "items": {"type": "object"},
                        }
                    },
                }
            },
        }
    )
    assert schema[("spec", "items")] == ("id",)


def test_update_takes_changed_fields_from_the_applier_without_conflict() -> None:
    live = apply(None, deploy(replicas=2), "fleetsync")
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 5
    entries = record_update(
        live,
        edited,
        manager="kubectl-edit",
        api_version="apps/v1",
        subresource="",
        schema=SCHEMA,
        ignore_status=True,
        now="t",
        entries=decode_entries(live),
    )
    by_manager = {e.manager: e.fields for e in entries}
    assert by_manager == {"kubectl-edit": {("f:spec", "f:replicas")}}
