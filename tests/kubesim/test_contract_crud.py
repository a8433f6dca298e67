"""Object lifecycle through the official client: create, read, list, replace, patch, delete."""

from __future__ import annotations

import json

import pytest
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

from tests.kubesim.conftest import unique
from tests.kubesim.manifests import configmap, deployment


def cms(dyn: DynamicClient):  # type: ignore[no-untyped-def]
    return dyn.resources.get(api_version="v1", kind="ConfigMap")


def test_created_object_gets_uid_timestamp_and_resource_version(
    dyn: DynamicClient, namespace: str
) -> None:
    created = cms(dyn).create(body=configmap("a", {"k": "v"}), namespace=namespace)
    fetched = cms(dyn).get(name="a", namespace=namespace)
    assert created.metadata.uid and created.metadata.creationTimestamp
    assert fetched.metadata.resourceVersion == created.metadata.resourceVersion
    assert fetched.data.k == "v"


def test_generate_name_yields_a_unique_name_with_the_prefix(
    dyn: DynamicClient, namespace: str
) -> None:
    body = configmap("")
    body["metadata"] = {"generateName": "gen-"}
    a = cms(dyn).create(body=body, namespace=namespace)
    b = cms(dyn).create(body=body, namespace=namespace)
    assert a.metadata.name.startswith("gen-") and a.metadata.name != b.metadata.name


def test_list_is_a_typed_list_with_its_own_resource_version(
    dyn: DynamicClient, namespace: str
) -> None:
    cms(dyn).create(body=configmap("a"), namespace=namespace)
    cms(dyn).create(body=configmap("b"), namespace=namespace)
    listed = cms(dyn).get(namespace=namespace)
    assert listed.kind == "ConfigMapList"
    assert listed.metadata.resourceVersion
    assert {"a", "b"} <= {i.metadata.name for i in listed.items}


def test_list_across_all_namespaces_finds_objects_everywhere(
    dyn: DynamicClient, namespace: str
) -> None:
    cms(dyn).create(body=configmap("everywhere", labels={"probe": namespace}), namespace=namespace)
    listed = cms(dyn).get(label_selector=f"probe={namespace}")
    assert [(i.metadata.namespace, i.metadata.name) for i in listed.items] == [
        (namespace, "everywhere")
    ]


def test_label_and_field_selectors_filter_lists(dyn: DynamicClient, namespace: str) -> None:
    cms(dyn).create(body=configmap("a", labels={"tier": "web"}), namespace=namespace)
    cms(dyn).create(body=configmap("b", labels={"tier": "db"}), namespace=namespace)
    cms(dyn).create(body=configmap("c"), namespace=namespace)
    names = lambda **kw: sorted(  # noqa: E731
        i.metadata.name for i in cms(dyn).get(namespace=namespace, **kw).items
    )
    assert names(label_selector="tier=web") == ["a"]
    assert names(label_selector="tier in (web,db)") == ["a", "b"]
    assert names(label_selector="!tier") == ["c", "kube-root-ca.crt"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b") == ["a", "c", "kube-root-ca.crt"]


def test_creating_an_existing_name_is_already_exists(dyn: DynamicClient, namespace: str) -> None:
    cms(dyn).create(body=configmap("a"), namespace=namespace)
    with pytest.raises(ConflictError) as err:
        cms(dyn).create(body=configmap("a"), namespace=namespace)
    assert json.loads(err.value.body)["reason"] == "AlreadyExists"


def test_missing_object_is_not_found_with_a_status_body(dyn: DynamicClient, namespace: str) -> None:
    with pytest.raises(NotFoundError) as err:
        cms(dyn).get(name="nope", namespace=namespace)
    status = json.loads(err.value.body)
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "NotFound", 404)
    assert status["details"]["name"] == "nope"


def test_replace_with_a_stale_resource_version_is_a_conflict(
    dyn: DynamicClient, namespace: str
) -> None:
    first = cms(dyn).create(body=configmap("a", {"v": "1"}), namespace=namespace).to_dict()
    cms(dyn).replace(body={**first, "data": {"v": "2"}}, namespace=namespace)
    with pytest.raises(ConflictError) as err:
        cms(dyn).replace(body={**first, "data": {"v": "3"}}, namespace=namespace)
    assert json.loads(err.value.body)["reason"] == "Conflict"


