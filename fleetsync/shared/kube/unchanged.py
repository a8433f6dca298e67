"""Deciding locally, without asking the server, that applying an object would change nothing.

A steady-state reconcile should cost one LIST per kind and no write of any kind, not a GET and a
server dry-run per object. Server-side applying `desired` as fleetsync leaves the live object as
it is when fleetsync's Apply entry in `metadata.managedFields` (manager `fleetsync`, operation
Apply, no subresource, recorded at the manifest's apiVersion) owns exactly what the manifest
declares, and every declared value is live. `unchanged` walks the manifest, that entry's FieldsV1
set and the live object together:

- a field the manifest declares that fleetsync does not own (never applied, or another manager
  took it) means a change: the apply would take it back;
- a field fleetsync owns that the manifest no longer declares means a change: the apply removes
  it (a dropped key, a dropped list item);
- where fleetsync owns a map or list as a whole (an atomic list, an empty map), the live value
  must equal the declared one whole: another manager's extra item would be removed;
- items of a keyed list (`k:{...}`) or a set (`v:...`) are matched by the keys the FieldsV1 set
  names, each declared item to exactly one live item, in the declared order;
- values compare with `compare.same_value`, strictly (1 is not "1"), against the manifest as the
  server stores it (`stored.stored_form`: `cpu: 2000m` is live as "2", a Secret's stringData as
  base64 data, whose ownership the FieldsV1 set still records under `f:stringData`), or else as
  written (a server that keeps the spelling applies it the same way again); a null is the same
  only as a null the server keeps (an object template's `creationTimestamp: null`).

It also requires `diff.drifted` to find no drift, the projection the drift view shows.
Whatever this cannot decide with certainty counts as "maybe changed" and goes to the server's
dry-run: a false "changed" costs one request, which then finds the object unchanged and writes
nothing; a false "unchanged" would be a missed change, so every doubt falls on the safe side.

Pure: mappings in, booleans out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fleetsync.shared.kube.compare import BUILTIN_DEFAULTS, NO_DEFAULTS, is_mapping, same_value
from fleetsync.shared.kube.diff import drifted
from fleetsync.shared.kube.ownership import FIELD_MANAGER
from fleetsync.shared.kube.plan import group_kind, is_builtin
from fleetsync.shared.kube.stored import fold_string_data_fields, stored_form
from fleetsync.shared.model import ResourceKey

Manifest = Mapping[str, Any]

_IDENTITY = ("apiVersion", "kind")
_METADATA_IDENTITY = ("name", "namespace")
"""What identifies an object (`ResourceKey`): the server never records it in a managedFields
entry."""


def applied_entry(live: Manifest) -> Mapping[str, Any] | None:
    """fleetsync's Apply entry in the live object's managedFields, or None."""
    for entry in (live.get("metadata") or {}).get("managedFields") or ():
        if (
            isinstance(entry, Mapping)
            and entry.get("manager") == FIELD_MANAGER
            and entry.get("operation") == "Apply"
            and not entry.get("subresource")
        ):
            return entry
    return None


def applied_fields(live: Manifest, *, api_version: Any) -> Mapping[str, Any] | None:
    """The FieldsV1 set fleetsync's last server-side apply left it owning, or None (no such
    apply, or one recorded at another apiVersion than `api_version`)."""
    entry = applied_entry(live)
    if entry is None or entry.get("apiVersion") != api_version:
        return None
    fields = entry.get("fieldsV1")
    return fields if isinstance(fields, Mapping) else None


def unchanged(desired: Manifest, live: Manifest | None) -> bool:
    """Whether server-side applying `desired` (as fleetsync) certainly leaves `live` as it is."""
    if live is None:
        return False
    fields = applied_fields(live, api_version=desired.get("apiVersion"))
    if fields is None or ResourceKey.of(desired) != ResourceKey.of(live):
        return False
    defaults = BUILTIN_DEFAULTS if is_builtin(desired) else NO_DEFAULTS
    stored_fields: Mapping[str, Any] | None = fields
    if group_kind(desired) == ("", "Secret"):
        stored_fields = fold_string_data_fields(fields)
    stored = stored_fields is not None and _same(
        applied_content(stored_form(desired), stored_fields), stored_fields, live, defaults
    )
    same = stored or _same(applied_content(desired, fields), fields, live, defaults)
    return same and not drifted(desired, live)


def applied_content(desired: Manifest, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The part of `desired` a managedFields entry can own: without its identity, without a
    `metadata.creationTimestamp: null` and an empty `status` that generated manifests carry and
    the server ignores (unless fleetsync owns a status: a kind without a status subresource)."""
    content = {k: v for k, v in desired.items() if k not in _IDENTITY}
    metadata = content.get("metadata")
    if isinstance(metadata, Mapping):
        trimmed = {k: v for k, v in metadata.items() if k not in _METADATA_IDENTITY}
        if "creationTimestamp" in trimmed and trimmed["creationTimestamp"] is None:
            trimmed.pop("creationTimestamp")
        content["metadata"] = trimmed
        if not trimmed:
            content.pop("metadata")
    if content.get("status") == {} and "f:status" not in fields:
        content.pop("status")
    return content


