"""Manifests as text -> checked Kubernetes objects -> one Bundle.

Every renderer ends here. Parsing is safe by construction: YAML goes through the SafeLoader, after
a first pass over the event stream (`yaml_bounds`) that bounds nesting depth and counts what
aliases would expand to without expanding anything. Duplicate mapping keys are errors, as in
kubectl; timestamps stay strings, as in Kubernetes' YAML-to-JSON conversion.

Assembly expands `kind: List`, checks that every object has apiVersion, kind and metadata.name
(or, for a hook, metadata.generateName: a hook is created anew at each sync, an ordinary object
so named would be created anew at every sync and is refused) and that hook annotations are ones
fleetsync can act on, defaults the namespace of namespaced objects that name none, refuses two
objects with one resource key, and strips nothing else. Objects never applied (Helm test hooks,
`hook: Skip`) are left out of the bundle by `drop_never_applied`, which says what it left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from fleetsync.shared.model.builtin_kinds import BUILTIN_GROUPS, CLUSTER_SCOPED
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.hooks import HookError, hook_of
from fleetsync.shared.model.resource import ResourceKey
from fleetsync.shared.render.request import RenderError, RenderLimits
from fleetsync.shared.yaml_bounds import yaml_breach

RENDER_REVISION = 1
"""Bump when what assembly does to objects changes: it is part of every renderer's version."""

Manifest = dict[str, Any]

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.CSafeLoader):
    """The C SafeLoader, with timestamps left as strings."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
    }


def _timestamp_as_text(loader: _Loader, node: yaml.Node) -> str:
    return str(node.value)


_Loader.add_constructor(_TIMESTAMP, _timestamp_as_text)


@dataclass(frozen=True, slots=True)
class Document:
    """One object and where it came from (a root-relative file or a Helm template path)."""

    obj: Manifest
    source: str
    line: int
    file: str = ""
    """The file of the repository it came from, when `source` is not one (a Helm template's
    name starts with its chart's name, not with its path in the repository)."""

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True, slots=True)
class Rendered:
    """What a renderer hands to assembly: the documents, the root-relative inputs it read,
    what it skipped and says so (`warnings`), and what it found, for the error when it found
    no object."""

    documents: tuple[Document, ...]
    inputs: frozenset[str]
    warnings: tuple[str, ...] = ()
    found: str = ""
    """`3 files, none with a Kubernetes object: values.yaml, ...`; empty: nothing to add."""


def drop_never_applied(documents: Iterable[Document]) -> tuple[list[Document], list[str]]:
    """The documents to apply, and a warning for each left out because it is never applied
    (a Helm test hook, `hook: Skip`, a hook only Helm itself runs)."""
    kept: list[Document] = []
    warnings: list[str] = []
    for document in documents:
        hook = hook_of(document.obj)
        if hook is not None and hook.never_applied:
            warnings.append(f"{document.where}: {ResourceKey.of(document.obj)}: {hook.skipped}")
            continue
        kept.append(document)
    return kept, warnings


def parse_documents(
    text: str,
    *,
    source: str,
    app: str,
    limits: RenderLimits,
    json_text: bool = False,
    foreign: list[int] | None = None,
) -> list[Document]:
    """The Kubernetes objects in a YAML multi-document stream or a JSON value, Lists expanded.

    With `foreign`, a document that is not a Kubernetes object (not a mapping, or a mapping
    without apiVersion or kind: a values file, another tool's configuration) is left out and
    its line appended there; without it, such a document is an error."""
    parsed = (
        [(_from_json(text, source=source, app=app, limits=limits), 1, None)]
        if json_text
        else _from_yaml(text, source=source, app=app, limits=limits)
    )
    documents: list[Document] = []
    for data, line, node in parsed:
        if data is None:
            continue
        if foreign is not None and not is_object(data):
            foreign.append(line)
            continue
        _expand(data, node, line, source=source, app=app, into=documents)
    return documents


