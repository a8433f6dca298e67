"""How lists merge: the list-map keys of built-in types and of CRD schemas.

Server-side apply and strategic merge patch both need to know, for a list at a given field path,
whether it is a map keyed by some of its items' fields (containers by `name`, ports by
`containerPort` and `protocol`), a set of scalars (finalizers), or atomic (everything else).
A `ListSchema` maps field-name paths (no list indices) to key-field tuples; an empty tuple marks
a set of scalars; a path that is absent is an atomic list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ListSchema = Mapping[tuple[str, ...], tuple[str, ...]]

ATOMIC: tuple[str, ...] = ("\x00atomic",)
"""Marks a map or struct that is owned, merged and replaced as a whole (a label selector)."""

STRUCT: tuple[str, ...] = ("\x00struct",)
"""Marks a struct held by value: present even when empty, so an update that fills it does not
own the struct itself (`.`), only the fields it set (maps and optional structs are owned)."""

ITEMS = "\x00items"
"""A path element after a list's path: `(*path, ITEMS) -> ATOMIC` marks a list-map whose items
are atomic structs (owner references): an item is owned whole, without its fields."""

KEY_DEFAULTS: Mapping[str, Any] = {"protocol": "TCP"}
"""Values a list-map key takes when an item leaves it out (the server defaults it)."""

_CONTAINER_LISTS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("ports",): ("containerPort", "protocol"),
    ("env",): ("name",),
    ("volumeMounts",): ("mountPath",),
    ("volumeDevices",): ("devicePath",),
    ("resizePolicy",): ("resourceName",),
}

_POD_SPEC_LISTS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("volumes",): ("name",),
    ("imagePullSecrets",): ("name",),
    ("hostAliases",): ("ip",),
    ("topologySpreadConstraints",): ("topologyKey", "whenUnsatisfiable"),
    ("schedulingGates",): ("name",),
    ("resourceClaims",): ("name",),
}
for _containers in ("containers", "initContainers", "ephemeralContainers"):
    _POD_SPEC_LISTS[(_containers,)] = ("name",)
    for _sub, _keys in _CONTAINER_LISTS.items():
        _POD_SPEC_LISTS[(_containers, *_sub)] = _keys

_COMMON: dict[tuple[str, ...], tuple[str, ...]] = {
    ("metadata",): STRUCT,
    ("metadata", "ownerReferences"): ("uid",),
    ("metadata", "finalizers"): (),
    ("status", "conditions"): ("type",),
}

_POD_SPEC_AT: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

_EXTRA: dict[str, dict[tuple[str, ...], tuple[str, ...]]] = {
    "Service": {("spec", "ports"): ("port", "protocol")},
}


def _builtin_schema(kind: str) -> dict[tuple[str, ...], tuple[str, ...]]:
    schema = dict(_COMMON)
    prefix = _POD_SPEC_AT.get(kind)
    if prefix is not None:
        for path, keys in _POD_SPEC_LISTS.items():
            schema[prefix + path] = keys
        schema[(*prefix[:-1], "metadata", "finalizers")] = ()
    schema.update(_EXTRA.get(kind, {}))
    return schema


_BUILTIN_CACHE: dict[str, ListSchema] = {}


def builtin_list_schema(kind: str) -> ListSchema:
    """The list schema of a built-in kind (shared, never mutated)."""
    cached = _BUILTIN_CACHE.get(kind)
    if cached is None:
        cached = _BUILTIN_CACHE[kind] = _builtin_schema(kind)
    return cached


def crd_list_schema(open_api_schema: Mapping[str, Any] | None) -> ListSchema:
    """List keys declared in a CRD version's openAPIV3Schema (`x-kubernetes-list-type`)."""
    schema: dict[tuple[str, ...], tuple[str, ...]] = dict(_COMMON)
    if open_api_schema:
        _walk_crd_schema(open_api_schema, (), schema)
    return schema


def _walk_crd_schema(
    node: Mapping[str, Any], path: tuple[str, ...], out: dict[tuple[str, ...], tuple[str, ...]]
) -> None:
    if not isinstance(node, Mapping):
        return
    if node.get("type") == "array":
        list_type = node.get("x-kubernetes-list-type")
        if list_type == "map":
            out[path] = tuple(node.get("x-kubernetes-list-map-keys") or ())
        elif list_type == "set":
            out[path] = ()
        items = node.get("items")
        if isinstance(items, Mapping):
            _walk_crd_schema(items, path, out)
        return
    for name, child in (node.get("properties") or {}).items():
        _walk_crd_schema(child, (*path, name), out)


def item_key(item: Any, keys: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The identity of a list-map item, or None when the item is not an object."""
    if not isinstance(item, Mapping):
        return None
    return tuple(item.get(k, KEY_DEFAULTS.get(k)) for k in keys)
