"""Custom resources checked against their CRD's structural schema, as the real server does.

`check` walks an object against a version's `openAPIV3Schema`: fields the schema does not
declare are pruned (kept under `x-kubernetes-preserve-unknown-fields` or `additionalProperties`),
values of the wrong type are found, and `default`s fill what is absent. `enforce` turns that into
the server's answers: on create, update and patches a 422 Invalid naming each wrong type, unknown
fields as `Warning`s (Warn, the default), a 400 strict decoding error (Strict) or nothing
(Ignore); on server-side apply a 500 "failed to create typed patch object".
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubesim.errors import ApiError, Cause, Reason, bad_request, invalid
from kubesim.schema import apply_error_text, go_format, json_kind
from kubesim.validation import FieldValidation

_ROOT_KEEP = ("apiVersion", "kind", "metadata")
_MAX_DEPTH = 32
_TYPES = {
    "integer": "integer",
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}
_APPLY_EXPECTED = {
    "integer": "numeric (int or float)",
    "number": "numeric (int or float)",
    "string": "string",
    "boolean": "boolean",
    "array": "list",
    "object": "map",
    "integer,string": "string",
}


@dataclass
class Found:
    unknown: list[str] = field(default_factory=list)
    wrong: list[tuple[str, str, Any]] = field(default_factory=list)
    """(dotted path, expected type, the value)"""


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, Mapping) else "null"


def _fits(value: Any, node: Mapping[str, Any]) -> bool:
    if node.get("x-kubernetes-int-or-string"):
        return _type_of(value) in ("integer", "string")
    wanted = node.get("type")
    if wanted not in _TYPES:
        return True
    actual = _type_of(value)
    return actual == wanted or (wanted == "number" and actual == "integer")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Walker:
    def __init__(self) -> None:
        self.found = Found()

    def walk(self, value: Any, node: Mapping[str, Any], path: str, depth: int) -> Any:
        if value is None or depth > _MAX_DEPTH or not isinstance(node, Mapping):
            return value
        if not _fits(value, node):
            wanted = (
                "integer,string"
                if node.get("x-kubernetes-int-or-string")
                else str(node.get("type"))
            )
            self.found.wrong.append((path, wanted, value))
            return value
        if isinstance(value, list):
            items = node.get("items")
            if isinstance(items, Mapping):
                return [self.walk(v, items, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
            return value
        if isinstance(value, Mapping):
            return self.walk_object(value, node, path, depth)
        return value

    def walk_object(
        self,
        value: Mapping[str, Any],
        node: Mapping[str, Any],
        path: str,
        depth: int,
        root: bool = False,
    ) -> dict[str, Any]:
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        keep = bool(node.get("x-kubernetes-preserve-unknown-fields")) or extra is True
        embedded = bool(node.get("x-kubernetes-embedded-resource"))
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in props:
                out[k] = self.walk(v, props[k], _join(path, k), depth + 1)
            elif isinstance(extra, Mapping):
                out[k] = self.walk(v, extra, _join(path, k), depth + 1)
            elif keep or ((root or embedded) and k in _ROOT_KEEP):
                out[k] = v
            else:
                self.found.unknown.append(_join(path, k))
        for k, child in props.items():
            if k not in out and isinstance(child, Mapping) and "default" in child:
                out[k] = self.walk(
                    copy.deepcopy(child["default"]), child, _join(path, k), depth + 1
                )
        return out


def version_schema(crd: Mapping[str, Any] | None, version: str) -> Mapping[str, Any] | None:
    """The `openAPIV3Schema` of one version of a CRD (None: no schema to check against)."""
    for v in ((crd or {}).get("spec") or {}).get("versions") or ():
        if v.get("name") == version:
            found = (v.get("schema") or {}).get("openAPIV3Schema")
            return found if isinstance(found, Mapping) else None
    return None


def check(schema: Mapping[str, Any], obj: Mapping[str, Any]) -> tuple[dict[str, Any], Found]:
    """(the object pruned and defaulted, what was wrong with it)."""
    walker = _Walker()
    out = walker.walk_object(obj, schema, "", 0, root=True)
    return out, walker.found


def enforce(
    schema: Mapping[str, Any] | None,
    obj: dict[str, Any],
    *,
    kind: str,
    group: str,
    version: str,
    mode: FieldValidation,
    warnings: list[str],
) -> dict[str, Any]:
    """A create, update or patch of a custom resource: checked, pruned and defaulted."""
    if schema is None:
        return obj
    checked, found = check(schema, obj)
    unknown = sorted(found.unknown)
    if unknown and mode is FieldValidation.STRICT:
        raise bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: strict '
            "decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown)
        )
    if unknown and mode is FieldValidation.WARN:
        warnings.extend(f'unknown field "{u}"' for u in unknown)
    if found.wrong:
        name = str((obj.get("metadata") or {}).get("name", ""))
        raise invalid(
            kind,
            name,
            [
                Cause(
                    "FieldValueTypeInvalid",
                    f'Invalid value: "{_type_of(v)}": {p} in body must be of '
                    f'type {t}: "{_type_of(v)}"',
                    p,
                )
                for p, t, v in found.wrong
            ],
            group=group,
        )
    return checked


def _apply_message(path: str, expected: str, value: Any) -> str:
    """Structured-merge-diff's words for a value of the wrong type."""
    if expected.startswith("numeric"):
        got = json_kind(value, go=True)
    elif expected == "string":
        got = f"&value.valueUnstructured{{Value:{go_format(value)}}}"
    else:
        got = f"&{{{go_format(value)}}}"
    return f".{path}: expected {expected}, got {got}"


def enforce_applied(
    schema: Mapping[str, Any] | None, applied: Mapping[str, Any], *, subject: str
) -> None:
    """An applied configuration that cannot be typed against the schema is a 500."""
    if schema is None:
        return
    _, found = check(schema, applied)
    errors = [_apply_message(p, _APPLY_EXPECTED.get(t, t), v) for p, t, v in found.wrong]
    errors += [f".{u}: field not declared in schema" for u in found.unknown]
    if errors:
        raise ApiError(
            500,
            Reason.NONE,
            f"failed to create typed patch object {subject}: " + apply_error_text(errors),
        )


def default(schema: Mapping[str, Any] | None, obj: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in (an applied object, once merged)."""
    return obj if schema is None else check(schema, obj)[0]
