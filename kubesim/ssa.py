"""Server-side apply: merge one manager's applied configuration into the live object.

Pure code over dicts. `apply_configuration` merges (list-maps by key, sets by value, other lists
atomic), detects conflicts with fields other managers own and would see changed, takes them over
when forced, and removes the fields this manager applied before, no longer applies, and nobody
else owns.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubesim.fieldpaths import (
    MISSING,
    FieldPath,
    field_set,
    format_path,
    owned_content,
    remove_path,
    value_at,
)
from kubesim.listschema import ATOMIC, ListSchema, item_key
from kubesim.managedfields import (
    ManagerEntry,
    Operation,
    decode_entries,
    differs,
    encode_entries,
    find_or_add,
)


@dataclass(frozen=True)
class Conflict:
    """A field the applier would change although another manager owns it."""

    manager: str
    api_version: str
    path: FieldPath
    operation: Operation = Operation.APPLY
    subresource: str = ""

    @property
    def field(self) -> str:
        return format_path(self.path)

    @property
    def owner(self) -> str:
        """The owner as the server names it: `"m"`, `"m" with subresource "status"`, and
        `... using apps/v1` for an Update manager (whose entry is per API version)."""
        out = json.dumps(self.manager)
        if self.subresource:
            out += f" with subresource {json.dumps(self.subresource)}"
        if self.operation is Operation.UPDATE:
            out += f" using {self.api_version}"
        return out

    @property
    def order(self) -> str:
        """The server sorts owners by their encoded managedFields identifier."""
        return json.dumps(
            {
                "manager": self.manager,
                "operation": str(self.operation),
                "apiVersion": self.api_version,
                "subresource": self.subresource,
            },
            separators=(",", ":"),
        )


class ApplyConflict(Exception):
    """Raised when an apply without force would take fields from other managers."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        super().__init__(conflict_message(conflicts))


def conflict_message(conflicts: list[Conflict]) -> str:
    """The API server's wording: `Apply failed with 1 conflict: conflict with "m": .f`, or for
    several, each owner (in the server's order) followed by its fields as `- .f` lines."""
    if len(conflicts) == 1:
        only = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {only.owner}: {only.field}"
    by_owner: dict[str, list[Conflict]] = {}
    for c in conflicts:
        by_owner.setdefault(c.order, []).append(c)
    lines = []
    for order in sorted(by_owner):
        lines.append(f"conflicts with {by_owner[order][0].owner}:")
        lines += [f"- {c.field}" for c in by_owner[order]]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def merge_values(base: Any, patch: Any, names: tuple[str, ...], schema: ListSchema) -> Any:
    """Merge an applied value into a live one (returns new containers, never mutates)."""
    if isinstance(patch, Mapping) and isinstance(base, Mapping):
        if schema.get(names) is ATOMIC:
            return copy.deepcopy(patch)
        out = dict(base)
        for k, v in patch.items():
            out[k] = (
                merge_values(base[k], v, (*names, k), schema) if k in base else (copy.deepcopy(v))
            )
        return out
    if isinstance(patch, list) and isinstance(base, list):
        keys = schema.get(names)
        if keys is None:
            return copy.deepcopy(patch)
        if not keys:
            return list(base) + [copy.deepcopy(v) for v in patch if v not in base]
        merged = list(base)
        index = {item_key(item, keys): i for i, item in enumerate(merged)}
        for item in patch:
            k = item_key(item, keys)
            if k is not None and k in index:
                merged[index[k]] = merge_values(merged[index[k]], item, names, schema)
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(patch)


@dataclass(frozen=True)
class ApplyResult:
    object: dict[str, Any]
    conflicts_taken: tuple[Conflict, ...]


def apply_configuration(
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    *,
    manager: str,
    force: bool,
    schema: ListSchema,
    ignore_status: bool,
    now: str,
) -> ApplyResult:
    """The object after `manager` applies `applied` over `live` (None when it does not exist).

    Identity fields (apiVersion, kind, name, namespace) are the caller's business; the result
    carries the live object's server metadata and a recomputed `metadata.managedFields`.
    """
    # An explicit null is owned (as the server records it) but sets nothing here: the server
    # would store Go's zero value of the field's type, which kubesim does not know.
    new_set = field_set(applied, schema, ignore_status=ignore_status)
    nulls = new_set - field_set(_drop_nulls(applied), schema, ignore_status=ignore_status)
    applied = _drop_nulls(applied)
    content = owned_content(applied, ignore_status=ignore_status)
    entries = decode_entries(live)
    base: dict[str, Any] = copy.deepcopy(dict(live)) if live is not None else {}
    merged: dict[str, Any] = merge_values(base, content, (), schema)
    api_version = str(applied.get("apiVersion", ""))

    mine: ManagerEntry | None = next(
        (e for e in entries if e.matches(manager, Operation.APPLY, "")), None
    )
    old_set = set(mine.fields) if mine else set()

    conflicts: list[Conflict] = []
    if live is not None:
        for e in entries:
            if e is mine:
                continue
            for p in sorted(new_set & e.fields):
                if differs(live, merged, p) or (
                    p in nulls and value_at(live, p) not in (None, MISSING)
                ):
                    conflicts.append(
                        Conflict(e.manager, e.api_version, p, e.operation, e.subresource)
                    )
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    taken = {c.path for c in conflicts}
    for e in entries:
        if e is not mine:
            e.fields -= taken

    others = set().union(*(e.fields for e in entries if e is not mine))
    owned_prefixes = {p[:i] for p in others | new_set for i in range(1, len(p) + 1)}
    for p in sorted(old_set - new_set, key=len):
        if p in owned_prefixes:
            continue
        if remove_path(merged, p):
            _prune_empty_parents(merged, p, owned_prefixes)

    entry = find_or_add(entries, manager, Operation.APPLY, "", api_version, now)
    entry.fields = new_set
    entries = [e for e in entries if e.fields]
    merged.setdefault("metadata", {})["managedFields"] = encode_entries(entries)
    return ApplyResult(merged, tuple(conflicts))


def _prune_empty_parents(
    obj: dict[str, Any], path: FieldPath, owned_prefixes: set[FieldPath]
) -> None:
    parent = path[:-1]
    while len(parent) > 1 and parent[-1].startswith("f:") and parent not in owned_prefixes:
        node = value_at(obj, parent)
        if not isinstance(node, Mapping) or node:
            return
        remove_path(obj, parent)
        parent = parent[:-1]
