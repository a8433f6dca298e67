"""Small manifests for the live tests, and a one-call sync with test defaults."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fleetsync.shared.kube.client import ClusterClient
from fleetsync.shared.kube.inventory import Inventory
from fleetsync.shared.kube.sync import SyncResult, sync_application
from fleetsync.shared.model.bundle import Bundle, Manifest
from fleetsync.shared.model.declaration import SyncPolicy


def namespace(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, **({"annotations": annotations} if annotations else {})},
    }


def config_map(
    name: str,
    ns: str | None = "web",
    *,
    data: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if ns:
        metadata["namespace"] = ns
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": data or {"k": "v"},
    }


def deployment(
    name: str, ns: str = "web", *, replicas: int = 1, wave: int | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": ns}
    if wave is not None:
        metadata["annotations"] = {"fleetsync.io/sync-wave": str(wave)}
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": f"example/{name}:1"}]},
            },
        },
    }


def service(name: str, ns: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


def secret(name: str, ns: str = "web", *, token: str = "c2VjcmV0") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "data": {"token": token},
    }


def widget_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "kind": "Widget",
                "plural": "widgets",
                "singular": "widget",
                "listKind": "WidgetList",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
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


def widget(name: str, ns: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"size": 3},
    }


def sync(
    client: ClusterClient,
    objects: Iterable[Manifest],
    *,
    app: str = "web",
    previous: Inventory | None = None,
    previous_nonempty: bool | None = None,
    namespace: str | None = "web",
    wait_for_waves: bool = False,
    timeout: float = 10.0,
    **policy: Any,
) -> SyncResult:
    """`sync_application` with test defaults: prune on, conflicts forced, as application `web`."""
    previous = previous if previous is not None else Inventory()
    return sync_application(
        client=client,
        app=app,
        bundle=Bundle.of(objects),
        previous=previous,
        policy=SyncPolicy(**policy),
        namespace=namespace,
        previous_nonempty=bool(previous) if previous_nonempty is None else previous_nonempty,
        wait_for_waves=wait_for_waves,
        timeout=timeout,
    )
