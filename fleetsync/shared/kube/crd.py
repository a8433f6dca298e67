"""Reading a CustomResourceDefinition manifest: the one place its spec is interpreted.

A CRD in a bundle defines kinds the cluster does not serve yet: `definition_of` reads what the
apply engine needs from it (group, kind, plural, scope, the versions it serves), `defined_kinds`
maps each (apiVersion, kind) a bundle's CRDs define to its definition, and `api_resource` says
where those objects will live once the CRD is Established, before discovery can tell.

Pure: manifests in, values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.client import ApiResource
from fleetsync.shared.kube.plan import CRD, group_kind

Manifest = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Definition:
    """What a CRD declares about its kind."""

    group: str
    kind: str
    plural: str
    namespaced: bool
    versions: tuple[str, ...]
    """The versions it serves, in the order declared."""

    def api_resource(self, version: str) -> ApiResource:
        return ApiResource(
            group=self.group,
            version=version,
            kind=self.kind,
            plural=self.plural,
            namespaced=self.namespaced,
        )


def is_crd(obj: Manifest) -> bool:
    return group_kind(obj) == CRD


def definition_of(obj: Manifest) -> Definition | None:
    """The definition a CRD manifest declares; None for another object or a CRD without a
    group, a kind or a served version (the server refuses those, naming what is missing)."""
    if not is_crd(obj):
        return None
    spec = obj.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    names = spec.get("names")
    names = names if isinstance(names, Mapping) else {}
    group, kind = str(spec.get("group") or ""), str(names.get("kind") or "")
    versions = tuple(
        str(v["name"])
        for v in spec.get("versions") or ()
        if isinstance(v, Mapping) and v.get("name") and v.get("served", True)
    )
    if not group or not kind or not versions:
        return None
    return Definition(
        group=group,
        kind=kind,
        plural=str(names.get("plural") or kind.lower() + "s"),
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        versions=versions,
    )


def defined_kinds(objects: Iterable[Manifest]) -> dict[tuple[str, str], Definition]:
    """The (apiVersion, kind) pairs that the objects' CRDs define, with their definitions.

    A custom object whose kind is defined here can be applied once stage 1 has applied the CRD,
    even though the cluster does not serve its kind yet."""
    defined: dict[tuple[str, str], Definition] = {}
    for obj in objects:
        definition = definition_of(obj)
        if definition is None:
            continue
        for version in definition.versions:
            defined[(f"{definition.group}/{version}", definition.kind)] = definition
    return defined