def test_replace_moves_resource_version_forward(dyn: DynamicClient, namespace: str) -> None:
    first = cms(dyn).create(body=configmap("a", {"v": "1"}), namespace=namespace).to_dict()
    second = cms(dyn).replace(body={**first, "data": {"v": "2"}}, namespace=namespace)
    assert int(second.metadata.resourceVersion) > int(first["metadata"]["resourceVersion"])
    assert second.data.v == "2"


def test_merge_json_and_strategic_patches_apply(dyn: DynamicClient, namespace: str) -> None:
    deploys = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    deploys.create(body=deployment("web"), namespace=namespace)
    deploys.patch(
        name="web",
        namespace=namespace,
        body={"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
    )
    deploys.patch(
        name="web",
        namespace=namespace,
        content_type="application/json-patch+json",
        body=[{"op": "add", "path": "/metadata/labels/patched", "value": "yes"}],
    )
    out = deploys.patch(
        name="web",
        namespace=namespace,
        content_type="application/strategic-merge-patch+json",
        body={
            "spec": {
                "template": {"spec": {"containers": [{"name": "sidecar", "image": "proxy:1"}]}}
            }
        },
    )
    assert out.spec.replicas == 3 and out.metadata.labels.patched == "yes"
    # Without $setElementOrder, a new item goes before the items the patch does not list.
    assert [c.name for c in out.spec.template.spec.containers] == ["sidecar", "app"]


def test_generation_moves_with_spec_changes_only(dyn: DynamicClient, namespace: str) -> None:
    deploys = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    created = deploys.create(body=deployment("web"), namespace=namespace)
    labelled = deploys.patch(
        name="web",
        namespace=namespace,
        body={"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    )
    scaled = deploys.patch(
        name="web",
        namespace=namespace,
        body={"spec": {"replicas": 2}},
        content_type="application/merge-patch+json",
    )
    assert created.metadata.generation == labelled.metadata.generation == 1
    assert scaled.metadata.generation == 2


def test_cluster_scoped_objects_have_no_namespace(dyn: DynamicClient) -> None:
    roles = dyn.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="ClusterRole")
    name = unique("kubesim-contract-reader")
    body = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    try:
        created = roles.create(body=body)
        assert created.metadata.namespace is None
        assert roles.get(name=name).rules[0].verbs == ["get"]
    finally:
        roles.delete(name=name)
    with pytest.raises(NotFoundError):
        roles.get(name=name)


def test_delete_collection_removes_only_selected_objects(
    dyn: DynamicClient, namespace: str
) -> None:
    cms(dyn).create(body=configmap("a", labels={"gone": "yes"}), namespace=namespace)
    cms(dyn).create(body=configmap("b"), namespace=namespace)
    cms(dyn).delete(namespace=namespace, label_selector="gone=yes")
    left = sorted(i.metadata.name for i in cms(dyn).get(namespace=namespace).items)
    assert left == ["b", "kube-root-ca.crt"]


def test_dry_run_create_patch_and_delete_store_nothing(dyn: DynamicClient, namespace: str) -> None:
    dry = cms(dyn).create(body=configmap("a", {"v": "1"}), namespace=namespace, dry_run="All")
    assert dry.metadata.name == "a"
    with pytest.raises(NotFoundError):
        cms(dyn).get(name="a", namespace=namespace)
    cms(dyn).create(body=configmap("a", {"v": "1"}), namespace=namespace)
    before = cms(dyn).get(name="a", namespace=namespace).metadata.resourceVersion
    patched = cms(dyn).patch(
        name="a",
        namespace=namespace,
        body={"data": {"v": "2"}},
        content_type="application/merge-patch+json",
        dry_run="All",
    )
    assert patched.data.v == "2"
    cms(dyn).delete(name="a", namespace=namespace, dry_run="All")
    after = cms(dyn).get(name="a", namespace=namespace)
    assert (after.data.v, after.metadata.resourceVersion) == ("1", before)
