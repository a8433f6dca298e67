"""The fleet.yaml keys of per-cluster variants: `clusters[].values`, `applications[].substitute`,
and the checks that need the whole fleet (every Helm values variable resolves on every cluster the
application targets).

Called by the fleet.yaml walk (`FleetReader`, document.py) with itself, so that issues carry the
file, line and key path like every other issue; the rules themselves are shared/variants'.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import yaml

from fleetsync.shared.model.declaration import (
    Fleet,
    HelmOptions,
    JsonnetVar,
    Override,
    Patch,
    PatchTarget,
    RendererKind,
    Selector,
)
from fleetsync.shared.variants.grouping import render_groups
from fleetsync.shared.variants.substitution import SubstitutionError, references

MAX_VALUES_BYTES = 64 * 1024
"""A cluster's values as JSON: enough for many settings, small enough to travel in every task's
fleet read."""
MAX_VALUES_DEPTH = 16


class Walk(Protocol):
    """What this module needs of the fleet.yaml walk (`Walker` in walk.py)."""

    def error(self, at: Any, message: str) -> None: ...

    def warn(self, at: Any, message: str) -> None: ...

    def mapping(
        self, at: Any, allowed: Sequence[str] | None, required: Sequence[str] = ()
    ) -> dict[str, Any] | None: ...

    def sequence(self, at: Any) -> list[Any]: ...

    def string(self, at: Any, *, required: bool = True) -> str | None: ...

    def boolean(self, at: Any) -> bool | None: ...

    def plain(self, at: Any) -> Any: ...

    @property
    def seen(self) -> dict[tuple[str, str], Any]: ...


class Reader(Walk, Protocol):
    """What `overrides` needs besides: the application's readers (`ApplicationReader`)."""

    def selector(self, at: Any) -> Selector | None: ...

    def app_path(self, at: Any) -> str | None: ...

    def values_file(self, at: Any, app_path: str | None) -> str | None: ...


_OVERRIDE_KEYS = ("name", "selector", "helm", "path", "patches")
_OVERRIDE_HELM_KEYS = ("values", "valuesFiles")
_PATCH_KEYS = ("target", "patch")
_TARGET_KEYS = ("kind", "name")
_JSON_PATCH_OPS = ("add", "remove", "replace", "move", "copy", "test")


def overrides(
    reader: Reader,
    at: Any,
    app: str | None,
    app_path: str | None,
    *,
    git: bool = True,
    renderer: RendererKind | None = RendererKind.AUTO,
) -> tuple[Override, ...]:
    """`applications[].overrides`: a list of {name, selector, helm, path, patches}, names
    unique in the application; `helm` only where the application renders with Helm, `path`
    only on a Git repository."""
    found: list[Override] = []
    for index, item in enumerate(reader.sequence(at)):
        f = reader.mapping(item, _OVERRIDE_KEYS, ("name", "selector"))
        if f is None or "name" not in f or "selector" not in f:
            continue
        name = reader.string(f["name"])
        if name is not None and any(o.name == name for o in found):
            reader.error(f["name"], f"override '{name}' is declared twice in this application")
            continue
        selector = reader.selector(f["selector"])
        options: dict[str, Any] = {}
        if "helm" in f:
            if renderer is not None and renderer not in (RendererKind.HELM, RendererKind.AUTO):
                reader.error(f["helm"], f"applies only to renderer helm or auto, not {renderer}")
            options["helm"] = _override_helm(reader, f["helm"], app_path)
        if "path" in f:
            if not git:
                reader.error(
                    f["path"],
                    "an application on a chart repository or OCI registry renders its chart: "
                    "an override cannot give it another path (give Helm values or patches)",
                )
            options["path"] = reader.app_path(f["path"])
        if "patches" in f:
            options["patches"] = tuple(
                p for p in (_patch(reader, i) for i in reader.sequence(f["patches"])) if p
            )
        if name is None or selector is None or any(v is None for v in options.values()):
            continue
        if app is not None:
            reader.seen[("applications.overrides", f"{app}/{index}")] = item
        found.append(Override(name=name, selector=selector, **options))
    return tuple(found)


