"""Manifests and polling helpers shared by kubesim's tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns a truthy value (real clusters are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(interval)


def configmap(name: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": data or {},
    }


def deployment(
    name: str, replicas: int = 1, image: str = "nginx:1.27", **extra: Any
) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image, **extra}]},
            },
        },
    }


def raw_request(
    api: Any,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 30.0,
) -> tuple[int, dict[str, Any]]:
    """Send one request with the client's own connection pool and credentials."""
    import json

    conf = api.configuration
    headers = {"Accept": "application/json", "Content-Type": content_type}
    token = (conf.api_key or {}).get("authorization") or (conf.api_key or {}).get("BearerToken")
    if token:
        headers["Authorization"] = token
    resp = api.rest_client.pool_manager.request(
        method, conf.host + path, body=body, headers=headers, timeout=timeout, preload_content=True
    )
    try:
        payload = json.loads(resp.data)
    except ValueError:
        payload = {"raw": resp.data.decode(errors="replace")}
    return resp.status, payload
