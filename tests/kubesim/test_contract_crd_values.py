"""Custom resources against their CRD's validation keywords, on kubesim and a real server: values
out of range, too long or short, off pattern or enum, missing where required, refused with the
same 422 Invalid causes, on create, merge patch and server-side apply."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kubesim.twin import Twin, any_cause_order, served_crd

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 1000000},
                "ratio": {
                    "type": "number",
                    "exclusiveMinimum": True,
                    "minimum": 0,
                    "exclusiveMaximum": True,
                    "maximum": 1.5,
                },
                "step": {"type": "integer", "multipleOf": 5},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "level": {"type": "integer", "enum": [1, 2]},
                "name": {"type": "string", "minLength": 3, "maxLength": 5, "pattern": "^[a-z]+$"},
                "tags": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 2,
                    "items": {"type": "string", "maxLength": 2},
                },
                "labels": {
                    "type": "object",
                    "maxProperties": 1,
                    "minProperties": 1,
                    "additionalProperties": {"type": "string", "enum": ["x"]},
                },
                "limits": {
                    "type": "object",
                    "additionalProperties": {"x-kubernetes-int-or-string": True},
                },
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "properties": {"port": {"type": "integer", "maximum": 65535}},
                    },
                },
            },
        }
    },
}


@pytest.fixture
def gadgets(twin: Twin) -> Iterator[str]:
    group = f"v{uuid.uuid4().hex[:8]}.example.com"
    with served_crd(twin, group=group, kind="Gadget", plural="gadgets", schema=SCHEMA) as path:
        yield path


def gadget(path: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    group = path.split("/")[2]
    return {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": name}, "spec": spec}


BAD = {
    "range": {"size": 0, "ratio": 1.5, "step": 7},
    "range-high": {"size": 2000000, "ratio": 0},
    "enum": {"size": 1, "mode": "z", "level": 3},
    "string": {"size": 1, "name": "ABCDEFG", "tags": ["abc"]},
    "short": {"size": 1, "name": "a1"},
    "items": {"size": 1, "tags": ["a", "b", "c"], "labels": {}},
    "properties": {"size": 1, "labels": {"p": "y", "q": "x"}},
    "required": {"mode": "b", "ports": [{"port": 70000}, {}]},
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_value_its_schema_refuses_is_invalid_on_create(
    twin: Twin, gadgets: str, case: str
) -> None:
    refused = twin.same("POST", gadgets, gadget(gadgets, "g", BAD[case]), view=any_cause_order)
    assert (refused.code, refused.reason) == (422, "Invalid")


def test_valid_values_are_stored_and_defaults_are_checked_too(twin: Twin, gadgets: str) -> None:
    good = {
        "size": 5,
        "ratio": 0.5,
        "step": 10,
        "level": 2,
        "name": "abc",
        "tags": ["a"],
        "labels": {"k": "x"},
        "limits": {"cpu": 1, "memory": "1Gi"},
        "ports": [{"port": 80}],
    }
    created = twin.same("POST", gadgets, gadget(gadgets, "ok", good), view=any_cause_order)
    assert created.code == 201 and created.body["spec"]["mode"] == "a"


def test_patches_and_applies_are_refused_alike(twin: Twin, gadgets: str) -> None:
    twin.same("POST", gadgets, gadget(gadgets, "p", {"size": 2}), view=lambda a: a.code)
    patched = twin.same(
        "PATCH",
        f"{gadgets}/p",
        {"spec": {"size": 0, "mode": "c"}},
        content_type=MERGE,
        view=any_cause_order,
    )
    assert patched.code == 422
    applied = twin.same(
        "PATCH",
        f"{gadgets}/p?fieldManager=fs&force=true",
        gadget(gadgets, "p", {"size": 1, "name": "toolongname"}),
        content_type=APPLY,
        view=any_cause_order,
    )
    assert applied.code == 422
    created = twin.same(
        "PATCH",
        f"{gadgets}/q?fieldManager=fs",
        gadget(gadgets, "q", {"level": 9}),
        content_type=APPLY,
        view=any_cause_order,
    )
    assert created.code == 422
