"""Field sets: which fields of an object a manager owns, and their FieldsV1 encoding.

A field path is a tuple of path elements in the API server's own notation: `f:<field>` for a map
field, `k:{"name":"app"}` for a list-map item, `v:<json>` for an item of a set, `i:<n>` for an
index. A field set is a set of member paths; `to_fields_v1` and `from_fields_v1` convert it to and
from the nested `fieldsV1` form found in `metadata.managedFields`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from kubesim.listschema import ATOMIC, ITEMS, KEY_DEFAULTS, ListSchema, item_key

FieldPath = tuple[str, ...]
FieldSet = set[FieldPath]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

SERVER_METADATA: frozenset[str] = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
        "generateName",
    }
)


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def key_element(item: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    values = item_key(item, keys) or ()
    return "k:" + _dump(dict(zip(keys, values, strict=True)))


def owned_content(obj: Mapping[str, Any], *, ignore_status: bool) -> dict[str, Any]:
    """The part of an object that managers can own: no identity, no server-set metadata."""
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if ignore_status:
        out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        trimmed = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
        if trimmed:
            out["metadata"] = trimmed
        else:
            out.pop("metadata")
    return out


def field_set(obj: Mapping[str, Any], schema: ListSchema, *, ignore_status: bool) -> FieldSet:
    """Every member path of an object, as the API server would record it for its manager."""
    out: FieldSet = set()
    for name, value in owned_content(obj, ignore_status=ignore_status).items():
        _collect(value, (name,), ("f:" + name,), schema, out)
    return out


def _collect(
    value: Any, names: tuple[str, ...], path: FieldPath, schema: ListSchema, out: FieldSet
) -> None:
    if isinstance(value, Mapping):
        if not value or schema.get(names) is ATOMIC:
            out.add(path)
            return
        for k, v in value.items():
            _collect(v, (*names, k), (*path, "f:" + k), schema, out)
    elif isinstance(value, list):
        keys = schema.get(names)
        if keys is None or not value:
            out.add(path)
        elif not keys:
            for item in value:
                out.add((*path, "v:" + _dump(item)))
        else:
            for item in value:
                if not isinstance(item, Mapping):
                    out.add(path)
                    continue
                item_path = (*path, key_element(item, keys))
                out.add(item_path)
                if schema.get((*names, ITEMS)) is ATOMIC:
                    continue
                for k, v in item.items():
                    _collect(v, (*names, k), (*item_path, "f:" + k), schema, out)
    else:
        out.add(path)


def _find_in_list(items: list[Any], element: str) -> int:
    kind, _, raw = element.partition(":")
    if kind == "i":
        index = int(raw)
        return index if 0 <= index < len(items) else -1
    wanted = json.loads(raw)
    for i, item in enumerate(items):
        if kind == "v" and item == wanted:
            return i
        if (
            kind == "k"
            and isinstance(item, Mapping)
            and all(item.get(k, KEY_DEFAULTS.get(k)) == v for k, v in wanted.items())
        ):
            return i
    return -1


def value_at(obj: Any, path: FieldPath) -> Any:
    """The value at a field path, or MISSING."""
    node = obj
    for element in path:
        if element.startswith("f:"):
            if not isinstance(node, Mapping) or element[2:] not in node:
                return MISSING
            node = node[element[2:]]
        else:
            if not isinstance(node, list):
                return MISSING
            index = _find_in_list(node, element)
            if index < 0:
                return MISSING
            node = node[index]
    return node


def remove_path(obj: Any, path: FieldPath) -> bool:
    """Remove the field or list item at `path` from `obj` in place; True when something went."""
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1]
    if last.startswith("f:"):
        if isinstance(parent, dict) and last[2:] in parent:
            del parent[last[2:]]
            return True
        return False
    if isinstance(parent, list):
        index = _find_in_list(parent, last)
        if index >= 0:
            del parent[index]
            return True
    return False


def is_item(path: FieldPath) -> bool:
    """Whether the path names a list item (whose value is compared by existence only)."""
    return bool(path) and not path[-1].startswith("f:")


def to_fields_v1(paths: Iterable[FieldPath]) -> dict[str, Any]:
    """Encode a field set in the nested `fieldsV1` form."""
    root: dict[str, Any] = {}
    members: list[FieldPath] = sorted(paths)
    for path in members:
        node = root
        for element in path:
            node = node.setdefault(element, {})
    for path in members:
        node = root
        for element in path:
            node = node[element]
        if node and "." not in node:
            node["."] = {}
    return root


def from_fields_v1(tree: Mapping[str, Any]) -> FieldSet:
    """Decode a nested `fieldsV1` tree into a field set."""
    out: FieldSet = set()

    def walk(node: Mapping[str, Any], path: FieldPath) -> None:
        if not node:
            if path:
                out.add(path)
            return
        for element, child in node.items():
            if element == ".":
                out.add(path)
            elif isinstance(child, Mapping):
                walk(child, (*path, element))

    walk(tree, ())
    return out


def format_path(path: FieldPath) -> str:
    """A field path as `.spec.containers[name="app"].image`, the way conflicts name it."""
    out = []
    for element in path:
        if element.startswith("f:"):
            out.append("." + element[2:])
        elif element.startswith("k:"):
            pairs = json.loads(element[2:])
            out.append("[" + ",".join(f"{k}={_dump(v)}" for k, v in pairs.items()) + "]")
        elif element.startswith("v:"):
            out.append("[" + element[2:] + "]")
        else:
            out.append("[" + element[2:] + "]")
    return "".join(out)
