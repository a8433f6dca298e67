"""A minimal OpenAPI v3 surface: enough for kubectl to see that the server validates fields.

kubectl (with the default `--validate=strict`) looks up the PATCH operation of each kind in
`/openapi/v3/<group-version>` and, when it carries the `fieldValidation` query parameter, leaves
validation to the server. Schemas are not served (clients fall back to their built-in ones).
"""

from __future__ import annotations

import hashlib
import json

from kubesim.catalog import TypeTable

_PARAMS = [
    {"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
    for name in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
]


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root_document(table: TypeTable, prefix: str) -> bytes:
    """`/openapi/v3`: one entry per group-version, URLs relative to the server root."""
    paths = {}
    for group, versions in table.groups().items():
        for version in versions:
            gv = _gv_path(group, version)
            digest = hashlib.sha256(gv_document(table, group, version)).hexdigest()[:32].upper()
            paths[gv] = {"serverRelativeURL": f"{prefix}/openapi/v3/{gv}?hash={digest}"}
    return json.dumps({"paths": paths}, separators=(",", ":")).encode()


def gv_document(table: TypeTable, group: str, version: str) -> bytes:
    cache_key = f"openapi:{group}/{version}"
    cached = table.cache.get(cache_key)
    if cached is not None:
        return cached
    paths = {}
    for t in table.types:
        if t.group != group or version not in t.versions:
            continue
        base = "/" + _gv_path(group, version)
        ns = "/namespaces/{namespace}" if t.namespaced else ""
        paths[f"{base}{ns}/{t.resource}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{t.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {
                    "group": group,
                    "version": version,
                    "kind": t.kind,
                },
                "parameters": _PARAMS,
                "responses": {"200": {"description": "OK"}},
            }
        }
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }
    table.cache[cache_key] = out = json.dumps(doc, separators=(",", ":")).encode()
    return out
