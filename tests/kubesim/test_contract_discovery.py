"""Discovery as the official client and kubectl read it (contract: runs against any cluster)."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.dynamic import DynamicClient

BUILTIN_KINDS = [
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "Pod"),
    ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
]


def test_version_has_every_field_the_client_model_requires(api_client: ApiClient) -> None:
    info = client.VersionApi(api_client).get_code()
    assert info.major == "1" and info.git_version.startswith("v1.")
    assert info.platform and info.go_version and info.build_date and info.compiler


@pytest.mark.parametrize(("api_version", "kind"), BUILTIN_KINDS)
def test_builtin_kind_is_discoverable(dyn: DynamicClient, api_version: str, kind: str) -> None:
    resource = dyn.resources.get(api_version=api_version, kind=kind)
    assert resource.kind == kind
    assert "get" in resource.verbs and "list" in resource.verbs


def test_core_resources_carry_scope_verbs_and_short_names(api_client: ApiClient) -> None:
    resources = {r.name: r for r in client.CoreV1Api(api_client).get_api_resources().resources}
    cm = resources["configmaps"]
    assert cm.namespaced is True and cm.kind == "ConfigMap" and "cm" in cm.short_names
    assert set(cm.verbs) >= {"create", "delete", "get", "list", "patch", "update", "watch"}
    assert resources["namespaces"].namespaced is False
    assert "pods/status" in resources


def test_apps_group_advertises_status_and_scale_subresources(api_client: ApiClient) -> None:
    names = {r.name for r in client.AppsV1Api(api_client).get_api_resources().resources}
    assert {"deployments", "deployments/status", "deployments/scale"} <= names


def test_group_list_names_preferred_versions(api_client: ApiClient) -> None:
    groups = {g.name: g for g in client.ApisApi(api_client).get_api_versions().groups}
    assert groups["apps"].preferred_version.group_version == "apps/v1"
    assert "apiextensions.k8s.io" in groups
