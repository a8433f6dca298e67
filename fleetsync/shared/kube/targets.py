"""Bundle objects as targets on one cluster: checked on their own, resolved, placed and marked.

`bundle_problems` finds what makes a bundle invalid before any cluster is asked (malformed
objects, duplicates, sync-wave annotations that are not integers, hook annotations fleetsync
cannot act on, a generateName on an object that is not a hook, a Secret that declares a key in
both `data` and `stringData`). `locate` turns a manifest into a `Target`: resolved through
discovery (or, for a kind only a CRD of the same bundle defines, from that CRD, deferred until
stage 1 has applied it), placed in a namespace (the application's default for a namespaced object
that names none) and marked with fleetsync's label and annotation. `namespace_target` is the
application's own namespace under `sync.createNamespace`: created when missing, never changed,
never recorded in the inventory (so never pruned).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.changeset import Change
from fleetsync.shared.kube.client import ApiResource, ClusterClient, UnknownKindError
from fleetsync.shared.kube.crd import Definition
from fleetsync.shared.kube.ownership import MANAGED_BY, MANAGED_BY_LABEL, mark_managed
from fleetsync.shared.kube.plan import PlanError, wave_of
from fleetsync.shared.kube.stored import both_data_and_string_data
from fleetsync.shared.model import ChangeAction, ResourceKey
from fleetsync.shared.model.hooks import HookError, hook_of

Manifest = Mapping[str, Any]

DEFAULT_NAMESPACE = "default"
CREATED_FOR_ANNOTATION = "fleetsync.io/created-for"
"""On a namespace `sync.createNamespace` created: the application it was created for."""
NAMESPACES = ApiResource(
    group="", version="v1", kind="Namespace", plural="namespaces", namespaced=False
)


@dataclass(frozen=True, slots=True)
class Target:
    """One bundle object ready to apply: where it lives and the exact body to send."""

    key: ResourceKey
    resource: ApiResource
    obj: Manifest
    deferred: bool = False
    """Validated only after stage 1 (its kind or namespace comes from this bundle's stage 1)."""
    create_only: bool = False
    """Created when missing, else left as it is, and kept out of the inventory: the namespace
    `sync.createNamespace` provides."""


def bundle_problems(objects: Sequence[Manifest]) -> tuple[Change, ...]:
    """What makes a bundle invalid before any cluster is asked: malformed objects, duplicate
    keys, sync-wave annotations that are not integers, a Secret key in both data and
    stringData."""
    problems: list[Change] = []
    seen: set[ResourceKey] = set()
    for obj in objects:
        key = ResourceKey.of(obj)
        if missing := _missing_fields(obj):
            problems.append(failed(key, f"invalid manifest: missing {', '.join(missing)}"))
            continue
        try:
            hook = hook_of(obj)
        except HookError as e:
            problems.append(failed(key, str(e)))
            continue
        if hook is None and not (obj.get("metadata") or {}).get("name"):
            problems.append(
                failed(
                    key,
                    "metadata.generateName on an object that is not a hook: every sync would "
                    "create a new object; give it a metadata.name or make it a hook",
                )
            )
            continue
        if key in seen:
            problems.append(failed(key, "declared twice in the bundle; keep one"))
        seen.add(key)
        try:
            wave_of(obj)
        except PlanError as e:
            problems.append(failed(key, str(e).partition(": ")[2]))
        if twice := both_data_and_string_data(obj):
            problems.append(
                failed(
                    key,
                    f"key {', '.join(twice)} is in both data and stringData (the API server "
                    "would silently keep the stringData value); keep it in one of them",
                )
            )
    return tuple(problems)


def well_formed(objects: Iterable[Manifest]) -> tuple[Manifest, ...]:
    """The objects `bundle_problems` finds nothing wrong with on their own (no duplicates check)."""
    return tuple(o for o in objects if not _missing_fields(o))


def _missing_fields(obj: Manifest) -> list[str]:
    """What the object lacks to be applied; a name may be a generateName (a hook's, checked
    by `bundle_problems`)."""
    metadata = obj.get("metadata")
    name = None
    if isinstance(metadata, Mapping):
        name = metadata.get("name") or metadata.get("generateName")
    return [
        what
        for what, value in (
            ("apiVersion", obj.get("apiVersion")),
            ("kind", obj.get("kind")),
            ("metadata.name", name),
        )
        if not isinstance(value, str) or not value
    ]


def locate(
    client: ClusterClient,
    obj: Manifest,
    *,
    app: str,
    namespace: str | None,
    bundled: Mapping[tuple[str, str], Definition] | None = None,
) -> Target:
    """The target for one manifest. A kind only a bundled CRD defines resolves from that CRD
    (deferred); any other unknown kind raises UnknownKindError."""
    api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
    deferred = False
    try:
        resource = client.resolve(api_version, kind)
    except UnknownKindError:
        definition = (bundled or {}).get((api_version, kind))
        if definition is None:
            raise
        resource = definition.api_resource(api_version.rpartition("/")[2])
        deferred = True
    placed = None
    if resource.namespaced:
        placed = str((obj.get("metadata") or {}).get("namespace") or namespace or DEFAULT_NAMESPACE)
    marked = mark_managed(obj, app=app, namespace=placed)
    return Target(key=ResourceKey.of(marked), resource=resource, obj=marked, deferred=deferred)


def namespace_target(name: str, *, app: str) -> Target:
    """The namespace `sync.createNamespace` creates for `app`: labelled as managed by fleetsync,
    not claimed by the application (another application's bundle may declare it)."""
    obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            "annotations": {CREATED_FOR_ANNOTATION: app},
        },
    }
    return Target(key=ResourceKey.of(obj), resource=NAMESPACES, obj=obj, create_only=True)


def failed(key: ResourceKey, message: str) -> Change:
    return Change(key, ChangeAction.FAILED, message)