def is_object(data: Any) -> bool:
    """Whether a parsed document claims to be a Kubernetes object: a mapping with both an
    apiVersion and a kind."""
    return isinstance(data, dict) and all(
        isinstance(data.get(field), str) and data[field] for field in ("apiVersion", "kind")
    )


def parse_mapping(text: str, *, source: str, app: str, limits: RenderLimits) -> dict[str, Any]:
    """A single-document YAML mapping (a kustomization, a values file); an empty file is {}."""
    parsed = _from_yaml(text, source=source, app=app, limits=limits)
    data = [(value, line) for value, line, _ in parsed if value is not None]
    if not data:
        return {}
    if len(data) > 1:
        raise RenderError(app, f"{source}:{data[1][1]}", "expected a single YAML document")
    value, line = data[0]
    if not isinstance(value, dict):
        raise RenderError(app, f"{source}:{line}", f"expected a mapping, found {_kind_of(value)}")
    return value


def assemble_bundle(
    documents: Iterable[Document],
    *,
    namespace: str | None,
    app: str,
    where: str,
    limits: RenderLimits,
) -> Bundle:
    """The bundle of the documents: namespaces defaulted, one object per resource key."""
    documents = list(documents)
    if len(documents) > limits.max_objects:
        raise RenderError(
            app, where, f"renders {len(documents)} objects, over the {limits.max_objects} limit"
        )
    scopes = _crd_scopes(documents)
    seen: dict[ResourceKey, Document] = {}
    objects: list[Manifest] = []
    sources: list[str] = []
    for document in documents:
        obj = document.obj
        if namespace and not obj["metadata"].get("namespace") and _namespaced(obj, scopes):
            obj = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
        key = ResourceKey.of(obj)
        first = seen.setdefault(key, document)
        if first is not document:
            raise RenderError(
                app, first.where, f"duplicate object {key}: declared again at {document.where}"
            )
        objects.append(obj)
        sources.append(document.file or document.source)
    return Bundle.of(objects, sources)


def _namespaced(obj: Mapping[str, Any], scopes: Mapping[tuple[str, str], bool]) -> bool:
    """Whether the object lives in a namespace; unknown custom kinds are left alone (False)."""
    group = str(obj["apiVersion"]).rpartition("/")[0]
    kind = str(obj["kind"])
    if (group, kind) in scopes:
        return scopes[(group, kind)]
    return group in BUILTIN_GROUPS and (group, kind) not in CLUSTER_SCOPED


