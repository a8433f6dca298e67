"""CustomResourceDefinitions: establishment, discovery, serving, and cleanup on deletion."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from tests.kubesim.conftest import dynamic_client
from tests.kubesim.manifests import eventually


def crd(group: str, plural: str = "widgets", kind: str = "Widget") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "shortNames": ["wdg"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def established(dyn: DynamicClient, name: str) -> bool:
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    conditions = (crds.get(name=name).to_dict().get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:8]}.kubesim.example.com"


def test_crd_becomes_established_discoverable_and_servable(
    api_client: ApiClient, tmp_path: Path, group: str, namespace: str
) -> None:
    dyn = dynamic_client(api_client, tmp_path)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.create(body=crd(group))
    try:
        eventually(lambda: established(dyn, f"widgets.{group}"))
        fresh = dynamic_client(api_client, tmp_path)
        widgets = fresh.resources.get(api_version=f"{group}/v1", kind="Widget")
        assert widgets.namespaced and "wdg" in widgets.short_names
        widgets.create(
            namespace=namespace,
            body={
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": "w"},
                "spec": {"size": 3},
            },
        )
        assert widgets.get(name="w", namespace=namespace).spec.size == 3
    finally:
        crds.delete(name=f"widgets.{group}")


def test_deleting_a_crd_removes_its_objects_and_its_discovery_entry(
    api_client: ApiClient, tmp_path: Path, group: str, namespace: str
) -> None:
    dyn = dynamic_client(api_client, tmp_path)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.create(body=crd(group))
    eventually(lambda: established(dyn, f"widgets.{group}"))
    widgets = dynamic_client(api_client, tmp_path).resources.get(
        api_version=f"{group}/v1", kind="Widget"
    )
    widgets.create(
        namespace=namespace,
        body={"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}},
    )
    crds.delete(name=f"widgets.{group}")

    def crd_gone() -> bool:
        try:
            crds.get(name=f"widgets.{group}")
        except NotFoundError:
            return True
        return False

    eventually(crd_gone, timeout=30)
    with pytest.raises(ResourceNotFoundError):
        dynamic_client(api_client, tmp_path).resources.get(api_version=f"{group}/v1", kind="Widget")
