"""Built-in kinds' schemas: type checks, unknown fields and merge types, as a real server has.

The table comes from `data/builtin-api.json` (made by `apigen` from a real server's OpenAPI v3).
`check` walks an object against its kind's schema in document order and returns what the real
server would say about it: the unknown fields (dropped, with a warning or a 400 under Strict
field validation) and the wrong types (a 400 from the JSON decoder on create and update, a 500
"failed to create typed patch object" on server-side apply). `list_schema` derives the list-map
keys, sets and atomic maps that server-side apply and strategic merge patch merge by.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from kubesim.listschema import ATOMIC, ITEMS, KEY_DEFAULTS, STRUCT
from kubesim.quantity import canonical_quantity

DATA = Path(__file__).parent / "data" / "builtin-api.json"
_MAX_DEPTH = 24


@cache
def table() -> dict[str, Any]:
    """The distilled built-in API (loaded on first use, shared by every cluster)."""
    loaded: dict[str, Any] = json.loads(DATA.read_text())
    return loaded


def kind_root(group: str, version: str, kind: str) -> str | None:
    """The schema name of a built-in kind at a version, or None when it has none."""
    name: str | None = table()["kinds"].get(f"{group}/{version}/{kind}")
    return name


@dataclass(frozen=True)
class WrongType:
    """A value whose type the schema refuses."""

    path: tuple[Any, ...]
    """Field names and list indices from the root."""
    apply_path: str
    """The path as server-side apply names it (`.spec.ports[port=80,protocol="TCP"].name`)."""
    expected: str
    """What the schema wants: string, numeric, boolean, map, list."""
    value: Any
    go_struct: str
    """The Go struct that holds the field (`DeploymentSpec`) and the field's Go type."""
    go_type: str

    def apply_message(self) -> str:
        """Server-side apply's wording (structured-merge-diff's validation errors)."""
        v = self.value
        if self.expected == "string":
            got = f"&value.valueUnstructured{{Value:{go_format(v)}}}"
        elif self.expected == "numeric (int or float)":
            got = json_kind(v, go=True)
        else:
            got = f"&{{{go_format(v)}}}"
        return f"{self.apply_path}: expected {self.expected}, got {got}"

    def decode_message(self) -> str:
        """The JSON decoder's wording (create and update bodies)."""
        dotted = ".".join(p for p in self.path if isinstance(p, str))
        return (
            f"json: cannot unmarshal {json_kind(self.value)} into Go struct field "
            f"{self.go_struct}.{dotted} of type {self.go_type}"
        )


@dataclass
class Checked:
    """What the schema says about one object."""

    unknown: list[str] = field(default_factory=list)
    """Unknown fields, as warnings name them (`spec.template.spec.containers[0].bogus`)."""
    wrong: list[WrongType] = field(default_factory=list)
    apply_errors: list[str] = field(default_factory=list)
    """Server-side apply's errors: wrong types, and an unknown field (where it stops a map)."""
    base64: str = ""
    """The decoder's complaint about the first `[]byte` field that is not base64."""


def json_kind(value: Any, *, go: bool = False) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list" if go else "array"
    if isinstance(value, Mapping):
        return "map" if go else "object"
    return "null"


