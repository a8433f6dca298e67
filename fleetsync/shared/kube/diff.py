"""Drift: how live objects differ from what the bundle declares, and how to show it.

`diff_object` compares only what the manifest declares: the live object is projected onto the
desired object's shape after
dropping what the server populates (status, resourceVersion, uid, managedFields, timestamps...).
Maps project by key; lists whose items all have a `name` (containers, env, ports, volumes) are
maps keyed by name, as server-side apply merges them; any other list is atomic and compared
whole. Fields the manifest does not mention (defaults, other controllers' fields, a sidecar
another controller adds) are not drift. A live
object that is gone is Missing. `render_diff` prints a report as unified YAML diffs, live (`-`)
against desired (`+`), for `fleetsync diff` and the drift status.

This is the view the periodic drift task shows (from one LIST per kind, nothing written). The
apply verb decides "unchanged" more strictly: locally with `unchanged.unchanged` (declared values,
and the fields fleetsync's managedFields entry owns), else with a server-side dry-run and
`same_live_state` below.

Pure: objects in, reports out.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from fleetsync.shared.model import ResourceKey

Manifest = Mapping[str, Any]

SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
)
"""metadata fields the API server writes; never part of a desired state."""

SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


class DriftState(StrEnum):
    MODIFIED = "modified"
    """The live object differs from the manifest in a field the manifest declares."""
    MISSING = "missing"
    """The object is gone from the cluster (deleted out of band, or never applied)."""


@dataclass(frozen=True, slots=True)
class ObjectDrift:
    key: ResourceKey
    state: DriftState
    diff: str = ""
    """Unified YAML diff, live (-) against desired (+); empty for a missing object."""

    def __str__(self) -> str:
        return f"{self.key}: {self.state}"


@dataclass(frozen=True, slots=True)
class DriftReport:
    drifts: tuple[ObjectDrift, ...] = ()
    in_sync: tuple[ResourceKey, ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.drifts)

    @property
    def keys(self) -> tuple[ResourceKey, ...]:
        return tuple(d.key for d in self.drifts)

    def of(self, state: DriftState) -> tuple[ResourceKey, ...]:
        return tuple(d.key for d in self.drifts if d.state is state)

    def summary(self) -> str:
        if not self.drifts:
            return f"in sync ({len(self.in_sync)} objects)"
        return "; ".join(str(d) for d in self.drifts)


def normalize(obj: Manifest) -> dict[str, Any]:
    """A copy without status and the metadata the server populates."""
    clean: dict[str, Any] = copy.deepcopy(dict(obj))
    clean.pop("status", None)
    metadata = clean.get("metadata")
    if isinstance(metadata, dict):
        for name in SERVER_METADATA:
            metadata.pop(name, None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            for name in SERVER_ANNOTATIONS:
                annotations.pop(name, None)
            if not annotations:
                metadata.pop("annotations")
    return clean


def project(live: Any, desired: Any) -> Any:
    """The part of `live` that `desired` declares, in `desired`'s shape."""
    if isinstance(desired, Mapping) and isinstance(live, Mapping):
        return {k: project(live[k], v) for k, v in desired.items() if k in live}
    if isinstance(desired, list) and isinstance(live, list):
        if _named(desired) and _named(live):
            by_name = {item["name"]: item for item in live}
            return [project(by_name[d["name"]], d) for d in desired if d["name"] in by_name]
        if len(desired) == len(live):
            return [project(lv, dv) for lv, dv in zip(live, desired, strict=True)]
    return live


def _named(items: Sequence[Any]) -> bool:
    return bool(items) and all(isinstance(i, Mapping) and "name" in i for i in items)


def diff_object(desired: Manifest, live: Manifest | None) -> ObjectDrift | None:
    """The drift of one object, or None when live matches everything the manifest declares."""
    key = ResourceKey.of(desired)
    if live is None:
        return ObjectDrift(key=key, state=DriftState.MISSING)
    wanted = normalize(desired)
    seen = project(normalize(live), wanted)
    if _equal(seen, wanted):
        return None
    return ObjectDrift(key=key, state=DriftState.MODIFIED, diff=unified_diff(key, seen, wanted))


def diff_objects(pairs: Iterable[tuple[Manifest, Manifest | None]]) -> DriftReport:
    """The drift of (desired, live) pairs; live None means the object is gone."""
    drifts: list[ObjectDrift] = []
    in_sync: list[ResourceKey] = []
    for desired, live in pairs:
        drift = diff_object(desired, live)
        if drift is None:
            in_sync.append(ResourceKey.of(desired))
        else:
            drifts.append(drift)
    return DriftReport(drifts=tuple(drifts), in_sync=tuple(in_sync))


def _equal(a: Any, b: Any) -> bool:
    """Equality that tolerates the server's renderings of scalars (1 vs "1", 1 vs 1.0)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return scalar_equal(a, b)


def scalar_equal(a: Any, b: Any) -> bool:
    """Scalars equal as the API server renders them (1 vs "1", 1 vs 1.0); booleans strictly."""
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a == b)
    if isinstance(a, int | float | str) and isinstance(b, int | float | str):
        return a == b or str(a) == str(b)
    return bool(a == b)


def to_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False)


def unified_diff(key: ResourceKey, live: Any, desired: Any) -> str:
    return "".join(
        difflib.unified_diff(
            to_yaml(live).splitlines(keepends=True),
            to_yaml(desired).splitlines(keepends=True),
            fromfile=f"live/{key}",
            tofile=f"desired/{key}",
        )
    )


def render_diff(report: DriftReport) -> str:
    """Every drift as text: unified diffs for modified objects, one line for missing ones."""
    parts = []
    for drift in report.drifts:
        if drift.state is DriftState.MISSING:
            parts.append(f"--- live/{drift.key}\n+++ desired/{drift.key}\n@@ missing @@\n")
        else:
            parts.append(drift.diff)
    return "".join(parts)


VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation", "creationTimestamp")


def same_live_state(after: Manifest, live: Manifest) -> bool:
    """Whether an apply's (dry-run) result leaves the live object as it is.

    Compares whole objects, ignoring only what every write changes by itself (resourceVersion,
    managedFields and their timestamps, generation, creationTimestamp) and `status`, which an
    apply of the object never changes: a status difference is a controller writing between the
    GET and the dry-run, not something to apply.
    """
    return _strip_volatile(after) == _strip_volatile(live)


def _strip_volatile(obj: Manifest) -> dict[str, Any]:
    clean: dict[str, Any] = copy.deepcopy(dict(obj))
    clean.pop("status", None)
    metadata = clean.get("metadata")
    if isinstance(metadata, dict):
        for name in VOLATILE_METADATA:
            metadata.pop(name, None)
    return clean
