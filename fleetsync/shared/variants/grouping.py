"""Which clusters of an application share one render, and which share one substituted bundle.

Two steps, each grouping the application's target clusters by exactly what they read:
- before the render (`render_groups`): the application as the cluster renders it, its Helm values
  with the cluster's variables written in; clusters whose resolved values are equal share one
  render (and the cluster's name is part of nothing unless the values read it);
- after the render (`output_groups`): the variables the rendered bundle uses, resolved for each
  cluster; clusters whose resolved variables are equal share one substituted bundle.

An unresolved variable fails only its cluster: the others carry on, the failure is returned by
cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fleetsync.shared.model.bundle import Manifest, canonical_json
from fleetsync.shared.model.declaration import Application, Cluster
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.model.resource import ResourceKey
from fleetsync.shared.variants.substitution import (
    ClusterScope,
    Reference,
    SubstitutionError,
    key_material,
    references,
    resolve,
    substitute,
)


@dataclass(frozen=True, slots=True)
class Group:
    """Clusters that share one input: `app` as they render it, `resolved` the variables of
    the step (empty when nothing varies)."""

    app: Application
    clusters: tuple[ClusterName, ...]
    resolved: Mapping[Reference, Any] = field(default_factory=dict)

    @property
    def material(self) -> list[list[Any]]:
        return key_material(self.resolved)


@dataclass(frozen=True, slots=True)
class Grouping:
    groups: tuple[Group, ...]
    failed: Mapping[ClusterName, str]
    """Clusters whose variables do not resolve, with the error naming the variable."""


def scope_of(cluster: Cluster) -> ClusterScope:
    return ClusterScope(name=cluster.name, labels=cluster.labels, values=cluster.values)


def render_groups(app: Application, clusters: Sequence[Cluster]) -> Grouping:
    """The application as each cluster renders it (its Helm values' variables resolved), one
    group per distinct result, in the order of their first cluster."""
    refs = references(app.helm.values, where="helm.values")
    groups: dict[bytes, list[Any]] = {}
    failed: dict[ClusterName, str] = {}
    for cluster in clusters:
        try:
            resolved = resolve(refs, scope_of(cluster), typed=True)
        except SubstitutionError as exc:
            failed[cluster.name] = f"{app.name}: cluster '{cluster.name}': {exc}"
            continue
        material = canonical_json(key_material(resolved))
        if material not in groups:
            values = substitute(dict(app.helm.values), resolved, typed=True)
            variant = replace(app, helm=replace(app.helm, values=values))
            groups[material] = [variant, [], resolved]
        groups[material][1].append(cluster.name)
    return Grouping(
        tuple(Group(a, tuple(cs), r) for a, cs, r in groups.values()),
        failed,
    )


def bundle_references(objects: Iterable[Manifest]) -> dict[Reference, str]:
    """The variables a rendered bundle uses, each with the first object and field using it."""
    found: dict[Reference, str] = {}
    for obj in objects:
        for ref, where in references(obj, where=str(ResourceKey.of(obj))).items():
            found.setdefault(ref, where)
    return found


def output_groups(
    app: Application,
    clusters: Sequence[Cluster],
    refs: Mapping[Reference, str],
    *,
    origin: str,
) -> Grouping:
    """Clusters grouped by what the bundle's variables resolve to for them. `origin` (where the
    bundle was rendered from) goes into the error of a variable that does not resolve."""
    groups: dict[bytes, list[Any]] = {}
    failed: dict[ClusterName, str] = {}
    for cluster in clusters:
        try:
            resolved = resolve(
                refs,
                scope_of(cluster),
                about=lambda ref, where: f"{where}: {ref.text} (rendered from {origin})",
            )
        except SubstitutionError as exc:
            failed[cluster.name] = f"{app.name}: cluster '{cluster.name}': {exc}"
            continue
        material = canonical_json(key_material(resolved))
        groups.setdefault(material, [resolved, []])[1].append(cluster.name)
    return Grouping(tuple(Group(app, tuple(cs), r) for r, cs in groups.values()), failed)


def substitute_objects(
    objects: Iterable[Manifest], resolved: Mapping[Reference, Any]
) -> list[dict[str, Any]]:
    """The objects with the resolved variables written in (and `$${` made `${`)."""
    return [substitute(obj, resolved) for obj in objects]


def variant_key(base: str, resolved: Mapping[Reference, Any]) -> str:
    """The key of a substituted bundle: the bundle it came from and exactly the variables it
    reads, resolved."""
    material = {"bundle": base, "variables": key_material(resolved)}
    return "variant-" + hashlib.sha256(canonical_json(material)).hexdigest()


def set_digest(digests: Mapping[ClusterName, str]) -> str:
    """One digest for the whole map cluster -> bundle: it moves when any cluster's does."""
    return hashlib.sha256(canonical_json(dict(sorted(digests.items())))).hexdigest()
