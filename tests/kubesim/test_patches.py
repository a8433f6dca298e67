"""JSON merge patch, JSON patch and strategic merge patch as pure functions."""

from __future__ import annotations

import pytest

from kubesim.listschema import builtin_list_schema
from kubesim.patches import PatchError, json_patch, merge_patch, strategic_merge_patch

POD = builtin_list_schema("Pod")


def test_merge_patch_merges_maps_and_null_deletes() -> None:
    out = merge_patch({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": None, "e": 3}, "d": [2]})
    assert out == {"a": {"c": 2, "e": 3}, "d": [2]}


def test_json_patch_applies_operations_in_order() -> None:
    doc = {"a": [1, 2], "b": {"c": 1}}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "replace", "path": "/b/c", "value": 2},
            {"op": "remove", "path": "/a/0"},
            {"op": "test", "path": "/b/c", "value": 2},
        ],
    )
    assert out == {"a": [2, 3], "b": {"c": 2}}
    assert doc == {"a": [1, 2], "b": {"c": 1}}


def test_json_patch_failing_test_operation_is_an_error() -> None:
    with pytest.raises(PatchError):
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])


def test_strategic_merge_patch_merges_containers_by_name() -> None:
    pod = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    out = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "b", "image": "z"}]}}, POD)
    assert out["spec"]["containers"] == [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}]


def test_strategic_merge_patch_delete_directive_removes_an_item() -> None:
    pod = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    out = strategic_merge_patch(
        pod,
        {
            "spec": {
                "containers": [{"name": "a", "$patch": "delete"}],
                "$setElementOrder/containers": [{"name": "b"}],
            }
        },
        POD,
    )
    assert out["spec"]["containers"] == [{"name": "b"}]


def test_strategic_merge_patch_replaces_lists_without_merge_keys() -> None:
    pod = {"spec": {"containers": [{"name": "a", "args": ["1", "2"]}]}}
    out = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "a", "args": ["3"]}]}}, POD)
    assert out["spec"]["containers"][0]["args"] == ["3"]