def _crd_scopes(documents: list[Document]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for the custom resources defined in this bundle."""
    scopes: dict[tuple[str, str], bool] = {}
    for document in documents:
        obj = document.obj
        if obj["kind"] != "CustomResourceDefinition" or not str(obj["apiVersion"]).startswith(
            "apiextensions.k8s.io/"
        ):
            continue
        spec = obj.get("spec")
        names = spec.get("names") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and isinstance(names, dict):
            scope = spec.get("scope", "Namespaced")
            scopes[(str(spec.get("group", "")), str(names.get("kind", "")))] = scope != "Cluster"
    return scopes


def _expand(
    data: Any, node: yaml.Node | None, line: int, *, source: str, app: str, into: list[Document]
) -> None:
    where = f"{source}:{line}"
    if not isinstance(data, dict):
        raise RenderError(app, where, f"expected a Kubernetes object, found {_kind_of(data)}")
    if data.get("kind") == "List" and isinstance(data.get("items"), list):
        lines = _item_lines(node, len(data["items"]), default=line)
        for item, item_line in zip(data["items"], lines, strict=True):
            _expand(item, None, item_line, source=source, app=app, into=into)
        return
    metadata = data.get("metadata")
    generated = _generated(metadata)
    name = generated or (metadata.get("name") if isinstance(metadata, dict) else None)
    missing = [
        name
        for name, value in (
            ("apiVersion", data.get("apiVersion")),
            ("kind", data.get("kind")),
            ("metadata.name", name),
        )
        if not isinstance(value, str) or not value
    ]
    if missing:
        raise RenderError(app, where, f"object has no {', '.join(missing)}")
    try:
        hook = hook_of(data)
    except HookError as exc:
        raise RenderError(app, where, str(exc)) from None
    if generated and hook is None:
        raise RenderError(
            app,
            where,
            f"metadata.generateName {generated!r} on an object that is not a hook: every sync "
            "would create a new object; give it a metadata.name, or make it a hook "
            "(argocd.argoproj.io/hook: PreSync, Sync or PostSync)",
        )
    namespace = data["metadata"].get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise RenderError(app, where, "metadata.namespace is not a string")
    into.append(Document(obj=data, source=source, line=line))


def _generated(metadata: Any) -> str | None:
    """The generateName of an object that has no name, else None."""
    if not isinstance(metadata, dict) or metadata.get("name"):
        return None
    prefix = metadata.get("generateName")
    return prefix if isinstance(prefix, str) and prefix else None


def _item_lines(node: yaml.Node | None, count: int, *, default: int) -> list[int]:
    """The line of each item of a List, from its YAML node when there is one."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "items" and isinstance(value, yaml.SequenceNode):
                lines = [item.start_mark.line + 1 for item in value.value]
                if len(lines) == count:
                    return lines
    return [default] * count


def _from_yaml(
    text: str, *, source: str, app: str, limits: RenderLimits
) -> list[tuple[Any, int, yaml.Node]]:
    _inspect(text, source=source, app=app, limits=limits)
    loader = _Loader(text)
    parsed: list[tuple[Any, int, yaml.Node]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            line = node.start_mark.line + 1
            value = loader.construct_document(node)
            parsed.append((_plain(value, f"{source}:{line}", app, limits), line, node))
    except yaml.MarkedYAMLError as exc:
        raise _invalid(exc, source=source, app=app) from exc
    except yaml.YAMLError as exc:
        raise RenderError(app, source, f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return parsed


def _inspect(text: str, *, source: str, app: str, limits: RenderLimits) -> None:
    """Bound nesting depth and alias expansion, and refuse duplicate keys and recursive
    aliases, from events alone."""
    try:
        breach = yaml_breach(
            text,
            loader=_Loader,
            max_nesting=limits.max_nesting,
            max_alias_expansion=limits.max_alias_expansion,
            strict=True,
        )
    except yaml.MarkedYAMLError as exc:
        raise _invalid(exc, source=source, app=app) from exc
    except yaml.YAMLError as exc:
        raise RenderError(app, source, f"invalid YAML: {exc}") from exc
    if breach is not None:
        raise RenderError(app, f"{source}:{breach.line}", breach.problem)


def _from_json(text: str, *, source: str, app: str, limits: RenderLimits) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                raise RenderError(app, source, f"duplicate key {key!r}")
            result[key] = value
        return result

    try:
        value = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise RenderError(app, f"{source}:{exc.lineno}", f"invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise RenderError(app, source, "nested too deeply") from exc
    return _plain(value, f"{source}:1", app, limits)


def _plain(value: Any, where: str, app: str, limits: RenderLimits, depth: int = 0) -> Any:
    """A copy of the value as JSON types, keys as strings; nothing shared between objects."""
    if depth > limits.max_nesting:
        raise RenderError(app, where, f"nested deeper than {limits.max_nesting} levels")
    if isinstance(value, dict):
        return {
            _key(k, where, app): _plain(v, where, app, limits, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_plain(v, where, app, limits, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise RenderError(app, where, f"{value} is not a JSON number")
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise RenderError(app, where, f"unsupported YAML value of type {type(value).__name__}")


def _key(key: Any, where: str, app: str) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise RenderError(app, where, f"unsupported mapping key of type {type(key).__name__}")


def _invalid(exc: yaml.MarkedYAMLError, *, source: str, app: str) -> RenderError:
    mark = exc.problem_mark or exc.context_mark
    line = f":{mark.line + 1}" if mark is not None else ""
    detail = " ".join(part for part in (exc.context, exc.problem) if part)
    return RenderError(app, f"{source}{line}", f"invalid YAML: {detail}")


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else "a scalar"
