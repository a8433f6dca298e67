"""What makes a bundle invalid before any cluster is asked, said in whole sentences, and the
namespace `sync.createNamespace` provides."""

from __future__ import annotations

from typing import Any

from fleetsync.shared.kube.targets import (
    NAMESPACES,
    Target,
    bundle_problems,
    namespace_target,
    well_formed,
)
from fleetsync.shared.model import ChangeAction, ResourceKey


def cm(name: str = "cfg", **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **metadata}}


def secret(name: str, *, data: Any, string_data: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "web"},
        "data": data,
        "stringData": string_data,
    }


def test_every_problem_of_a_bundle_is_named_in_order_in_whole_sentences() -> None:
    bundle = [
        {"kind": "", "metadata": {"name": 5}},
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "m", "annotations": {"argocd.argoproj.io/hook": "Later"}},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "g-"}},
        cm("twice"),
        cm("twice"),
        cm("wave", annotations={"fleetsync.io/sync-wave": " two "}),
        secret("creds", data={"b": "eA==", "a": "eA==", "c": "eA=="}, string_data={"b": 1, "a": 2}),
    ]
    problems = bundle_problems(bundle)
    assert all(p.action is ChangeAction.FAILED for p in problems)
    assert [(str(p.key), p.message) for p in problems] == [
        ("core//_/5", "invalid manifest: missing apiVersion, kind, metadata.name"),
        (
            "batch/Job/_/m",
            "annotation argocd.argoproj.io/hook: unknown hook phase 'Later'; use PreSync, Sync, "
            "PostSync, SyncFail, PostDelete or Skip",
        ),
        (
            "core/ConfigMap/_/g-",
            "metadata.generateName on an object that is not a hook: every sync would create a new "
            "object; give it a metadata.name or make it a hook",
        ),
        ("core/ConfigMap/_/twice", "declared twice in the bundle; keep one"),
        (
            "core/ConfigMap/_/wave",
            "annotation fleetsync.io/sync-wave: 'two' is not an integer; use a whole number such "
            "as -1, 0 or 5",
        ),
        (
            "core/Secret/web/creds",
            "key a, b is in both data and stringData (the API server would silently keep the "
            "stringData value); keep it in one of them",
        ),
    ]


def test_a_declared_twice_object_is_still_checked_for_its_other_problems() -> None:
    bad_wave = cm("w", annotations={"argocd.argoproj.io/sync-wave": "x"})
    assert [p.message.split(";")[0] for p in bundle_problems([bad_wave, bad_wave])] == [
        "annotation argocd.argoproj.io/sync-wave: 'x' is not an integer",
        "declared twice in the bundle",
        "annotation argocd.argoproj.io/sync-wave: 'x' is not an integer",
    ]


def test_a_name_or_kind_that_is_empty_or_not_a_string_is_missing() -> None:
    cases = [
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ""}}, "metadata.name"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": None}, "metadata.name"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": ["a"]}, "metadata.name"),
        ({"apiVersion": "v1", "kind": "", "metadata": {"name": "a"}}, "kind"),
        ({"apiVersion": 1, "kind": "ConfigMap", "metadata": {"name": "a"}}, "apiVersion"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ["a"]}}, "metadata.name"),
    ]
    for obj, missing in cases:
        assert [p.message for p in bundle_problems([obj])] == [
            f"invalid manifest: missing {missing}"
        ], obj


def test_a_secret_whose_data_or_string_data_is_not_a_mapping_has_no_key_twice() -> None:
    assert bundle_problems([secret("s", data={"a": "eA=="}, string_data=None)]) == ()
    assert bundle_problems([secret("s", data=None, string_data={"a": "x"})]) == ()
    assert bundle_problems([secret("s", data={"a": "eA=="}, string_data={"b": "x"})]) == ()
    not_a_secret = {**secret("s", data={"a": "eA=="}, string_data={"a": "x"}), "kind": "Other"}
    assert bundle_problems([not_a_secret]) == ()


def test_well_formed_keeps_what_is_whole_duplicates_included() -> None:
    hook_by_generate_name = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "p-"}}
    objects = [cm("a"), {"kind": "ConfigMap", "metadata": {"name": "b"}}, cm("a")]
    assert well_formed([*objects, hook_by_generate_name]) == (
        cm("a"),
        cm("a"),
        hook_by_generate_name,
    )


def test_the_namespace_create_namespace_provides_is_created_only_and_names_its_application() -> (
    None
):
    assert namespace_target("web", app="guestbook") == Target(
        key=ResourceKey.parse("core/Namespace/_/web"),
        resource=NAMESPACES,
        obj={
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "web",
                "labels": {"app.kubernetes.io/managed-by": "fleetsync"},
                "annotations": {"fleetsync.io/created-for": "guestbook"},
            },
        },
        create_only=True,
    )
    assert (NAMESPACES.group, NAMESPACES.version, NAMESPACES.kind) == ("", "v1", "Namespace")
    assert (NAMESPACES.plural, NAMESPACES.namespaced) == ("namespaces", False)
