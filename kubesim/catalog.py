"""The resource types a simulated cluster serves: the built-in table and its lookups.

A `ResourceType` is what discovery advertises for one resource: group, served versions, plural,
kind, scope, short names, verbs and subresources. Custom resources add entries per cluster (see
`crds`); the built-ins are one immutable table shared by every cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True)
class ResourceType:
    """One servable resource, as discovery describes it."""

    group: str
    versions: tuple[str, ...]
    resource: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    has_scale: bool = False
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    label_name: bool = False
    """Names must be DNS-1123 labels (namespaces, services) rather than subdomains."""
    schema: str | None = None
    """The built-in schema of the kind (see `schema`); None for custom resources."""
    generation: bool = True
    """Whether writes to the spec bump `metadata.generation` (custom resources always do)."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def preferred_version(self) -> str:
        return self.versions[0]

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or `configmaps` for the core group."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def tracks_generation(self) -> bool:
        """Whether writes to the spec bump `metadata.generation`."""
        return self.generation

    def api_version(self, version: str | None = None) -> str:
        v = version or self.preferred_version
        return f"{self.group}/{v}" if self.group else v


LABEL_NAMES = frozenset({("", "namespaces"), ("", "services")})
"""Resources whose names must be DNS-1123 labels rather than subdomains."""

GENERATION_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("", "ReplicationController"),
        ("", "PodTemplate"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("policy", "PodDisruptionBudget"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("scheduling.k8s.io", "PriorityClass"),
    }
)
"""Built-in kinds whose spec changes bump `metadata.generation` (others have none)."""


def _builtin_types() -> tuple[ResourceType, ...]:
    """The built-in resources of `data/builtin-api.json` (see `apigen`), one per resource."""
    from kubesim.schema import table

    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for r in table()["resources"]:
        entry = merged.setdefault((r["group"], r["name"]), {**r, "versions": []})
        entry["versions"].append(r["version"])
    kinds = table()["kinds"]
    return tuple(
        ResourceType(
            group=r["group"],
            versions=tuple(r["versions"]),
            resource=r["name"],
            kind=r["kind"],
            namespaced=r["namespaced"],
            short_names=tuple(r["shortNames"]),
            has_status="status" in r["subresources"],
            has_scale="scale" in r["subresources"],
            verbs=tuple(r["verbs"]),
            categories=tuple(r["categories"]),
            label_name=(r["group"], r["name"]) in LABEL_NAMES,
            schema=kinds.get(f"{r['group']}/{r['versions'][0]}/{r['kind']}"),
            generation=(r["group"], r["kind"]) in GENERATION_KINDS,
        )
        for r in merged.values()
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = _builtin_types()

BUILTIN_GROUPS: frozenset[str] = frozenset(t.group for t in BUILTIN_TYPES)


class TypeTable:
    """Resource types indexed for routing: by (group, version, plural) and by (group, kind)."""

    __slots__ = ("_by_key", "_by_kind", "_by_path", "cache", "types")

    def __init__(self, types: Iterable[ResourceType]) -> None:
        self.types: tuple[ResourceType, ...] = tuple(types)
        self.cache: dict[str, bytes] = {}
        """Serialized discovery documents for this table (see `discovery`)."""
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        self._by_key: dict[tuple[str, str], ResourceType] = {}
        for t in self.types:
            self._by_key[(t.group, t.resource)] = t
            for v in t.versions:
                self._by_path[(t.group, v, t.resource)] = t
            self._by_kind[(t.group, t.kind)] = t

    def by_path(self, group: str, version: str, resource: str) -> ResourceType | None:
        return self._by_path.get((group, version, resource))

    def by_key(self, group: str, resource: str) -> ResourceType | None:
        return self._by_key.get((group, resource))

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((group, kind))

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, in table order (core group is "")."""
        out: dict[str, list[str]] = {}
        for t in self.types:
            versions = out.setdefault(t.group, [])
            for v in t.versions:
                if v not in versions:
                    versions.append(v)
        return out


BUILTIN_TABLE = TypeTable(BUILTIN_TYPES)


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1")."""
    if "/" in api_version:
        group, _, version = api_version.partition("/")
        return group, version
    return "", api_version
