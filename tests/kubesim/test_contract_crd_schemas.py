"""Custom resources against their CRD's structural schema, on kubesim and a real server: unknown
fields pruned (or kept where the schema preserves them), wrong types refused, defaults filled,
on create, update, merge patch and server-side apply."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kubesim.twin import Answer, Twin, served_crd, status_view

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "default": 1},
                "color": {"type": "string", "default": "red"},
                "ratio": {"type": "number"},
                "enabled": {"type": "boolean"},
                "port": {"x-kubernetes-int-or-string": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "tags": {"type": "array", "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "nested": {
                    "type": "object",
                    "properties": {"a": {"type": "string", "default": "x"}},
                },
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "weight": {"type": "integer", "default": 5},
                        },
                    },
                },
            },
        }
    },
}


class Widgets:
    def __init__(self, twin: Twin, group: str) -> None:
        self.twin = twin
        self.group = group
        self.path = f"/apis/{group}/v1/namespaces/{{ns}}/widgets"

    def body(self, name: str, spec: Any, **extra: Any) -> dict[str, Any]:
        return {
            "apiVersion": f"{self.group}/v1",
            "kind": "Widget",
            "metadata": {"name": name},
            "spec": spec,
            **extra,
        }


@pytest.fixture
def widgets(twin: Twin) -> Iterator[Widgets]:
    group = f"s{uuid.uuid4().hex[:8]}.example.com"
    with served_crd(twin, group=group, kind="Widget", plural="widgets", schema=SCHEMA):
        yield Widgets(twin, group)


def object_view(answer: Answer) -> Any:
    return status_view(answer)


def test_create_prunes_unknown_fields_with_warnings_and_fills_defaults(widgets: Widgets) -> None:
    body = widgets.body(
        "a",
        {
            "bogus": 1,
            "free": {"any": {"deep": True}},
            "nested": {},
            "labels": {"x": "y"},
            "items": [{"name": "i", "junk": 2}],
            "port": "http",
        },
        extra=1,
    )
    answer = widgets.twin.same("POST", widgets.path, body, view=object_view)
    assert answer.body["spec"]["size"] == 1 and "bogus" not in answer.body["spec"]
    assert answer.body["spec"]["items"] == [{"name": "i", "weight": 5}]
    assert answer.warnings == (
        'unknown field "extra"',
        'unknown field "spec.bogus"',
        'unknown field "spec.items[0].junk"',
    )


@pytest.mark.parametrize("validation", ["Strict", "Ignore"])
def test_unknown_fields_are_refused_under_strict_and_silent_under_ignore(
    widgets: Widgets, validation: str
) -> None:
    body = widgets.body("s", {"bogus": 1}, extra=1)
    answer = widgets.twin.same(
        "POST", f"{widgets.path}?fieldValidation={validation}", body, view=object_view
    )
    assert answer.code == (400 if validation == "Strict" else 201)


def causes_view(answer: Answer) -> Any:
    """A failure's causes (sorted: the real server lists them in Go's map order)."""
    view = status_view(answer)
    return {k: v for k, v in view.items() if k != "message"}


def test_wrong_types_are_invalid_with_a_cause_each(widgets: Widgets) -> None:
    body = widgets.body(
        "w",
        {
            "size": "big",
            "tags": "x",
            "color": 3,
            "enabled": "yes",
            "ratio": "1.5",
            "port": True,
            "labels": {"k": 1},
        },
    )
    answer = widgets.twin.same("POST", widgets.path, body, view=causes_view)
    assert answer.code == 422 and len(answer.body["details"]["causes"]) == 7
    one = widgets.twin.same(
        "POST", widgets.path, widgets.body("w", {"size": "big"}), view=object_view
    )
    assert one.message.endswith('spec.size in body must be of type integer: "string"')


def test_update_and_merge_patch_are_checked_too(widgets: Widgets) -> None:
    twin = widgets.twin
    twin.same("POST", widgets.path, widgets.body("u", {"size": 2}), view=object_view)
    unconditional = twin.same(
        "PUT", f"{widgets.path}/u", widgets.body("u", {"bogus": True}), view=object_view
    )
    assert unconditional.code == 422  # a custom resource's update names its resourceVersion
    twin.same(
        "PATCH",
        f"{widgets.path}/u",
        {"spec": {"size": "x", "other": 2}},
        content_type=MERGE,
        view=object_view,
    )
    answer = twin.same(
        "PATCH",
        f"{widgets.path}/u",
        {"spec": {"nested": {}, "other": 2}},
        content_type=MERGE,
        view=object_view,
    )
    assert answer.body["spec"]["nested"] == {"a": "x"}


@pytest.mark.parametrize(
    "spec",
    [{"size": "big"}, {"bogus": 1}, {"enabled": 1}],
    ids=["wrong-type", "unknown", "wrong-boolean"],
)
def test_apply_that_breaks_the_schema_is_a_500(widgets: Widgets, spec: Any) -> None:
    answer = widgets.twin.same(
        "PATCH",
        f"{widgets.path}/a?fieldManager=fs",
        widgets.body("a", spec),
        content_type=APPLY,
        view=object_view,
    )
    assert answer.code == 500


def test_apply_fills_defaults_and_keeps_preserved_fields(widgets: Widgets) -> None:
    body = widgets.body("d", {"free": {"anything": [1, 2]}, "nested": {}})
    answer = widgets.twin.same(
        "PATCH", f"{widgets.path}/d?fieldManager=fs", body, content_type=APPLY, view=object_view
    )
    assert answer.body["spec"] == {
        "color": "red",
        "free": {"anything": [1, 2]},
        "nested": {"a": "x"},
        "size": 1,
    }
    widgets.twin.same(
        "PATCH", f"{widgets.path}/d?fieldManager=fs", body, content_type=APPLY, view=object_view
    )
