"""The fleet.yaml keys of per-cluster variants: `clusters[].values`, `applications[].substitute`,
and the checks that need the whole fleet (every Helm values variable resolves on every cluster the
application targets).

Called by the fleet.yaml walk (shared/fleet.py) with its reader, so that issues carry the file,
line and key path like every other issue; the rules themselves are shared/variants'.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.variants.substitution import (
    ClusterScope,
    SubstitutionError,
    references,
    resolve,
)

MAX_VALUES_BYTES = 64 * 1024
"""A cluster's values as JSON: enough for many settings, small enough to travel in every task's
fleet read."""
MAX_VALUES_DEPTH = 16


class Reader(Protocol):
    """What this module needs of the fleet.yaml walk (`_Reader` in shared/fleet.py)."""

    def error(self, at: Any, message: str) -> None: ...

    def boolean(self, at: Any) -> bool | None: ...

    def plain(self, at: Any) -> Any: ...

    @property
    def seen(self) -> dict[tuple[str, str], Any]: ...


def cluster_values(reader: Reader, at: Any) -> dict[str, Any] | None:
    """`clusters[].values`: a mapping of free-form values, bounded in size and depth, whose keys
    a dotted path can reach (no '.' in a key)."""
    value = reader.plain(at)
    if not isinstance(value, dict):
        reader.error(at, f"must be a mapping of values, not {type(value).__name__}")
        return None
    size = len(json.dumps(value, ensure_ascii=False))
    if size > MAX_VALUES_BYTES:
        reader.error(
            at,
            f"{size:,} bytes of values; a cluster holds at most {MAX_VALUES_BYTES // 1024} KiB: "
            "keep large settings in the application's repository",
        )
        return None
    problem = _shape_problem(value, "", 1)
    if problem is not None:
        reader.error(at, problem)
        return None
    return value


def substitute_flag(reader: Reader, at: Any) -> bool | None:
    return reader.boolean(at)


def helm_values_variables(reader: Reader, at: Any, values: Mapping[str, Any]) -> None:
    """The variables of `helm.values` are ones fleetsync knows, and none is in a key."""
    try:
        references(values)
    except SubstitutionError as exc:
        reader.error(at, str(exc))


def check_variables(reader: Reader, fleet: Fleet) -> None:
    """Every variable of an application's Helm values resolves on every cluster it targets (or
    has a default): an error naming the variable, the application and the cluster."""
    for name, app in sorted(fleet.applications.items()):
        at = reader.seen.get(("applications.helm", name))
        if at is None or not app.varies:
            continue
        try:
            refs = references(app.helm.values, where="helm.values")
        except SubstitutionError:
            continue  # already reported where the values are read
        for cluster in fleet.targets_of(name):
            c = fleet.clusters[cluster]
            try:
                resolve(refs, ClusterScope(c.name, c.labels, c.values), typed=True)
            except SubstitutionError as exc:
                reader.error(at, f"application '{name}': {exc}")


def _shape_problem(value: Any, path: str, depth: int) -> str | None:
    if depth > MAX_VALUES_DEPTH:
        return f"{path}: nested deeper than {MAX_VALUES_DEPTH} levels"
    if isinstance(value, dict):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else key
            if not key or "." in key:
                return (
                    f"key {key!r} cannot be reached by ${{cluster.values.PATH}}: a key is not "
                    "empty and has no '.' (nest mappings instead)"
                )
            found = _shape_problem(inner, where, depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found = _shape_problem(inner, f"{path}[{i}]", depth + 1)
            if found:
                return found
    return None
