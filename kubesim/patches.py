"""The non-apply patch types: JSON merge patch, JSON patch and strategic merge patch.

Each takes the live object and the decoded patch and returns a new object (the live one is not
mutated). Failures raise `PatchError`, which the caller reports as the server does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from kubesim.listschema import ListSchema, item_key


class PatchType(StrEnum):
    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"
    APPLY_CBOR = "application/apply-patch+cbor"


class PatchError(Exception):
    """A patch that cannot be applied (bad operation, missing path, failed test)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc: Any, parts: list[str]) -> Any:
    node = doc
    for p in parts:
        if isinstance(node, dict):
            if p not in node:
                raise PatchError(f"missing path: /{'/'.join(parts)}")
            node = node[p]
        elif isinstance(node, list):
            try:
                node = node[int(p)]
            except (ValueError, IndexError) as exc:
                raise PatchError(f"invalid index {p!r}") from exc
        else:
            raise PatchError(f"cannot descend into a scalar at {p!r}")
    return node


def _get(doc: Any, path: str) -> Any:
    return _container(doc, _pointer(path))


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise PatchError("cannot remove the root")
    parent = _container(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}")
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError) as exc:
            raise PatchError(f"invalid index {last!r}") from exc
    raise PatchError(f"cannot remove from a scalar at {path!r}")


def _add(doc: Any, path: str, value: Any, *, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _container(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"replace operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
            return doc
        try:
            index = int(last)
        except ValueError as exc:
            raise PatchError(f"invalid index {last!r}") from exc
        if replace:
            if not 0 <= index < len(parent):
                raise PatchError(f"index out of range: {index}")
            parent[index] = value
        else:
            if not 0 <= index <= len(parent):
                raise PatchError(f"index out of range: {index}")
            parent.insert(index, value)
    else:
        raise PatchError(f"cannot add to a scalar at {path!r}")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 add/remove/replace/move/copy/test."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, Mapping) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid operation {op!r}")
        kind, path = op["op"], str(op["path"])
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=False)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "move":
            value = _remove(doc, str(op.get("from", "")))
            doc = _add(doc, path, value, replace=False)
        elif kind == "copy":
            value = copy.deepcopy(_get(doc, str(op.get("from", ""))))
            doc = _add(doc, path, value, replace=False)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"unexpected kind of operation: {kind!r}")
    return doc


def strategic_merge_patch(target: Any, patch: Any, schema: ListSchema) -> Any:
    """Strategic merge patch for built-in kinds: list-maps merge by their first key field.

    Honours `$patch: delete|replace|merge`, `$retainKeys`, `$deleteFromPrimitiveList/<f>` and
    accepts (and drops) `$setElementOrder/<f>`.
    """
    return _smp(target, patch, (), schema)


def _smp(target: Any, patch: Any, names: tuple[str, ...], schema: ListSchema) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    out = dict(target) if isinstance(target, Mapping) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.partition("/")[2]
            if isinstance(out.get(field), list) and isinstance(v, list):
                out[field] = [x for x in out[field] if x not in v]
            continue
        path = (*names, k)
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and path in schema:
            out[k] = _smp_list(out.get(k), v, path, schema)
        elif isinstance(v, Mapping):
            if v.get("$patch") == "delete":
                out.pop(k, None)
            else:
                out[k] = _smp(out.get(k), v, path, schema)
        else:
            out[k] = copy.deepcopy(v)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _smp_list(
    current: Any, patch: list[Any], path: tuple[str, ...], schema: ListSchema
) -> list[Any]:
    keys = schema[path]
    base = list(current) if isinstance(current, list) else []
    if any(isinstance(i, Mapping) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, Mapping) and "$patch" in i)]
    if not keys:
        return base + [copy.deepcopy(v) for v in patch if v not in base]
    merge_keys = keys[:1]
    server = [item_key(b, merge_keys) for b in base]
    patched: list[Any] = []
    for item in patch:
        k = item_key(item, merge_keys)
        index = next((i for i, b in enumerate(base) if item_key(b, merge_keys) == k), -1)
        if isinstance(item, Mapping) and item.get("$patch") == "delete":
            if index >= 0:
                del base[index]
        elif index >= 0:
            patched.append(_smp(base.pop(index), item, path, schema))
        else:
            patched.append(_smp({}, item, path, schema))
    return _in_server_order(base, patched, server, merge_keys)


def _in_server_order(
    server_only: list[Any], patched: list[Any], server: list[Any], merge_keys: tuple[str, ...]
) -> list[Any]:
    """The server's order: items it had stay where they were, new ones go before the first
    item the patch lists after them (first of all when there is none)."""

    def position(item: Any) -> int:
        key = item_key(item, merge_keys)
        return server.index(key) if key in server else -1

    out: list[Any] = []
    i = j = 0
    while i < len(server_only) and j < len(patched):
        if position(server_only[i]) < position(patched[j]):
            out.append(server_only[i])
            i += 1
        else:
            out.append(patched[j])
            j += 1
    return out + server_only[i:] + patched[j:]
