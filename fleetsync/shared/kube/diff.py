"""Drift: how live objects differ from what the bundle declares, and how to show it.

`diff_object` compares what the server would store for the manifest (`stored.stored_form`:
`cpu: 2000m` is "2", stringData is base64 data), or else the manifest as written (a server that
keeps a spelling), with the live object projected onto its shape,
after dropping what the server populates (status, resourceVersion, uid, managedFields,
timestamps...). Maps project by key; lists whose items all have a `name` (containers, env, ports,
volumes) are maps keyed by name, as server-side apply merges them; any other list is atomic and
compared whole. Fields the manifest does not mention (defaults, other controllers' fields, a
sidecar another controller adds) are not drift, nor is a null, empty map or empty list the
manifest declares where the server stores nothing; scalars compare as the server renders them
(`compare.same_rendering`); the items of a list whose order means nothing (`UNORDERED_LISTS`)
are matched whatever their order. A live object that is gone is Missing. A modified object's
drift carries a unified YAML diff, live (`-`) against desired (`+`), for `fleetsync diff`; a
Secret's values never appear in one (`masked_secret_pair`) unless asked for: only which keys
differ.

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

from fleetsync.shared.kube.compare import is_mapping, same_rendering
from fleetsync.shared.kube.stored import stored_form
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


def normalize(obj: Manifest) -> dict[str, Any]:
    """A copy without status and the metadata the server populates."""
    return copy.deepcopy(_trimmed(obj))


def _trimmed(obj: Manifest) -> dict[str, Any]:
    """`obj` without status and the metadata the server populates, sharing everything else
    with it (new maps only where something is left out): for reading, never for changing."""
    clean: dict[str, Any] = dict(obj)
    clean.pop("status", None)
    metadata = clean.get("metadata")
    if isinstance(metadata, Mapping):
        kept = {k: v for k, v in metadata.items() if k not in SERVER_METADATA}
        annotations = kept.get("annotations")
        if isinstance(annotations, Mapping):
            annotations = {k: v for k, v in annotations.items() if k not in SERVER_ANNOTATIONS}
            kept["annotations"] = annotations
            if not annotations:
                kept.pop("annotations")
        clean["metadata"] = kept
    return clean


def project(live: Any, desired: Any) -> Any:
    """The part of `live` that `desired` declares, in `desired`'s shape."""
    if is_mapping(desired) and is_mapping(live):
        return {k: project(live[k], v) for k, v in desired.items() if k in live}
    if isinstance(desired, list) and isinstance(live, list):
        if _named(desired) and _named(live):
            by_name = {item["name"]: item for item in live}
            return [project(by_name[d["name"]], d) for d in desired if d["name"] in by_name]
        if len(desired) == len(live):
            return list(map(project, live, desired))
    return live


def _named(items: Sequence[Any]) -> bool:
    return bool(items) and all(is_mapping(i) and "name" in i for i in items)


UNORDERED_LISTS: Mapping[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("autoscaling", "HorizontalPodAutoscaler"): (("spec", "metrics"),),
}
"""Lists whose order carries no meaning and which the API server may store in another order
(a Kubernetes 1.25 server moves an HPA's CPU utilization metric last)."""


def aligned(live: Manifest, desired: Manifest) -> Manifest:
    """`live` with its `UNORDERED_LISTS` items put in `desired`'s order, where every desired
    item matches its own live item; otherwise as it is."""
    paths = UNORDERED_LISTS.get((ResourceKey.of(desired).group, str(desired.get("kind"))), ())
    result: Manifest = live
    for path in paths:
        seen = _at(result, path)
        order = _matching_order(_at(desired, path), seen)
        if order is not None:
            result = _replaced(result, path, [seen[i] for i in order])
    return result


def _matching_order(wanted: Any, seen: Any) -> list[int] | None:
    """For each `wanted` item in turn, the index of the `seen` item it matches (each matched
    once); None unless both are lists whose items all match one to one."""
    if not isinstance(wanted, list) or not isinstance(seen, list) or len(wanted) != len(seen):
        return None
    order: list[int] = []
    for item in wanted:
        match = next(
            (
                i
                for i, candidate in enumerate(seen)
                if i not in order and same_rendering(project(candidate, item), item)
            ),
            None,
        )
        if match is None:
            return None
        order.append(match)
    return order


