"""Discovery documents as the real server serves them: /version, /api, /apis and per group.

Documents depend only on a cluster's type table, so they are serialized once per table and
shared by every cluster serving the same types (all clusters without CRDs share one).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from kubesim.catalog import ResourceType, TypeTable

KUBE_MAJOR = "1"
KUBE_MINOR = "37"

VERSION_INFO: dict[str, str] = {
    "major": KUBE_MAJOR,
    "minor": KUBE_MINOR,
    "emulationMajor": KUBE_MAJOR,
    "emulationMinor": KUBE_MINOR,
    "minCompatibilityMajor": KUBE_MAJOR,
    "minCompatibilityMinor": str(int(KUBE_MINOR) - 1),
    "gitVersion": f"v{KUBE_MAJOR}.{KUBE_MINOR}.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _resource_entries(t: ResourceType) -> list[dict[str, Any]]:
    digest = hashlib.sha256(f"{t.group}/{t.resource}".encode()).digest()
    main: dict[str, Any] = {
        "name": t.resource,
        "singularName": t.singular,
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": list(t.verbs),
        "storageVersionHash": base64.b64encode(digest[:8]).decode(),
    }
    if t.short_names:
        main["shortNames"] = list(t.short_names)
    if t.categories:
        main["categories"] = list(t.categories)
    out = [main]
    if t.has_status:
        out.append(
            {
                "name": f"{t.resource}/status",
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    if t.has_scale:
        out.append(
            {
                "name": f"{t.resource}/scale",
                "singularName": "",
                "namespaced": t.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }
        )
    if t.kind == "Namespace" and not t.group:
        out.append(
            {
                "name": "namespaces/finalize",
                "singularName": "",
                "namespaced": False,
                "kind": "Namespace",
                "verbs": ["update"],
            }
        )
    return out


def _group_doc(name: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]},
    }


def _build(table: TypeTable, path: str) -> bytes | None:
    groups = table.groups()
    if path == "/api":
        return _dump(
            {
                "kind": "APIVersions",
                "versions": groups.get("", ["v1"]),
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:0"}
                ],
            }
        )
    if path == "/apis":
        return _dump(
            {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [_group_doc(g, vs) for g, vs in groups.items() if g],
            }
        )
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 2:
        if parts[1] not in groups or not parts[1]:
            return None
        return _dump(
            {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(parts[1], groups[parts[1]])}
        )
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        return None
    if version not in groups.get(group, []):
        return None
    resources = [
        e
        for t in table.types
        if t.group == group and version in t.versions
        for e in _resource_entries(t)
    ]
    return _dump(
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }
    )


def discovery_document(table: TypeTable, path: str) -> bytes | None:
    """The serialized discovery document at `path` (`/api`, `/apis/apps/v1` ...), or None."""
    cached = table.cache.get(path)
    if cached is None:
        built = _build(table, path)
        if built is None:
            return None
        table.cache[path] = cached = built
    return cached


def version_document() -> bytes:
    return _dump(VERSION_INFO)
