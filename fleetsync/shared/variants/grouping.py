"""Which clusters of an application share one render, and which share one substituted bundle.

Two steps, each grouping the application's target clusters by exactly what they read:
- before the render (`render_groups`): the application as the cluster renders it, its Helm values
  and the values of its jsonnet extVars and tlas with the cluster's variables written in;
  clusters whose resolved values are equal share one render (and the cluster's name is part of
  nothing unless the values read it);
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

from fleetsync.shared.model.bundle import Bundle, Manifest, canonical_json
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    JsonnetOptions,
    JsonnetVar,
    Override,
    Patch,
)
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
    patches: tuple[tuple[str, Patch], ...] = ()
    """The patches of the overrides the clusters' labels pick, in order, by override name."""

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
    """The application as each cluster renders it (the overrides its labels pick, in order,
    then its Helm values' variables resolved), one group per distinct result, in the order of
    their first cluster."""
    groups: dict[bytes, Group] = {}
    failed: dict[ClusterName, str] = {}
    for cluster in clusters:
        chosen = tuple(i for i, o in enumerate(app.overrides) if o.selector.matches(cluster.labels))
        overridden = apply_overrides(app, [app.overrides[i] for i in chosen])
        refs = references(overridden.helm.values, where="helm.values")
        texts = jsonnet_references(overridden.jsonnet)
        try:
            resolved = resolve(refs, scope_of(cluster), typed=True)
            written = resolve(texts, scope_of(cluster))
        except SubstitutionError as exc:
            failed[cluster.name] = f"{app.name}: cluster '{cluster.name}': {exc}"
            continue
        material = canonical_json([list(chosen), key_material(resolved), key_material(written)])
        group = groups.get(material)
        if group is None:
            values = substitute(dict(overridden.helm.values), resolved, typed=True)
            variant = replace(
                overridden,
                helm=replace(overridden.helm, values=values),
                jsonnet=substitute_jsonnet(overridden.jsonnet, written),
            )
            patches = tuple(
                (app.overrides[i].name, p) for i in chosen for p in app.overrides[i].patches
            )
            group = groups[material] = Group(variant, (), resolved, patches)
        groups[material] = replace(group, clusters=(*group.clusters, cluster.name))
    return Grouping(tuple(groups.values()), failed)


def jsonnet_references(options: JsonnetOptions) -> dict[Reference, str]:
    """The variables of the jsonnet extVars' and tlas' values, each where it is first used."""
    found: dict[Reference, str] = {}
    for kind, variables in (("extVars", options.ext_vars), ("tlas", options.tlas)):
        for var in variables:
            for ref, where in references(var.value, where=f"jsonnet.{kind}.{var.name}").items():
                found.setdefault(ref, where)
    return found


def substitute_jsonnet(options: JsonnetOptions, written: Mapping[Reference, Any]) -> JsonnetOptions:
    """The options with the variables of their values written in, as text."""

    def each(variables: tuple[JsonnetVar, ...]) -> tuple[JsonnetVar, ...]:
        return tuple(replace(v, value=str(substitute(v.value, written))) for v in variables)

    return replace(options, ext_vars=each(options.ext_vars), tlas=each(options.tlas))


def apply_overrides(app: Application, overrides: Sequence[Override]) -> Application:
    """The application with the overrides applied in order: Helm values merged over its own
    (mappings deeply, anything else replaced), values files after its own, the last path."""
    helm, path = app.helm, app.path
    for override in overrides:
        helm = replace(
            helm,
            values=merge_values(helm.values, override.helm.values),
            values_files=(*helm.values_files, *override.helm.values_files),
        )
        path = override.path or path
    return replace(app, helm=helm, path=path)


def merge_values(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's rule: mappings merge key by key, any other value replaces."""
    merged = dict(base)
    for key, value in over.items():
        inner = merged.get(key)
        if isinstance(inner, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_values(inner, value)
        else:
            merged[key] = value
    return merged


def missing_targets(objects: Sequence[Manifest], patches: Sequence[tuple[str, Patch]]) -> list[str]:
    """The patches whose target is not among the rendered objects, as messages."""
    present = {(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in objects}
    return [
        f"override '{name}': patch target {p.target.kind}/{p.target.name} is not among the "
        "rendered objects"
        for name, p in patches
        if (p.target.kind, p.target.name) not in present
    ]


def patch_document(objects: Sequence[Manifest], patch: Patch) -> Any:
    """What kustomize is given for `patch`: JSON 6902 operations as they are; a strategic merge
    patch with its target's apiVersion, kind and name filled in where it leaves them out."""
    if not isinstance(patch.patch, Mapping):
        return patch.patch
    target = next(
        o
        for o in objects
        if (o.get("kind"), (o.get("metadata") or {}).get("name"))
        == (patch.target.kind, patch.target.name)
    )
    head = {
        "apiVersion": target["apiVersion"],
        "kind": patch.target.kind,
        "metadata": {"name": patch.target.name},
    }
    return merge_values(head, patch.patch)


@dataclass(frozen=True, slots=True)
class BundleReferences:
    """The variables a rendered bundle uses, each with the first object and field using it
    (`uses`) and the file that object was rendered from (`files`, when the bundle knows it)."""

    uses: dict[Reference, str]
    files: dict[Reference, str]


def bundle_references(bundle: Bundle) -> BundleReferences:
    """The variables the bundle's objects use; a variable fleetsync does not know is a
    SubstitutionError naming the object, the field and the file."""
    uses: dict[Reference, str] = {}
    files: dict[Reference, str] = {}
    for index, obj in enumerate(bundle.objects):
        file = bundle.source_of(index)
        try:
            found = references(obj, where=str(ResourceKey.of(obj)))
        except SubstitutionError as exc:
            raise SubstitutionError(f"{exc} (in {file})" if file else str(exc)) from exc
        for ref, where in found.items():
            if ref not in uses:
                uses[ref] = where
                if file:
                    files[ref] = file
    return BundleReferences(uses, files)


def output_groups(
    app: Application,
    clusters: Sequence[Cluster],
    refs: BundleReferences,
    *,
    origin: str,
) -> Grouping:
    """Clusters grouped by what the bundle's variables resolve to for them. `origin` (where the
    bundle was rendered from) and the file of the object using it go into the error of a
    variable that does not resolve."""

    def about(ref: Reference, where: str) -> str:
        file = refs.files.get(ref)
        place = f"in {file}, rendered from {origin}" if file else f"rendered from {origin}"
        return f"{where}: {ref.text} ({place})"

    groups: dict[bytes, list[Any]] = {}
    failed: dict[ClusterName, str] = {}
    for cluster in clusters:
        try:
            resolved = resolve(refs.uses, scope_of(cluster), about=about)
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