def _at(obj: Any, path: Sequence[str]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def _replaced(obj: Manifest, path: Sequence[str], value: Any) -> dict[str, Any]:
    copied: dict[str, Any] = dict(obj)
    if len(path) == 1:
        copied[path[0]] = value
    else:
        copied[path[0]] = _replaced(obj[path[0]], path[1:], value)
    return copied


def diff_object(
    desired: Manifest, live: Manifest | None, *, reveal_secrets: bool = False
) -> ObjectDrift | None:
    """The drift of one object, or None when live matches everything the manifest declares.
    A Secret's values are masked in the diff (`masked_secret_pair`) unless `reveal_secrets`."""
    key = ResourceKey.of(desired)
    if live is None:
        return ObjectDrift(key=key, state=DriftState.MISSING)
    differing = _differing(desired, live)
    if differing is None:
        return None
    seen, wanted = differing
    if is_secret(desired) and not reveal_secrets:
        seen, wanted = masked_secret_pair(seen, wanted)
    return ObjectDrift(key=key, state=DriftState.MODIFIED, diff=unified_diff(key, seen, wanted))


def drifted(desired: Manifest, live: Manifest | None) -> bool:
    """Whether `diff_object` finds drift, without rendering it (a YAML diff costs far more than
    the comparison)."""
    return live is None or _differing(desired, live) is not None


def _differing(desired: Manifest, live: Manifest) -> tuple[Any, Any] | None:
    """(live as projected, desired) when they differ in either form of the manifest (as the
    server stores it, or as written), None when one of them matches."""
    forms = (_trimmed(stored_form(desired)), _trimmed(desired))  # read, never changed here
    for form in reversed(forms):
        seen = project(_trimmed(aligned(live, form)), form)
        wanted = without_unstored(form, seen)
        if same_rendering(seen, wanted):
            return None
    return seen, wanted


MASK = "***"
CHANGED_MASK = "*** (changed)"


def is_secret(obj: Manifest) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def masked_secret_pair(live: Mapping[str, Any], desired: Mapping[str, Any]) -> tuple[Any, Any]:
    """A Secret's two sides (in stored form: `data`) with every value hidden: a key whose value
    differs shows as changed on the desired side, so a diff says which keys changed and never
    what they hold. The one place fleetsync masks Secret values in a comparison."""
    seen, wanted = dict(live), dict(desired)
    seen_data, wanted_data = seen.get("data"), wanted.get("data")
    seen_data = dict(seen_data) if isinstance(seen_data, Mapping) else None
    wanted_data = dict(wanted_data) if isinstance(wanted_data, Mapping) else None
    for k in sorted({*(seen_data or {}), *(wanted_data or {})}):
        same = (seen_data or {}).get(k) == (wanted_data or {}).get(k)
        if seen_data is not None and k in seen_data:
            seen_data[k] = MASK
        if wanted_data is not None and k in wanted_data:
            wanted_data[k] = MASK if same else CHANGED_MASK
    if seen_data is not None:
        seen["data"] = seen_data
    if wanted_data is not None:
        wanted["data"] = wanted_data
    return seen, wanted


def masked_secret(obj: Manifest) -> Manifest:
    """A whole object as shown alone (missing from the cluster, or about to be pruned): a
    Secret's `data` and `stringData` values masked, anything else as it is."""
    if not is_secret(obj):
        return obj
    masked: dict[str, Any] = dict(obj)
    for field in ("data", "stringData"):
        if isinstance(masked.get(field), Mapping):
            masked[field] = {k: MASK for k in sorted(masked[field])}
    return masked


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


def without_unstored(desired: Any, seen: Any) -> Any:
    """`desired` without the nulls, empty maps and empty lists it declares where the live
    projection `seen` has nothing: the server stores no such field (`labels: {}`, `env: []`)."""
    if is_mapping(desired):
        seen_map = seen if is_mapping(seen) else {}
        kept = {k: without_unstored(v, seen_map.get(k)) for k, v in desired.items()}
        return {k: v for k, v in kept.items() if k in seen_map or not _empty(v)}
    if isinstance(desired, list) and isinstance(seen, list) and len(desired) == len(seen):
        return list(map(without_unstored, desired, seen))
    return desired


def _empty(value: Any) -> bool:
    return value is None or ((is_mapping(value) or isinstance(value, list)) and not value)


def to_yaml(obj: Any) -> str:
    """Block-style YAML, every map's keys sorted (PyYAML's defaults)."""
    return yaml.safe_dump(obj)


def unified_diff(key: ResourceKey, live: Any, desired: Any) -> str:
    return "".join(
        difflib.unified_diff(
            to_yaml(live).splitlines(keepends=True),
            to_yaml(desired).splitlines(keepends=True),
            fromfile=f"live/{key}",
            tofile=f"desired/{key}",
        )
    )


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
    """`obj` without status and the volatile metadata, sharing everything else with it (new
    maps only where something is left out: a deep copy of both objects, managedFields included,
    cost more than the comparison): for comparing, never for changing."""
    clean: dict[str, Any] = dict(obj)
    clean.pop("status", None)
    metadata = clean.get("metadata")
    if isinstance(metadata, Mapping):
        clean["metadata"] = {k: v for k, v in metadata.items() if k not in VOLATILE_METADATA}
    return clean
