"""Marks on applied objects, prune opt-outs, bundle validation and change-set counts."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.kube.changeset import Change, ChangeSet
from fleetsync.shared.kube.ownership import mark_managed, owner_of, prune_disabled
from fleetsync.shared.kube.targets import bundle_problems
from fleetsync.shared.model import ChangeAction, ResourceKey


def cm(name: str = "cfg", **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **metadata}}


def test_mark_managed_adds_label_and_annotation_and_keeps_the_rest() -> None:
    original = cm(labels={"app": "web"}, annotations={"note": "keep"})
    marked = mark_managed(original, app="guestbook", namespace="web")
    assert marked["metadata"] == {
        "name": "cfg",
        "namespace": "web",
        "labels": {
            "app": "web",
            "app.kubernetes.io/managed-by": "fleetsync",
            "fleetsync.io/application": "guestbook",
        },
        "annotations": {"note": "keep", "fleetsync.io/application": "guestbook"},
    }
    assert original["metadata"]["labels"] == {"app": "web"}, "the manifest is not mutated"


def test_mark_managed_keeps_a_manifest_namespace_given_and_drops_one_on_cluster_kinds() -> None:
    assert (
        mark_managed(cm(namespace="own"), app="a", namespace="own")["metadata"]["namespace"]
        == "own"
    )
    cluster_scoped = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "x", "namespace": "y"},
    }
    assert "namespace" not in mark_managed(cluster_scoped, app="a", namespace=None)["metadata"]


def test_mark_managed_gives_metadata_to_a_manifest_without_any() -> None:
    bare = {"apiVersion": "v1", "kind": "Namespace"}
    assert mark_managed(bare, app="a", namespace=None) == {
        **bare,
        "metadata": {
            "labels": {
                "app.kubernetes.io/managed-by": "fleetsync",
                "fleetsync.io/application": "a",
            },
            "annotations": {"fleetsync.io/application": "a"},
        },
    }
    nulls = cm(labels=None, annotations=None)
    assert mark_managed(nulls, app="a", namespace="web")["metadata"] == {
        "name": "cfg",
        "namespace": "web",
        "labels": {"app.kubernetes.io/managed-by": "fleetsync", "fleetsync.io/application": "a"},
        "annotations": {"fleetsync.io/application": "a"},
    }
    assert bare == {"apiVersion": "v1", "kind": "Namespace"}, "the manifest is not mutated"


@pytest.mark.parametrize(
    ("annotations", "owner"),
    [
        ({"fleetsync.io/application": "a"}, "a"),
        ({}, None),
        ({"fleetsync.io/application": ""}, None),
        (None, None),
    ],
)
def test_owner_of(annotations: dict[str, str] | None, owner: str | None) -> None:
    assert owner_of(cm(annotations=annotations)) == owner
    assert owner_of({"kind": "ConfigMap", "metadata": None}) is None


@pytest.mark.parametrize(
    ("annotations", "disabled"),
    [
        ({"fleetsync.io/prune": "disabled"}, True),
        ({"fleetsync.io/prune": "Disabled"}, True),
        ({"fleetsync.io/prune": " disabled "}, True),
        ({"argocd.argoproj.io/sync-options": "Prune=false ,Validate=false"}, True),
        ({"argocd.argoproj.io/sync-options": "prune=false"}, False),
        ({"argocd.argoproj.io/sync-options": "Validate=false,Prune=false"}, True),
        ({"argocd.argoproj.io/sync-options": "Prune=false"}, True),
        ({"argocd.argoproj.io/sync-options": "ServerSideApply=true, Prune=false"}, True),
        ({"argocd.argoproj.io/sync-options": "Prune=true"}, False),
        ({"fleetsync.io/prune": "enabled"}, False),
        ({}, False),
    ],
)
def test_prune_disabled(annotations: dict[str, str], disabled: bool) -> None:
    assert prune_disabled(cm(annotations=annotations)) is disabled


@pytest.mark.parametrize(
    ("objects", "problem"),
    [
        pytest.param([cm(), cm()], "declared twice", id="duplicate"),
        pytest.param(
            [{"apiVersion": "v1", "metadata": {"name": "x"}}], "missing kind", id="no-kind"
        ),
        pytest.param(
            [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}],
            "missing metadata.name",
            id="no-name",
        ),
        pytest.param(
            [{"kind": "ConfigMap", "metadata": {"name": "x"}}],
            "missing apiVersion",
            id="no-apiversion",
        ),
        pytest.param(
            [cm(annotations={"fleetsync.io/sync-wave": "two"})], "is not an integer", id="bad-wave"
        ),
    ],
)
def test_bundle_problems_name_what_is_wrong(objects: list[dict[str, Any]], problem: str) -> None:
    problems = bundle_problems(objects)
    assert len(problems) == 1
    assert problems[0].action is ChangeAction.FAILED
    assert problem in problems[0].message


def test_a_valid_bundle_has_no_problems() -> None:
    assert bundle_problems([cm("a"), cm("b", namespace="x"), cm("b", namespace="y")]) == ()


def test_changeset_counts_and_summary() -> None:
    key = ResourceKey.parse("core/ConfigMap/web/a")
    changes = ChangeSet.of(
        [
            Change(key, ChangeAction.CREATED),
            Change(key, ChangeAction.UNCHANGED),
            Change(key, ChangeAction.UNCHANGED),
            Change(key, ChangeAction.FAILED, "boom"),
        ]
    )
    assert changes.count(ChangeAction.UNCHANGED) == 2
    assert changes.counts[ChangeAction.PRUNED] == 0
    assert changes.summary() == "1 created, 2 unchanged, 1 failed"
    assert changes.written == 1
    assert [str(c) for c in changes.failed] == ["core/ConfigMap/web/a: failed: boom"]
    assert ChangeSet.from_json(changes.to_json()) == changes
