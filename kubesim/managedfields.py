"""`metadata.managedFields`: who owns which fields, and how non-apply writes change it.

Entries are decoded into `ManagerEntry` values for the duration of one write and encoded back
afterwards. `record_update` implements the ownership rules of create/update/patch: the writer
takes every field it changed (from whoever owned it, without conflict), and fields that vanished
from the object vanish from every entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kubesim.fieldpaths import (
    MISSING,
    FieldSet,
    field_set,
    from_fields_v1,
    is_item,
    to_fields_v1,
    value_at,
)
from kubesim.listschema import ATOMIC, STRUCT, ListSchema


class Operation(StrEnum):
    APPLY = "Apply"
    UPDATE = "Update"


@dataclass
class ManagerEntry:
    """One decoded managedFields entry (mutable while a write is computed)."""

    manager: str
    operation: Operation
    api_version: str
    time: str
    subresource: str = ""
    fields: FieldSet = field(default_factory=set)

    def matches(self, manager: str, operation: Operation, subresource: str) -> bool:
        return (self.manager, self.operation, self.subresource) == (manager, operation, subresource)

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": str(self.operation),
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.fields),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def decode_entries(obj: Mapping[str, Any] | None) -> list[ManagerEntry]:
    if not obj:
        return []
    raw = (obj.get("metadata") or {}).get("managedFields") or []
    out = []
    for e in raw:
        if not isinstance(e, Mapping) or not e.get("manager"):
            continue
        try:
            operation = Operation(e.get("operation", "Update"))
        except ValueError:
            continue
        out.append(
            ManagerEntry(
                manager=str(e["manager"]),
                operation=operation,
                api_version=str(e.get("apiVersion", "")),
                time=str(e.get("time", "")),
                subresource=str(e.get("subresource", "")),
                fields=from_fields_v1(e.get("fieldsV1") or {}),
            )
        )
    return out


def encode_entries(entries: Sequence[ManagerEntry]) -> list[dict[str, Any]]:
    return [e.encode() for e in entries if e.fields]


def find_or_add(
    entries: list[ManagerEntry],
    manager: str,
    operation: Operation,
    subresource: str,
    api_version: str,
    now: str,
) -> ManagerEntry:
    for e in entries:
        if e.matches(manager, operation, subresource):
            e.api_version = api_version
            e.time = now
            return e
    entry = ManagerEntry(manager, operation, api_version, now, subresource)
    entries.append(entry)
    return entry


def differs(before: Any, after: Any, path: tuple[str, ...]) -> bool:
    """Whether a write changed the value at `path` (list items: whether it came or went)."""
    old, new = value_at(before, path), value_at(after, path)
    if is_item(path):
        return (old is MISSING) != (new is MISSING)
    return bool(old != new)


def record_update(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    *,
    manager: str,
    api_version: str,
    subresource: str,
    schema: ListSchema,
    ignore_status: bool,
    now: str,
    entries: list[ManagerEntry],
    zero: Mapping[str, Any] | None = None,
) -> list[ManagerEntry]:
    """Ownership after a non-apply write of `new` over `old` by `manager`.

    A create is compared with `zero`, the kind's empty object (see `schema.zero_object`): what
    every object holds anyway (structs held by value, required fields at their zero value) is
    not taken by the creator. Null values are owned by nobody."""
    new_set = {
        p
        for p in field_set(new, schema, ignore_status=ignore_status)
        if value_at(new, p) is not None
    }
    if subresource == "status":
        new_set = {p for p in new_set if p[0] == "f:status"}
    base = old if old is not None else zero
    changed = new_set if base is None else {p for p in new_set if differs(base, new, p)}
    changed |= _added_containers(changed, base, new, schema)
    for e in entries:
        e.fields = {p for p in e.fields if p not in changed and value_at(new, p) is not MISSING}
    if changed:
        mine = find_or_add(entries, manager, Operation.UPDATE, subresource, api_version, now)
        mine.fields |= changed
    return [e for e in entries if e.fields]


def _added_containers(
    changed: FieldSet, old: Mapping[str, Any] | None, new: Mapping[str, Any], schema: ListSchema
) -> FieldSet:
    """Maps, optional structs and merged lists an update brought into being: the writer owns
    them too (`.`). A struct held by value (`spec`, a Deployment's `strategy`) always exists,
    so it is not; nor is an atomic list, which is a leaf."""
    out: FieldSet = set()
    for p in changed:
        for i in range(1, len(p)):
            prefix = p[:i]
            if prefix in out or not prefix[-1].startswith("f:"):
                continue
            names = tuple(e[2:] for e in prefix if e.startswith("f:"))
            kind = schema.get(names)
            if kind is STRUCT:
                continue
            value = value_at(new, prefix)
            container = isinstance(value, Mapping) or (
                isinstance(value, list) and kind is not None and kind is not ATOMIC
            )
            if container and value_at(old or {}, prefix) is MISSING:
                out.add(prefix)
    return out


def manager_from_user_agent(user_agent: str) -> str:
    """The default field manager: the user agent up to its first `/`, as the server does."""
    name = user_agent.split("/", 1)[0].strip()
    return name[:128] or "unknown"
