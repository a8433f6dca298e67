"""Manifests to objects: safe parsing, Lists, required fields, duplicates, namespace defaulting."""

from __future__ import annotations

import time

import pytest

from fleetsync.shared.model.declaration import DirectoryOptions
from fleetsync.shared.render import RenderError
from fleetsync.shared.render.documents import parse_documents
from fleetsync.shared.render.request import RenderLimits
from tests.unit.shared.render.repos import Repo, by_name, configmap, names

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: %(plural)s.example.com}
spec:
  group: example.com
  scope: %(scope)s
  names: {kind: %(kind)s, plural: %(plural)s}
"""


def test_namespaced_objects_that_name_no_namespace_get_the_default_one(repo: Repo) -> None:
    repo.write(
        {
            "app/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
            "app/cm.yaml": configmap("settings"),
        }
    )
    result = repo.render("app", namespace="guestbook")
    assert names(result) == [
        "apps/Deployment/guestbook/web",
        "core/ConfigMap/guestbook/settings",
    ]


def test_objects_that_name_a_namespace_keep_it(repo: Repo) -> None:
    repo.write({"app/cm.yaml": configmap("settings") + "  namespace: elsewhere\n"})
    assert names(repo.render("app", namespace="guestbook")) == ["core/ConfigMap/elsewhere/settings"]


def test_cluster_scoped_objects_get_no_namespace(repo: Repo) -> None:
    repo.write(
        {
            "app/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: guestbook}\n",
            "app/role.yaml": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                "metadata: {name: reader}\n"
            ),
            "app/sc.yaml": (
                "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: f}\n"
            ),
        }
    )
    result = repo.render("app", namespace="guestbook")
    assert names(result) == [
        "core/Namespace/_/guestbook",
        "rbac.authorization.k8s.io/ClusterRole/_/reader",
        "storage.k8s.io/StorageClass/_/f",
    ]
    assert all("namespace" not in o["metadata"] for o in result.bundle.objects)


def test_custom_resources_follow_the_scope_of_their_definition_in_the_bundle(repo: Repo) -> None:
    repo.write(
        {
            "app/crds.yaml": CRD % {"kind": "Widget", "plural": "widgets", "scope": "Namespaced"}
            + "---\n"
            + CRD % {"kind": "Realm", "plural": "realms", "scope": "Cluster"},
            "app/crs.yaml": (
                "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n"
                "apiVersion: example.com/v1\nkind: Realm\nmetadata: {name: r}\n"
            ),
        }
    )
    result = repo.render("app", namespace="guestbook")
    assert "example.com/Widget/guestbook/w" in names(result)
    assert "example.com/Realm/_/r" in names(result)


def test_custom_kinds_without_a_definition_in_the_bundle_are_left_as_they_are(repo: Repo) -> None:
    repo.write(
        {
            "app/cr.yaml": (
                "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\n"
            )
        }
    )
    result = repo.render("app", namespace="guestbook")
    assert names(result) == ["gateway.networking.k8s.io/Gateway/_/g"]


def test_nothing_but_the_namespace_is_changed(repo: Repo) -> None:
    repo.write(
        {
            "app/cm.yaml": """
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: settings
                  annotations: {a: "1"}
                data: {when: 2024-01-01, on: yes, n: 012}
                status: {kept: true}
                """
        }
    )
    obj = by_name(repo.render("app", namespace="guestbook"), "settings")
    assert obj == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "guestbook", "annotations": {"a": "1"}},
        "data": {"when": "2024-01-01", "true": True, "n": 10},
        "status": {"kept": True},
    }


def test_list_items_become_objects_of_their_own(repo: Repo) -> None:
    repo.write(
        {
            "app/list.yaml": """
                apiVersion: v1
                kind: List
                items:
                  - apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: one}
                  - apiVersion: v1
                    kind: List
                    items:
                      - apiVersion: v1
                        kind: Secret
                        metadata: {name: two}
                """
        }
    )
    assert names(repo.render("app")) == ["core/ConfigMap/_/one", "core/Secret/_/two"]


def test_a_list_item_without_a_name_is_named_by_its_own_line(repo: Repo) -> None:
    repo.write(
        {
            "app/list.yaml": """
                apiVersion: v1
                kind: List
                items:
                  - apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: one}
                  - apiVersion: v1
                    kind: ConfigMap
                    metadata: {}
                """
        }
    )
    with pytest.raises(RenderError, match=r"^guestbook: app/list.yaml:7: object has no metadata"):
        repo.render("app")


def test_invalid_yaml_names_the_file_and_line(repo: Repo) -> None:
    repo.write({"app/cm.yaml": configmap("ok") + "data:\n  a: [1, 2\n  b: 3\n"})
    with pytest.raises(RenderError) as caught:
        repo.render("app")
    assert str(caught.value).startswith("guestbook: app/cm.yaml:7: invalid YAML: ")


def test_invalid_json_names_the_file_and_line(repo: Repo) -> None:
    repo.write({"app/cm.json": '{\n  "apiVersion": "v1",\n  "kind": \n}\n'})
    with pytest.raises(RenderError, match=r"^guestbook: app/cm.json:4: invalid JSON"):
        repo.render("app")


def test_an_object_without_a_name_is_named_with_the_document_line(repo: Repo) -> None:
    repo.write({"app/cm.yaml": configmap("ok") + "---\n# a comment\napiVersion: v1\nkind: A\n"})
    with pytest.raises(RenderError) as caught:
        repo.render("app")
    assert str(caught.value) == "guestbook: app/cm.yaml:7: object has no metadata.name"


def test_documents_that_are_not_objects_are_skipped_with_a_warning_naming_their_lines(
    repo: Repo,
) -> None:
    repo.write({"app/cm.yaml": configmap("ok") + "---\n# a comment\ndata: {a: b}\n"})
    result = repo.render("app")
    assert names(result) == ["core/ConfigMap/_/ok"]
    assert result.warnings == (
        "app/cm.yaml:7: not a Kubernetes object (no apiVersion or kind): skipped",
    )


def test_strict_directories_refuse_documents_that_are_not_objects(repo: Repo) -> None:
    repo.write({"app/cm.yaml": configmap("ok"), "app/list.yaml": "- just\n- a list\n"})
    with pytest.raises(RenderError, match=r"^guestbook: app/list.yaml: not a Kubernetes object"):
        repo.render("app", directory=DirectoryOptions(strict=True))


def test_duplicate_objects_are_refused_naming_both_places(repo: Repo) -> None:
    repo.write(
        {
            "app/a.yaml": configmap("x"),
            "app/b.yaml": configmap("y") + "---\n" + configmap("x") + "  namespace: guestbook\n",
        }
    )
    with pytest.raises(RenderError) as caught:
        repo.render("app", namespace="guestbook")
    assert str(caught.value) == (
        "guestbook: app/a.yaml:1: duplicate object core/ConfigMap/guestbook/x:"
        " declared again at app/b.yaml:6"
    )


def test_duplicate_keys_in_a_mapping_are_refused(repo: Repo) -> None:
    repo.write({"app/cm.yaml": configmap("x") + "data:\n  a: 1\n  a: 2\n"})
    with pytest.raises(RenderError, match=r"^guestbook: app/cm.yaml:7: duplicate key 'a'"):
        repo.render("app")


def test_merge_keys_and_aliases_within_bounds_are_expanded(repo: Repo) -> None:
    repo.write(
        {
            "app/cm.yaml": configmap("x")
            + "data: &base {a: '1'}\nbinaryData:\n  <<: *base\n  b: '2'\n"
        }
    )
    obj = by_name(repo.render("app"), "x")
    assert obj["binaryData"] == {"a": "1", "b": "2"}


def test_yaml_bomb_is_rejected_quickly_with_a_clear_error() -> None:
    layers = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        layers.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = "\n".join(layers) + "\n"
    started = time.perf_counter()
    with pytest.raises(RenderError, match=r"bomb.yaml:\d+: YAML aliases expand to more than"):
        parse_documents(bomb, source="bomb.yaml", app="guestbook", limits=RenderLimits())
    assert time.perf_counter() - started < 0.5


def test_an_alias_that_refers_to_itself_is_refused() -> None:
    with pytest.raises(RenderError, match=r"loop.yaml:1: alias \*a refers to itself"):
        parse_documents("a: &a [*a]\n", source="loop.yaml", app="guestbook", limits=RenderLimits())


def test_deeply_nested_yaml_is_refused_without_crashing_the_parser() -> None:
    deep = "x: " + "[" * 500_000 + "]" * 500_000 + "\n"
    with pytest.raises(RenderError, match=r"deep.yaml:1: nested deeper than 200 levels"):
        parse_documents(deep, source="deep.yaml", app="guestbook", limits=RenderLimits())


def test_nesting_up_to_the_bound_is_parsed() -> None:
    depth = RenderLimits().max_nesting - 2
    text = configmap("deep") + "data:\n  k: " + "[" * depth + "]" * depth + "\n"
    [document] = parse_documents(text, source="ok.yaml", app="guestbook", limits=RenderLimits())
    assert document.obj["metadata"]["name"] == "deep"


HOOK_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  generateName: migrate-
  annotations:
    argocd.argoproj.io/hook: {phase}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: migrate, image: busybox}}]
"""


def test_a_hook_may_use_generate_name_and_is_known_by_its_prefix(repo: Repo) -> None:
    repo.write({"app/migrate.yaml": HOOK_JOB.format(phase="PreSync")})
    assert names(repo.render("app", namespace="guestbook")) == ["batch/Job/guestbook/migrate-"]


def test_generate_name_on_an_object_that_is_not_a_hook_is_refused(repo: Repo) -> None:
    repo.write({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: c-\n"})
    with pytest.raises(RenderError) as caught:
        repo.render("app")
    assert str(caught.value) == (
        "guestbook: app/cm.yaml:1: metadata.generateName 'c-' on an object that is not a hook: "
        "every sync would create a new object; give it a metadata.name, or make it a hook "
        "(argocd.argoproj.io/hook: PreSync, Sync or PostSync)"
    )


def test_a_hook_with_an_unknown_phase_is_refused_at_its_line(repo: Repo) -> None:
    repo.write({"app/cm.yaml": configmap("ok") + "---\n" + HOOK_JOB.format(phase="BeforeSync")})
    with pytest.raises(RenderError, match=r"^guestbook: app/cm.yaml:6: annotation argocd"):
        repo.render("app")
