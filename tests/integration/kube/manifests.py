"""Small manifests for the live tests, and a one-call sync with test defaults.

Every builder takes the namespace (a test's own, `live.ns`); `widget_crd` and `gadget_crd` take
an API group (a test's own, `live.group`), so that tests can share real clusters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from fleetsync.shared.kube.inventory import Inventory
from fleetsync.shared.kube.sync import SyncResult, sync_application
from fleetsync.shared.model.bundle import Bundle, Manifest
from fleetsync.shared.model.declaration import ReplacePolicy, SyncPolicy
from tests.integration.kube.conftest import Live

WAVE = "fleetsync.io/sync-wave"


def namespace(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, **({"annotations": annotations} if annotations else {})},
    }


def config_map(
    name: str,
    ns: str | None,
    *,
    data: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    wave: int | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if ns:
        metadata["namespace"] = ns
    annotations = dict(annotations or {})
    if wave is not None:
        annotations[WAVE] = str(wave)
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": data or {"k": "v"},
    }


def deployment(
    name: str,
    ns: str,
    *,
    replicas: int = 1,
    wave: int | None = None,
    cpu: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": ns}
    if wave is not None:
        metadata["annotations"] = {WAVE: str(wave)}
    selector = labels or {"app": name}
    container: dict[str, Any] = {"name": name, "image": f"example/{name}:1"}
    if cpu is not None:
        container["resources"] = {"requests": {"cpu": cpu, "memory": "1Gi"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": selector}, "spec": {"containers": [container]}},
        },
    }


def service(name: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


def secret(name: str, ns: str, *, token: str = "c2VjcmV0") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "data": {"token": token},
    }


def widget_crd(group: str) -> dict[str, Any]:
    """A CRD for free-form Widgets in `group`."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
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


def widget(name: str, ns: str, group: str, *, wave: int | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": ns}
    if wave is not None:
        metadata["annotations"] = {WAVE: str(wave)}
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": metadata,
        "spec": {"size": 3},
    }


def widget_path(ns: str, group: str, name: str) -> str:
    return f"/apis/{group}/v1/namespaces/{ns}/widgets/{name}"


def set_ready(live: Live, path: str, ready: bool, *, reason: str = "Testing") -> None:
    """Write a custom object's Ready condition as its controller would (Widgets have no status
    subresource: the condition is written on the object, by another field manager)."""
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": reason,
        "message": f"set {'ready' if ready else 'not ready'} by the test",
    }
    live.operator.merge_patch(path, {"status": {"conditions": [condition]}})


def sync(
    live: Live,
    objects: Iterable[Manifest],
    *,
    app: str | None = None,
    previous: Inventory | None = None,
    previous_nonempty: bool | None = None,
    namespace: str | None = "",
    timeout: float = 20.0,
    replace: ReplacePolicy = ReplacePolicy.NEVER,
    clock: Callable[[], float] = time.time,
    retry_hooks: bool = False,
    **policy: Any,
) -> SyncResult:
    """`sync_application` with test defaults: the test's application and namespace, prune on,
    conflicts forced."""
    previous = previous if previous is not None else Inventory()
    return sync_application(
        client=live.client,
        app=app or live.app,
        bundle=Bundle.of(objects),
        previous=previous,
        policy=SyncPolicy(replace=replace, **policy),
        namespace=live.ns if namespace == "" else namespace,
        previous_nonempty=bool(previous) if previous_nonempty is None else previous_nonempty,
        timeout=timeout,
        clock=clock,
        retry_hooks=retry_hooks,
    )