def _members(owned: Any) -> dict[str, Any] | None:
    """The FieldsV1 node's members ("." left out), or None when it is not a FieldsV1 node."""
    if not isinstance(owned, Mapping):
        return None
    return {k: v for k, v in owned.items() if k != "."}


def _same(declared: Any, owned: Any, live: Any, defaults: Mapping[str, Any]) -> bool:
    """Whether `declared` is exactly what the FieldsV1 node `owned` covers, and is `live`."""
    members = _members(owned)
    if members is None:
        return False
    if not members:
        return same_value(declared, live, defaults=defaults)
    if is_mapping(declared):
        if not is_mapping(live) or set(members) != {f"f:{k}" for k in declared}:
            return False
        return all(
            k in live and _same(v, members[f"f:{k}"], live[k], defaults)
            for k, v in declared.items()
        )
    return (
        isinstance(declared, list)
        and isinstance(live, list)
        and _same_items(declared, members, live, defaults)
    )


def _same_items(
    declared: Sequence[Any],
    members: Mapping[str, Any],
    live: Sequence[Any],
    defaults: Mapping[str, Any],
) -> bool:
    """A keyed list or a set: every declared item owned by one member, found once live, in the
    declared order; every member declared."""
    used: set[str] = set()
    positions: list[int] = []
    for item in declared:
        element = _owning_element(item, members)
        if element is None or element in used:
            return False
        used.add(element)
        where = [i for i, seen in enumerate(live) if _is_item(seen, element)]
        if len(where) != 1 or (
            isinstance(item, Mapping)
            and not _same(item, members[element], live[where[0]], defaults)
        ):
            return False
        positions.append(where[0])
    return used == set(members) and positions == sorted(positions)


def _owning_element(item: Any, members: Mapping[str, Any]) -> str | None:
    """The one FieldsV1 element (`k:{...}` or `v:...`) naming `item`, or None."""
    found = [element for element in members if _is_item(item, element)]
    return found[0] if len(found) == 1 else None


def _is_item(item: Any, element: str) -> bool:
    """Whether a list item is the one a `k:` or `v:` element names (other forms: never)."""
    kind, _, raw = element.partition(":")
    if kind not in ("k", "v"):
        return False
    try:
        value = json.loads(raw)
    except ValueError:
        return False
    if kind == "v":
        return not isinstance(item, Mapping | list) and item is not None and same_value(item, value)
    if not isinstance(value, Mapping) or not value or not isinstance(item, Mapping):
        return False
    return all(same_value(item.get(k, BUILTIN_DEFAULTS.get(k)), v) for k, v in value.items())
