"""A manifest as the API server will store it: what Git spells, respelled the server's way.

Drift, `fleetsync diff` and the no-op prediction compare Git with live objects. Where the server
stores a value in another spelling than the manifest's, comparing the manifest as written reports
a change that applying would not make, after every sync. `stored_form` respells those values:

- quantities in the quantity fields of built-in kinds (`QUANTITY_FIELDS`): `cpu: 2000m` is stored
  as `"2"`, `memory: 1Gi` stays (see `quantity`); a custom resource's fields are stored as written;
- a Secret's `stringData` is folded into `data`, base64-encoded (the server keeps no stringData;
  on a key in both, stringData wins, which `bundle_problems` refuses as ambiguous);
- base64 in a Secret's `data` and a ConfigMap's `binaryData` is re-encoded the way the server
  writes it (no line breaks);
- a null `data` or `stringData` of a Secret, `data` or `binaryData` of a ConfigMap is left out:
  the server stores none, so `data: null` declares no data, as a manifest without it does (data
  another manager adds is theirs, not drift).

It does not fill in defaults or drop empty fields: the drift view tolerates those when comparing
(`compare.same_rendering`), and the no-op prediction knows the few defaults it needs itself.

Pure: manifests in, manifests out.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Mapping
from typing import Any

from fleetsync.shared.kube.plan import GroupKind, group_kind
from fleetsync.shared.kube.quantity import Rounding, stored_quantity

Manifest = Mapping[str, Any]
Path = tuple[str, ...]
"""Keys from the object's root; `*` is every key of a map, `[]` every item of a list."""

_RESOURCE_LISTS = ("requests", "limits")
_CONTAINERS = ("containers", "initContainers", "ephemeralContainers")


def _pod_spec(at: Path) -> tuple[tuple[Path, Rounding], ...]:
    """The quantity fields of a pod spec found at `at`."""
    fields: list[tuple[Path, Rounding]] = [
        ((*at, c, "[]", "resources", r, "*"), Rounding.MILLI)
        for c in _CONTAINERS
        for r in _RESOURCE_LISTS
    ]
    fields += [
        ((*at, "overhead", "*"), Rounding.UNKNOWN),
        ((*at, "volumes", "[]", "emptyDir", "sizeLimit"), Rounding.NONE),
    ]
    claim = (*at, "volumes", "[]", "ephemeral", "volumeClaimTemplate", "spec", "resources")
    fields += [((*claim, r, "*"), Rounding.MILLI) for r in _RESOURCE_LISTS]
    return tuple(fields)


_TEMPLATE = ("spec", "template", "spec")
_METRIC_SOURCES = ("resource", "pods", "object", "external", "containerResource")

QUANTITY_FIELDS: Mapping[GroupKind, tuple[tuple[Path, Rounding], ...]] = {
    ("", "Pod"): _pod_spec(("spec",)),
    ("", "PodTemplate"): _pod_spec(("template", "spec")),
    ("", "ReplicationController"): _pod_spec(_TEMPLATE),
    ("apps", "Deployment"): _pod_spec(_TEMPLATE),
    ("apps", "ReplicaSet"): _pod_spec(_TEMPLATE),
    ("apps", "DaemonSet"): _pod_spec(_TEMPLATE),
    ("apps", "StatefulSet"): (
        *_pod_spec(_TEMPLATE),
        *(
            (("spec", "volumeClaimTemplates", "[]", "spec", "resources", r, "*"), Rounding.MILLI)
            for r in _RESOURCE_LISTS
        ),
    ),
    ("batch", "Job"): _pod_spec(_TEMPLATE),
    ("batch", "CronJob"): _pod_spec(("spec", "jobTemplate", "spec", "template", "spec")),
    ("", "PersistentVolumeClaim"): tuple(
        (("spec", "resources", r, "*"), Rounding.MILLI) for r in _RESOURCE_LISTS
    ),
    ("", "PersistentVolume"): ((("spec", "capacity", "*"), Rounding.MILLI),),
    ("", "ResourceQuota"): ((("spec", "hard", "*"), Rounding.MILLI),),
    ("", "LimitRange"): tuple(
        (("spec", "limits", "[]", bound, "*"), Rounding.MILLI)
        for bound in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
    ),
    ("autoscaling", "HorizontalPodAutoscaler"): tuple(
        (("spec", "metrics", "[]", source, *where), Rounding.NONE)
        for source in _METRIC_SOURCES
        for where in (
            ("target", "value"),
            ("target", "averageValue"),
            ("targetValue",),
            ("targetAverageValue",),
        )
    ),
    ("node.k8s.io", "RuntimeClass"): ((("overhead", "podFixed", "*"), Rounding.NONE),),
}
"""Where built-in kinds hold quantities, and whether the server rounds them to a milli there
(checked against a real API server: ResourceLists round, HPA targets and RuntimeClass overhead do
not; a pod's overhead is not known, so only values rounding leaves alone are respelled)."""


