"""Cluster variables in rendered output and Helm values: `${cluster.name}`,
`${cluster.labels.KEY}`, `${cluster.values.PATH}` (a dotted path), each with an optional
default (`${cluster.values.domain:=example.com}`); `$${...}` is a literal `${...}`.

Pure functions over JSON-like trees, in three steps so that a render is keyed by exactly what it
reads: `references` lists the variables a tree uses (and where each is first used), `resolve`
looks them up for one cluster (an unresolved variable without a default is an error naming it),
and `substitute` writes the resolved values in. Clusters whose resolved references are equal get
equal output, so they share one bundle.

Rules:
- variables are replaced inside string values only; a variable in a mapping key is an error;
- in rendered output (`typed=False`) the result is always a string: a number or boolean value
  is written as text, a mapping or list value is an error (it has no place in a string);
- in Helm values (`typed=True`) a string that is exactly one variable takes the value itself
  (a number, a boolean, a mapping...), so `replicaCount: ${cluster.values.replicas}` is a number;
- any other `${NAME}` is an error: write `$${NAME}` for a literal (a shell script's variables).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\$(\$?)\{([^{}]*)\}")
_NAME = re.compile(r"cluster\.(name|labels\.(.+)|values\.([^.]+(?:\.[^.]+)*))")
_MISSING = object()

NAMES_HINT = "cluster.name, cluster.labels.KEY and cluster.values.PATH"


class SubstitutionError(ValueError):
    """A variable that cannot be substituted; the message names it and where it is."""


@dataclass(frozen=True, slots=True, order=True)
class Reference:
    """One variable as written: its name and its default (None: no default)."""

    name: str
    default: str | None = None

    @property
    def text(self) -> str:
        return "${" + self.name + ("" if self.default is None else ":=" + self.default) + "}"


@dataclass(frozen=True, slots=True)
class ClusterScope:
    """What a cluster's variables resolve against."""

    name: str
    labels: Mapping[str, str]
    values: Mapping[str, Any]

    def lookup(self, name: str) -> Any:
        """The variable's value, or `_MISSING`; ValueError for a name that is no variable."""
        match = _NAME.fullmatch(name)
        if match is None:
            raise ValueError(name)
        if match.group(1) == "name":
            return self.name
        if match.group(2) is not None:
            return self.labels.get(match.group(2), _MISSING)
        found: Any = self.values
        for part in match.group(3).split("."):
            if isinstance(found, Mapping) and part in found:
                found = found[part]
            elif isinstance(found, list) and part.isdigit() and int(part) < len(found):
                found = found[int(part)]
            else:
                return _MISSING
        return _MISSING if found is None else found


Resolved = Mapping[Reference, Any]
"""Each reference's value for one cluster."""


def has_variables(tree: Any) -> bool:
    """Whether any string in the tree (keys included) holds a `${`: a quick test before the walk."""
    return "${" in json.dumps(tree, ensure_ascii=False)


def references(tree: Any, *, where: str = "") -> dict[Reference, str]:
    """The variables the tree uses, each with where it is first used (`where` prefixes the
    path). An unknown name or a variable in a mapping key is a SubstitutionError."""
    found: dict[Reference, str] = {}

    def visit(node: Any, path: str) -> None:
        if isinstance(node, str):
            for ref in _refs(node, path):
                found.setdefault(ref, path)
        elif isinstance(node, Mapping):
            for key, value in node.items():
                inner = _join(path, str(key))
                if any(True for _ in _live(str(key))):
                    raise SubstitutionError(
                        f"{inner}: a variable in a mapping key is not substituted; variables go "
                        "in string values only (write $${...} for a literal)"
                    )
                visit(value, inner)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                visit(item, f"{path}[{i}]")

    visit(tree, where)
    return found


def resolve(
    refs: Mapping[Reference, str],
    scope: ClusterScope,
    *,
    typed: bool = False,
    about: Callable[[Reference, str], str] | None = None,
) -> dict[Reference, Any]:
    """Each reference's value in `scope` (its default when the cluster has none). An unresolved
    variable without a default, or a structured value where only text fits, is a
    SubstitutionError; `about(ref, where)` words the subject of the message."""
    resolved: dict[Reference, Any] = {}
    for ref, where in sorted(refs.items()):
        subject = about(ref, where) if about else f"{where}: {ref.text}"
        value = scope.lookup(ref.name)
        if value is _MISSING:
            if ref.default is None:
                raise SubstitutionError(
                    f"{subject}: {ref.name} is not defined for cluster '{scope.name}'; "
                    f"declare it in the cluster's {_home(ref.name)} in fleet.yaml or give a "
                    f"default (${{{ref.name}:=...}})"
                )
            value = ref.default
        if isinstance(value, Mapping | list) and not typed:
            raise SubstitutionError(
                f"{subject}: {ref.name} is a {'mapping' if isinstance(value, Mapping) else 'list'}"
                f" for cluster '{scope.name}'; a variable in rendered output stands for a "
                "string, a number or a boolean"
            )
        resolved[ref] = value
    return resolved


def substitute(tree: Any, resolved: Resolved, *, typed: bool = False) -> Any:
    """The tree with every variable replaced by its resolved value and every `$${` made `${`.
    Every reference of the tree must be in `resolved` (see `references`)."""
    if isinstance(tree, str):
        return _substitute_text(tree, resolved, typed=typed)
    if isinstance(tree, Mapping):
        return {
            _substitute_text(str(k), {}, typed=False): substitute(v, resolved, typed=typed)
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [substitute(item, resolved, typed=typed) for item in tree]
    return tree


def key_material(resolved: Resolved) -> list[list[Any]]:
    """The resolved references as a canonical list for a render key."""
    return [[ref.text, resolved[ref]] for ref in sorted(resolved)]


def as_text(value: Any) -> str:
    """A scalar as it is written into a string: JSON's spelling for numbers and booleans."""
    return value if isinstance(value, str) else json.dumps(value)


def _substitute_text(text: str, resolved: Resolved, *, typed: bool) -> Any:
    if "${" not in text:
        return text
    if typed:
        whole = _TOKEN.fullmatch(text)
        if whole is not None and not whole.group(1):
            return resolved[_parse(whole.group(2), "")]

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return "${" + match.group(2) + "}"
        value = resolved[_parse(match.group(2), "")]
        if isinstance(value, Mapping | list):
            raise SubstitutionError(
                f"{match.group(0)}: a mapping or list cannot be written into a longer string"
            )
        return as_text(value)

    return _TOKEN.sub(replace, text)


def _live(text: str) -> list[str]:
    """The bodies of the variables in `text` that are not escaped."""
    return [m.group(2) for m in _TOKEN.finditer(text) if not m.group(1)] if "${" in text else []


def _refs(text: str, where: str) -> list[Reference]:
    return [_parse(body, where) for body in _live(text)]


def _parse(body: str, where: str) -> Reference:
    name, sep, default = body.partition(":=")
    name = name.strip()
    if _NAME.fullmatch(name) is None:
        raise SubstitutionError(
            f"{where}: ${{{body}}} is not a variable fleetsync knows; variables are "
            f"{NAMES_HINT} (write $${{{body}}} for a literal ${{{body}}})"
        )
    return Reference(name, default if sep else None)


def _home(name: str) -> str:
    return "labels" if name.startswith("cluster.labels.") else "values"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
