"""Label selectors and field selectors, parsed from query strings and matched against objects."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kubesim.errors import bad_request

Matcher = Callable[[Mapping[str, Any]], bool]
_SET = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\((.*)\)\s*$")
_FIELDS = ("metadata.name", "metadata.namespace")


def _split(expr: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _requirement(expr: str) -> Callable[[Mapping[str, str]], bool]:
    m = _SET.match(expr)
    if m:
        key, op, raw = m.group(1), m.group(2), m.group(3)
        values = {v.strip() for v in raw.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in expr:
            key, _, value = (s.strip() for s in expr.partition(op))
            if not key:
                break
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if expr.startswith("!"):
        key = expr[1:].strip()
        return lambda labels: key not in labels
    if re.match(r"^[A-Za-z0-9./_-]+$", expr):
        return lambda labels: expr in labels
    raise bad_request(f"unable to parse requirement: {expr!r}")


def label_matcher(selector: str | None) -> Matcher | None:
    if not selector:
        return None
    reqs = [_requirement(p) for p in _split(selector)]

    def match(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


def field_matcher(selector: str | None) -> Matcher | None:
    if not selector:
        return None
    checks: list[tuple[str, bool, str]] = []
    for part in _split(selector):
        negate = "!=" in part
        field, _, value = part.partition("!=" if negate else ("==" if "==" in part else "="))
        field = field.strip()
        if field not in _FIELDS:
            raise bad_request(f"field label not supported: {field}")
        checks.append((field.split(".", 1)[1], negate, value.strip()))

    def match(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return all((str(meta.get(f, "")) == v) != neg for f, neg, v in checks)

    return match