def stored_form(obj: Manifest) -> dict[str, Any]:
    """A copy of `obj` with the values the server respells written its way (see above), for
    reading: it shares with `obj` what it does not respell (a kind that holds quantities is
    copied whole; a Secret or ConfigMap gets its own copy of the map it re-encodes)."""
    kind = group_kind(obj)
    quantities = QUANTITY_FIELDS.get(kind, ())
    stored: dict[str, Any] = copy.deepcopy(dict(obj)) if quantities else dict(obj)
    for path, rounding in quantities:
        _respell(stored, path, rounding)
    if kind == ("", "Secret"):
        _drop_nulls(stored, ("data",))
        _fold_string_data(stored)  # drops stringData, null or folded
        _reencode(_own(stored, "data"))
    elif kind == ("", "ConfigMap"):
        _drop_nulls(stored, ("data", "binaryData"))
        _reencode(_own(stored, "binaryData"))
    return stored


def _own(obj: dict[str, Any], field: str) -> Any:
    """`obj[field]` replaced by a copy of its own when it is a map (about to be changed)."""
    value = obj.get(field)
    if isinstance(value, dict):
        value = obj[field] = dict(value)
    return value


def _drop_nulls(obj: dict[str, Any], fields: tuple[str, ...]) -> None:
    for name in fields:
        if name in obj and obj[name] is None:
            del obj[name]


def both_data_and_string_data(obj: Manifest) -> tuple[str, ...]:
    """The keys a Secret declares in both `data` and `stringData` (the server keeps
    stringData's value silently)."""
    if group_kind(obj) != ("", "Secret"):
        return ()
    data, string_data = obj.get("data"), obj.get("stringData")
    if not isinstance(data, Mapping) or not isinstance(string_data, Mapping):
        return ()
    return tuple(sorted(set(data) & set(string_data)))


def fold_string_data_fields(fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """A Secret's managedFields set with what `f:stringData` owns moved under `f:data` (where
    the server stores it); None when a key is owned under both (nothing certain)."""
    moved = dict(fields)
    string_data = moved.pop("f:stringData", None)
    if string_data is None:
        return moved
    data = dict(moved.get("f:data") or {})
    members = {k: v for k, v in string_data.items() if k != "."}
    if set(members) & set(data):
        return None
    moved["f:data"] = {**data, **members}
    return moved


def _respell(node: Any, path: Path, rounding: Rounding) -> None:
    """Respell the quantities `path` reaches under `node`, in place."""
    head, rest = path[0], path[1:]
    children: list[tuple[Any, Any]]
    if head == "[]":
        children = list(enumerate(node)) if isinstance(node, list) else []
    elif head == "*":
        children = list(node.items()) if isinstance(node, dict) else []
    else:
        children = [(head, node[head])] if isinstance(node, dict) and head in node else []
    for key, child in children:
        if rest:
            _respell(child, rest, rounding)
        elif (respelled := stored_quantity(child, rounding=rounding)) is not None:
            node[key] = respelled


def _fold_string_data(secret: dict[str, Any]) -> None:
    string_data = secret.pop("stringData", None)
    if not isinstance(string_data, Mapping):
        return
    data = secret.get("data")
    folded = dict(data) if isinstance(data, Mapping) else {}
    for key, value in string_data.items():
        if isinstance(value, str):
            folded[key] = base64.b64encode(value.encode()).decode()
    secret["data"] = folded


def _reencode(values: Any) -> None:
    """Base64 values as the server writes them (it decodes, ignoring line breaks, and encodes)."""
    if not isinstance(values, dict):
        return
    for key, value in values.items():
        if not isinstance(value, str):
            continue
        try:
            raw = base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            continue
        values[key] = base64.b64encode(raw).decode()
