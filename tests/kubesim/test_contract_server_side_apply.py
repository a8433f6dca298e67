"""Server-side apply over HTTP: creation, ownership, conflicts, force, removal, dry-run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ApiException, ConflictError

from tests.kubesim.manifests import configmap, deployment


def deploys(dyn: DynamicClient):  # type: ignore[no-untyped-def]
    return dyn.resources.get(api_version="apps/v1", kind="Deployment")


def apply(dyn: DynamicClient, body: dict[str, Any], namespace: str, manager: str, **kw: Any) -> Any:
    kind = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    return kind.server_side_apply(
        body=body, name=body["metadata"]["name"], namespace=namespace, field_manager=manager, **kw
    )


def managers(obj: Any) -> dict[str, str]:
    return {e["manager"]: e["operation"] for e in obj.to_dict()["metadata"]["managedFields"]}


def test_apply_creates_a_missing_object_and_records_an_apply_manager(
    dyn: DynamicClient, namespace: str
) -> None:
    obj = apply(dyn, deployment("web", replicas=2), namespace, "fleetsync")
    assert obj.spec.replicas == 2
    assert managers(obj) == {"fleetsync": "Apply"}
    fields = obj.to_dict()["metadata"]["managedFields"][0]
    assert fields["fieldsType"] == "FieldsV1" and "f:spec" in fields["fieldsV1"]


def test_apply_without_field_manager_is_invalid(dyn: DynamicClient, namespace: str) -> None:
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    with pytest.raises(ApiException) as err:
        cms.patch(
            body=configmap("a"),
            name="a",
            namespace=namespace,
            content_type="application/apply-patch+yaml",
        )
    assert err.value.status == 422
    assert "fieldManager" in json.loads(err.value.body)["message"]


def test_applying_the_same_configuration_again_keeps_the_resource_version(
    dyn: DynamicClient, namespace: str
) -> None:
    first = apply(dyn, configmap("a", {"k": "v"}), namespace, "fleetsync")
    second = apply(dyn, configmap("a", {"k": "v"}), namespace, "fleetsync")
    assert second.metadata.resourceVersion == first.metadata.resourceVersion


def test_conflict_names_the_other_manager_and_the_field(dyn: DynamicClient, namespace: str) -> None:
    apply(dyn, deployment("web", replicas=2), namespace, "fleetsync")
    with pytest.raises(ConflictError) as err:
        apply(dyn, deployment("web", replicas=5), namespace, "intruder")
    status = json.loads(err.value.body)
    assert status["reason"] == "Conflict"
    assert 'conflict with "fleetsync"' in status["message"]
    assert {
        "reason": "FieldManagerConflict",
        "field": ".spec.replicas",
        "message": 'conflict with "fleetsync"',
    } in status["details"]["causes"]


def test_force_takes_ownership_of_conflicting_fields(dyn: DynamicClient, namespace: str) -> None:
    apply(dyn, deployment("web", replicas=2), namespace, "intruder")
    obj = apply(dyn, deployment("web", replicas=3), namespace, "fleetsync", force_conflicts=True)
    assert obj.spec.replicas == 3
    owned = {e["manager"]: e["fieldsV1"] for e in obj.to_dict()["metadata"]["managedFields"]}
    assert "f:replicas" in owned["fleetsync"]["f:spec"]
    assert "f:replicas" not in owned.get("intruder", {}).get("f:spec", {})


def test_field_removed_from_the_configuration_disappears(
    dyn: DynamicClient, namespace: str
) -> None:
    apply(dyn, configmap("a", {"keep": "1", "drop": "2"}), namespace, "fleetsync")
    obj = apply(dyn, configmap("a", {"keep": "1"}), namespace, "fleetsync")
    assert obj.to_dict()["data"] == {"keep": "1"}


def test_removed_field_owned_by_another_manager_stays(dyn: DynamicClient, namespace: str) -> None:
    apply(dyn, configmap("a", {"shared": "1"}), namespace, "fleetsync")
    apply(dyn, configmap("a", {"shared": "1"}), namespace, "other")
    obj = apply(dyn, configmap("a", {}), namespace, "fleetsync")
    assert obj.to_dict()["data"] == {"shared": "1"}


def test_containers_from_two_managers_merge_by_name(dyn: DynamicClient, namespace: str) -> None:
    apply(dyn, deployment("web"), namespace, "fleetsync")
    sidecar = deployment("web")
    del sidecar["spec"]["replicas"]
    sidecar["spec"]["template"]["spec"]["containers"] = [{"name": "proxy", "image": "envoy"}]
    obj = apply(dyn, sidecar, namespace, "mesh")
    assert [c.name for c in obj.spec.template.spec.containers] == ["app", "proxy"]


def test_status_in_an_applied_configuration_is_ignored(dyn: DynamicClient, namespace: str) -> None:
    body = {**deployment("web"), "status": {"replicas": 42}}
    obj = apply(dyn, body, namespace, "fleetsync")
    assert (obj.to_dict().get("status") or {}).get("replicas") != 42


def test_edit_by_another_client_is_recorded_as_an_update_manager(
    dyn: DynamicClient, namespace: str
) -> None:
    apply(dyn, deployment("web", replicas=2), namespace, "fleetsync")
    deploys(dyn).patch(
        name="web",
        namespace=namespace,
        body={"spec": {"replicas": 7}},
        content_type="application/merge-patch+json",
        field_manager="kubectl-edit",
    )
    obj = deploys(dyn).get(name="web", namespace=namespace)
    assert managers(obj)["kubectl-edit"] == "Update"
    with pytest.raises(ConflictError) as err:
        apply(dyn, deployment("web", replicas=2), namespace, "fleetsync")
    assert '"kubectl-edit"' in json.loads(err.value.body)["message"]


def test_dry_run_apply_returns_the_result_and_stores_nothing(
    dyn: DynamicClient, namespace: str
) -> None:
    apply(dyn, configmap("a", {"v": "1"}), namespace, "fleetsync")
    dry = apply(dyn, configmap("a", {"v": "2"}), namespace, "fleetsync", dry_run="All")
    assert dry.data.v == "2"
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    assert cms.get(name="a", namespace=namespace).data.v == "1"
