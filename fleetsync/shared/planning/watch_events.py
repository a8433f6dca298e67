"""What one watch event means for drift detection: the watcher's rules, as a pure function.

A watcher watches, per cluster and kind, only fleetsync's own objects (by the managed-by label).
Each event it reads is one of:

| event                                                        | decision                        |
| ------------------------------------------------------------ | ------------------------------- |
| BOOKMARK                                                     | RESUME from its resourceVersion |
| ERROR 410 (Expired / Gone: the revision was compacted)       | RELIST (events were lost)       |
| ERROR, any other                                             | RETRY (with backoff)            |
| ADDED                                                        | IGNORE (a creation is no drift) |
| MODIFIED whose newest write is fleetsync's own field manager | IGNORE (its own apply)          |
| MODIFIED whose newest write is a status subresource only     | IGNORE (status is not drift)    |
| MODIFIED by anyone else, or being deleted                    | CHECK the object's application  |
| DELETED                                                      | CHECK the object's application  |
| an object that names no application                          | IGNORE                          |

"Newest write" is the `managedFields` entries with the latest time (times are whole seconds):
fleetsync's own apply is recognised only when every newest entry is fleetsync's (or a status
write). When another manager wrote in the same second, the event counts as foreign: one drift
check too many is cheap, a missed edit is not. A DELETED event says nothing of who deleted: it is
always checked (fleetsync's own prune then costs one quick check that finds nothing to do).

The application is the object's `fleetsync.io/application` label, else its annotation; the
inventory's mirror ConfigMap (namespace `fleetsync-system`) names its application by annotation,
so that its deletion (or a wiped cluster, whose every object is deleted) is checked the same way.

Every decision carries the event's resourceVersion (when it has one): where the watch resumes.
Standard library only; the names (field manager, label, annotation) come in as `Marks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

GONE_CODES = (410,)


class Action(StrEnum):
    IGNORE = "ignore"
    CHECK = "check"
    RESUME = "resume"
    RELIST = "relist"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Marks:
    """How fleetsync marks what it owns (from `kube.ownership` and `kube.inventory`)."""

    field_manager: str = "fleetsync"
    app_label: str = "fleetsync.io/application"
    app_annotation: str = "fleetsync.io/application"
    inventory_namespace: str = "fleetsync-system"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    app: str = ""
    """The application whose pair on this cluster is to be checked (CHECK only)."""
    resource_version: str = ""
    """Where the watch resumes after this event ("" when the event carries none)."""
    why: str = ""
    """For people (logs): what happened to which object."""


def decide(event: Mapping[str, Any], marks: Marks = Marks()) -> Decision:
    """The decision for one decoded watch event `{"type": ..., "object": ...}`."""
    kind = str(event.get("type") or "")
    obj = event.get("object")
    obj = obj if isinstance(obj, Mapping) else {}
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    rv = str(metadata.get("resourceVersion") or "")
    if kind == "BOOKMARK":
        return Decision(Action.RESUME, resource_version=rv, why="bookmark")
    if kind == "ERROR":
        return _error(obj)
    what = _describe(obj, metadata)
    if kind == "ADDED":
        return Decision(Action.IGNORE, resource_version=rv, why=f"{what} added")
    if kind not in ("MODIFIED", "DELETED"):
        return Decision(Action.RETRY, why=f"unknown watch event type {kind[:40]!r}")
    app = _application(metadata, marks)
    if not app:
        return Decision(Action.IGNORE, resource_version=rv, why=f"{what} names no application")
    if kind == "DELETED":
        return Decision(Action.CHECK, app=app, resource_version=rv, why=f"{what} deleted")
    if metadata.get("deletionTimestamp"):
        return Decision(Action.CHECK, app=app, resource_version=rv, why=f"{what} being deleted")
    writer = newest_writer(metadata.get("managedFields"), marks.field_manager)
    if writer is Writer.OWN:
        return Decision(Action.IGNORE, resource_version=rv, why=f"{what} applied by fleetsync")
    if writer is Writer.STATUS:
        return Decision(Action.IGNORE, resource_version=rv, why=f"{what}: status only")
    by = ", ".join(newest_managers(metadata.get("managedFields"))) or str(writer)
    return Decision(Action.CHECK, app=app, resource_version=rv, why=f"{what} changed by {by}")


class Writer(StrEnum):
    OWN = "fleetsync"
    STATUS = "a status write"
    OTHER = "another manager"
    UNKNOWN = "an unknown manager"


def newest_writer(managed_fields: Any, own_manager: str) -> Writer:
    """Who made the object's newest write, from its `managedFields`."""
    entries = [e for e in managed_fields or () if isinstance(e, Mapping)]
    timed = [e for e in entries if isinstance(e.get("time"), str)]
    if not timed:
        return Writer.UNKNOWN
    newest_time = max(str(e["time"]) for e in timed)
    newest = [e for e in timed if e["time"] == newest_time]
    status = [e for e in newest if e.get("subresource") == "status"]
    own = [e for e in newest if e.get("manager") == own_manager and e not in status]
    if own and len(own) + len(status) == len(newest):
        return Writer.OWN
    if len(status) == len(newest):
        return Writer.STATUS
    return Writer.OTHER


def newest_managers(managed_fields: Any) -> list[str]:
    """The managers of the newest `managedFields` entries (sorted, for messages)."""
    timed = [
        e for e in managed_fields or () if isinstance(e, Mapping) and isinstance(e.get("time"), str)
    ]
    newest_time = max((str(e["time"]) for e in timed), default="")
    return sorted({str(e.get("manager")) for e in timed if e["time"] == newest_time})


def _application(metadata: Mapping[str, Any], marks: Marks) -> str:
    labels = metadata.get("labels")
    app = labels.get(marks.app_label) if isinstance(labels, Mapping) else None
    if not app:
        annotations = metadata.get("annotations")
        app = annotations.get(marks.app_annotation) if isinstance(annotations, Mapping) else None
    return str(app) if app else ""


def _error(status: Mapping[str, Any]) -> Decision:
    code = status.get("code")
    message = str(status.get("message") or status.get("reason") or "no message")[:300]
    if code in GONE_CODES:
        return Decision(Action.RELIST, why=f"watch expired ({code}): {message}")
    return Decision(Action.RETRY, why=f"watch error {code}: {message}")


def _describe(obj: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    namespace = metadata.get("namespace")
    name = f"{namespace}/{metadata.get('name')}" if namespace else str(metadata.get("name"))
    return f"{obj.get('kind') or 'object'} {name}"
