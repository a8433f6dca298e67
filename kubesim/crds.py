"""CustomResourceDefinitions: validation, the status an established CRD reports, its served type.

A created CRD is accepted and Established at once (after the cluster's
`crd_established_delay`, when set); from then on its kind is discoverable and
servable (see `cluster.Cluster.types`). Deleting it removes its objects (see `lifecycle`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubesim.catalog import ResourceType
from kubesim.errors import ApiError, Cause, invalid
from kubesim.listschema import ListSchema, crd_list_schema

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key that puts versions in Kubernetes preference order (v2, v1, v1beta1, foo)."""
    m = _VERSION.match(version)
    if not m:
        return (0, 0, 0, version)
    stability = {"alpha": 1, "beta": 2}.get(m.group(2) or "", 3)
    return (-stability, -int(m.group(1)), -int(m.group(3) or 0), "")


def validate_crd(crd: Mapping[str, Any]) -> None:
    """Raise 422 Invalid for a CRD the real server would refuse."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    name = str((crd.get("metadata") or {}).get("name", ""))
    causes: list[Cause] = []
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    if not group or "." not in group:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{group}": should be a domain with at least one dot',
                "spec.group",
            )
        )
    if not plural:
        causes.append(Cause("FieldValueRequired", "Required value", "spec.names.plural"))
    if not names.get("kind"):
        causes.append(Cause("FieldValueRequired", "Required value", "spec.names.kind"))
    if plural and group and name != f"{plural}.{group}":
        causes.append(
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                "metadata.name",
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            Cause(
                "FieldValueNotSupported",
                'Unsupported value: supported values: "Cluster", "Namespaced"',
                "spec.scope",
            )
        )
    versions = spec.get("versions") or []
    if not isinstance(versions, list) or not versions:
        causes.append(Cause("FieldValueRequired", "Required value", "spec.versions"))
    elif sum(1 for v in versions if isinstance(v, Mapping) and v.get("storage")) != 1:
        causes.append(
            Cause(
                "FieldValueInvalid",
                "must have exactly one version marked as storage version",
                "spec.versions",
            )
        )
    if causes:
        raise invalid("CustomResourceDefinition", name, causes, group="apiextensions.k8s.io")


def established_status(crd: Mapping[str, Any], now: str) -> dict[str, Any]:
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    storage = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "storedVersions": storage,
    }


def pending_status(crd: Mapping[str, Any]) -> dict[str, Any]:
    """A CRD whose names are accepted but that is not Established yet (its kind unserved)."""
    status = established_status(crd, "")
    status["conditions"] = [
        {
            "type": "NamesAccepted",
            "status": "True",
            "reason": "NoConflicts",
            "message": "no conflicts found",
            "lastTransitionTime": now_text(),
        },
        {
            "type": "Established",
            "status": "False",
            "reason": "Installing",
            "message": "the initial names have been accepted",
            "lastTransitionTime": now_text(),
        },
    ]
    return status


def is_established(crd: Mapping[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def served_type(crd: Mapping[str, Any]) -> ResourceType:
    spec = crd["spec"]
    names = spec["names"]
    served = [v for v in spec["versions"] if v.get("served", True)]
    versions = tuple(sorted((v["name"] for v in served), key=version_priority))
    subresources = [v.get("subresources") or {} for v in served]
    return ResourceType(
        group=spec["group"],
        versions=versions,
        resource=names["plural"],
        kind=names["kind"],
        namespaced=spec.get("scope") == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        has_status=any("status" in s for s in subresources),
        has_scale=any("scale" in s for s in subresources),
        categories=tuple(names.get("categories") or ()),
    )


def crd_schema(crd: Mapping[str, Any]) -> ListSchema:
    for v in crd["spec"]["versions"]:
        if v.get("storage"):
            return crd_list_schema((v.get("schema") or {}).get("openAPIV3Schema"))
    return crd_list_schema(None)


def crd_conflict(existing: ResourceType, crd_name: str) -> ApiError:
    return invalid(
        "CustomResourceDefinition",
        crd_name,
        [Cause("FieldValueInvalid", f"{existing.resource} is already served", "spec.names.plural")],
        group="apiextensions.k8s.io",
    )