def _override_helm(reader: Reader, at: Any, app_path: str | None) -> HelmOptions | None:
    f = reader.mapping(at, _OVERRIDE_HELM_KEYS)
    if f is None:
        return None
    options: dict[str, Any] = {}
    if "values" in f:
        values = reader.plain(f["values"])
        if not isinstance(values, dict):
            reader.error(f["values"], f"must be a mapping, not {type(values).__name__}")
            return None
        helm_values_variables(reader, f["values"], values)
        options["values"] = values
    if "valuesFiles" in f:
        files = [reader.values_file(i, app_path) for i in reader.sequence(f["valuesFiles"])]
        options["values_files"] = tuple(name for name in files if name is not None)
    return HelmOptions(**options)


def _patch(reader: Reader, at: Any) -> Patch | None:
    f = reader.mapping(at, _PATCH_KEYS, _PATCH_KEYS)
    if f is None or "target" not in f or "patch" not in f:
        return None
    t = reader.mapping(f["target"], _TARGET_KEYS, _TARGET_KEYS)
    kind = reader.string(t["kind"]) if t and "kind" in t else None
    name = reader.string(t["name"]) if t and "name" in t else None
    body = reader.plain(f["patch"])
    if isinstance(body, str):
        try:
            body = yaml.safe_load(body)
            json.dumps(body, allow_nan=False)
        except yaml.YAMLError as exc:
            reader.error(f["patch"], f"is not YAML: {getattr(exc, 'problem', exc)}")
            return None
        except (TypeError, ValueError):
            reader.error(
                f["patch"], "holds a value JSON cannot carry (a date? quote it as a string)"
            )
            return None
    if isinstance(body, list):
        for i, op in enumerate(body):
            if (
                not isinstance(op, dict)
                or op.get("op") not in _JSON_PATCH_OPS
                or not str(op.get("path", "")).startswith("/")
            ):
                reader.error(
                    f["patch"],
                    f"operation {i}: a JSON 6902 operation is {{op, path, value}} with op one of "
                    f"{', '.join(_JSON_PATCH_OPS)} and a path starting with '/'",
                )
                return None
    elif not isinstance(body, dict) or not body:
        reader.error(
            f["patch"],
            "must be a strategic merge patch (a mapping) or JSON 6902 operations (a list)",
        )
        return None
    if kind is None or name is None:
        return None
    return Patch(target=PatchTarget(kind=kind, name=name), patch=body)


def cluster_values(reader: Walk, at: Any) -> dict[str, Any] | None:
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


def substitute_flag(reader: Walk, at: Any) -> bool | None:
    return reader.boolean(at)


def helm_values_variables(reader: Walk, at: Any, values: Mapping[str, Any]) -> None:
    """The variables of `helm.values` are ones fleetsync knows, and none is in a key."""
    try:
        references(values)
    except SubstitutionError as exc:
        reader.error(at, str(exc))


def jsonnet_variables(reader: Walk, at: Any, variables: Sequence[JsonnetVar]) -> None:
    """The variables of jsonnet extVars' and tlas' values are ones fleetsync knows."""
    try:
        for var in variables:
            references(var.value, where=var.name)
    except SubstitutionError as exc:
        reader.error(at, str(exc))


def check_variables(reader: Walk, fleet: Fleet) -> None:
    """Every variable of an application's Helm values resolves on every cluster it targets (or
    has a default): an error naming the variable, the application and the cluster. An override
    whose selector picks none of the application's clusters is a warning."""
    for name, app in sorted(fleet.applications.items()):
        if not app.varies:
            continue  # no override to match, no variable to resolve: nothing can fail
        targets = [fleet.clusters[c] for c in fleet.targets_of(name)]
        for index, override in enumerate(app.overrides):
            if not any(override.selector.matches(c.labels) for c in targets):
                reader.warn(
                    reader.seen[("applications.overrides", f"{name}/{index}")],
                    f"override '{override.name}' of application '{name}' matches none of its "
                    "clusters: it changes nothing",
                )
        try:
            grouping = render_groups(app, targets)
        except SubstitutionError:
            continue  # already reported where the values are read
        at = reader.seen.get(("applications.helm", name)) or reader.seen[("applications", name)]
        for message in grouping.failed.values():
            reader.error(at, message)


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