def go_format(value: Any) -> str:
    """A value as Go's %v prints an unstructured one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_format(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    return str(value)


def _go_type(node: Any) -> str:
    if isinstance(node, str):
        if node[:1] in ("#", "$"):
            return "v1." + node.rsplit(".", 1)[1] if "." in node else node[1:]
        return {
            "int32": "int32",
            "int64": "int64",
            "number": "float64",
            "boolean": "bool",
            "bytes": "[]uint8",
            "string": "string",
            "time": "v1.Time",
            "quantity": "resource.Quantity",
            "int-or-string": "intstr.IntOrString",
        }.get(node, "interface {}")
    if "list" in node:
        return "[]" + _go_type(node["list"])
    if "map" in node:
        return "map[string]" + _go_type(node["map"])
    return "interface {}"


def _key_text(item: Mapping[str, Any], keys: list[str]) -> str:
    parts = []
    for k in keys:
        v = item.get(k, KEY_DEFAULTS.get(k))
        parts.append(f"{k}={json.dumps(v)}")
    return "[" + ",".join(parts) + "]"


class _Walker:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self.defs = defs
        self.out = Checked()

    def walk(
        self, value: Any, node: Any, path: tuple[Any, ...], apply_path: str, struct: str, depth: int
    ) -> Any:
        """The value with unknown fields dropped (the original when nothing is dropped)."""
        if value is None or depth > _MAX_DEPTH:
            return value
        if isinstance(node, str):
            if node[:1] in ("#", "$"):
                return self.struct(value, node[1:], path, apply_path, depth)
            return self.scalar(value, node, path, apply_path, struct)
        if "list" in node:
            if not isinstance(value, list):
                return self.wrong(value, "list", node, path, apply_path, struct)
            items = []
            changed = False
            keys = node.get("keys")
            for i, item in enumerate(value):
                where = _key_text(item, keys) if keys and isinstance(item, Mapping) else f"[{i}]"
                new = self.walk(
                    item, node["list"], (*path, i), apply_path + where, struct, depth + 1
                )
                changed |= new is not item
                items.append(new)
            return items if changed else value
        if "map" in node:
            if not isinstance(value, Mapping):
                return self.wrong(value, "map", node, path, apply_path, struct)
            changed = False
            out = {}
            for k in sorted(value):
                v = value[k]
                new = self.walk(v, node["map"], (*path, k), f"{apply_path}.{k}", struct, depth + 1)
                changed |= new is not v
                out[k] = new
            return {k: out[k] for k in value} if changed else value
        return value

    def struct(
        self, value: Any, name: str, path: tuple[Any, ...], apply_path: str, depth: int
    ) -> Any:
        spec = self.defs.get(name)
        if spec is None:
            return value
        short = name.rsplit(".", 1)[-1]
        if not isinstance(value, Mapping):
            return self.wrong(value, "map", "#" + name, path, apply_path, short)
        props = spec["props"]
        out: dict[str, Any] = {}
        changed = False
        stopped = False
        for k, v in value.items():
            child = props.get(k)
            if child is None:
                self.out.unknown.append(_dotted((*path, k)))
                if not stopped:
                    self.out.apply_errors.append(f"{apply_path}.{k}: field not declared in schema")
                    stopped = True
                changed = True
                continue
            new = self.walk(v, child, (*path, k), f"{apply_path}.{k}", short, depth + 1)
            changed |= new is not v
            out[k] = new
        return out if changed else value

    def scalar(
        self, value: Any, node: str, path: tuple[Any, ...], apply_path: str, struct: str
    ) -> Any:
        if node == "quantity" and not isinstance(value, bool):
            canonical = canonical_quantity(value)
            if canonical is not None:
                return value if canonical == value else canonical
        if node == "bytes" and isinstance(value, str) and not self.out.base64:
            bad = _base64_problem(value)
            if bad is not None:
                self.out.base64 = f"illegal base64 data at input byte {bad}"
        if node in ("string", "bytes", "time"):
            ok, expected = isinstance(value, str), "string"
        elif node in ("int32", "int64", "number"):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            expected = "numeric (int or float)"
        elif node == "boolean":
            ok, expected = isinstance(value, bool), "boolean"
        elif node in ("int-or-string", "quantity"):
            ok = isinstance(value, str | int | float) and not isinstance(value, bool)
            expected = "string"
        else:
            return value
        if not ok:
            self.wrong(value, expected, node, path, apply_path, struct)
        return value

    def wrong(
        self,
        value: Any,
        expected: str,
        node: Any,
        path: tuple[Any, ...],
        apply_path: str,
        struct: str,
    ) -> Any:
        problem = WrongType(path, apply_path, expected, value, struct, _go_type(node))
        self.out.wrong.append(problem)
        self.out.apply_errors.append(problem.apply_message())
        return value


_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_problem(text: str) -> int | None:
    """Where standard base64 decoding fails (Go's "illegal base64 data at input byte N")."""
    data = text.encode().replace(b"\r", b"").replace(b"\n", b"")  # Go skips line breaks
    end = len(data.rstrip(b"="))
    for i, c in enumerate(data[:end]):
        if c not in _B64:
            return i
    if len(data) % 4 or len(data) - end > 2:
        return max(0, (len(data) // 4) * 4 - (0 if len(data) % 4 else 4))
    return None


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def check(root: str, obj: Mapping[str, Any]) -> tuple[dict[str, Any], Checked]:
    """(the object with unknown fields dropped, what was found) for a built-in kind."""
    walker = _Walker(table()["defs"])
    pruned = walker.struct(obj, root, (), "", 0)
    return dict(pruned), walker.out


def apply_error_text(errors: list[str]) -> str:
    if len(errors) == 1:
        return errors[0]
    return "errors:\n" + "\n".join(f"  {e}" for e in errors)


@cache
def builtin_list_schema(root: str) -> dict[tuple[str, ...], tuple[str, ...]]:
    """List-map keys, sets and atomic maps of a built-in kind, by field-name path; STRUCT marks
    the structs every object of the kind holds (by value, from the root down)."""
    defs = table()["defs"]
    out: dict[tuple[str, ...], tuple[str, ...]] = {}

    def visit(
        node: Any,
        path: tuple[str, ...],
        seen: tuple[str, ...],
        item: bool = False,
        by_value: bool = True,
    ) -> None:
        if len(path) > _MAX_DEPTH:
            return
        if isinstance(node, str):
            if node[:1] in ("#", "$") and node[1:] not in seen:
                spec = defs.get(node[1:])
                if spec is None:
                    return
                if spec.get("atomic"):
                    out[(*path, ITEMS) if item else path] = ATOMIC
                    return
                held = by_value and (node[0] == "$" or not path) and not item
                if held and path:
                    out[path] = STRUCT
                for k, child in spec["props"].items():
                    visit(child, (*path, k), (*seen, node[1:]), by_value=held)
            return
        if "list" in node:
            if "keys" in node:
                out[path] = tuple(node["keys"])
            elif node.get("set"):
                out[path] = ()
            visit(node["list"], path, seen, item=True, by_value=False)
        elif "map" in node and node.get("atomic"):
            out[path] = ATOMIC

    visit("#" + root, (), ())
    for top in ("metadata", "spec", "status"):
        out.setdefault((top,), STRUCT)
    return out


_ZERO = {"string": "", "int32": 0, "int64": 0, "number": 0, "boolean": False}


@cache
def _zero_struct(name: str, depth: int = 0) -> dict[str, Any]:
    spec = table()["defs"].get(name) or {}
    required = spec.get("required") or ()
    out: dict[str, Any] = {}
    for k, node in (spec.get("props") or {}).items():
        if isinstance(node, str) and node[:1] == "$" and depth < _MAX_DEPTH:
            out[k] = _zero_struct(node[1:], depth + 1)
        elif k in required:
            out[k] = _ZERO.get(node) if isinstance(node, str) else None
    return out


def zero_object(root: str | None) -> dict[str, Any]:
    """What Go's JSON encoding of an empty object of the kind holds (structs held by value,
    required fields as zero or null): the base a create's ownership is computed against."""
    if root is None:
        return {}
    return {k: v for k, v in _zero_struct(root).items() if k not in ("apiVersion", "kind")}
