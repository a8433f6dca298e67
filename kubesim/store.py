"""One cluster's object store: objects by (group, resource, namespace, name), one revision counter.

Every stored write takes the next cluster-wide resourceVersion and is recorded in a bounded event
log that watches replay from; older revisions than the log holds are "too old" (410). Stored
objects are never mutated in place: a write stores a new dict, so readers may share them.
Structures are created lazily, so an idle cluster costs a few hundred bytes.
"""

from __future__ import annotations

import builtins
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

TypeKey = tuple[str, str]
"""(group, resource): the version-independent identity of a resource type."""

EVENT_LOG_SIZE = 2000


class EventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class StoreEvent:
    revision: int
    type: EventType
    type_key: TypeKey
    namespace: str
    object: dict[str, Any]
    previous: dict[str, Any] | None = None
    """The object before a MODIFIED event (for watches that filter by selector)."""


Listener = Callable[[StoreEvent], None]


class Store:
    """Objects of one cluster, a revision counter, an event log and change listeners."""

    __slots__ = ("_compacted", "_events", "_listeners", "_max_events", "_objects", "revision")

    def __init__(self, max_events: int = EVENT_LOG_SIZE) -> None:
        self._max_events = max_events
        self._objects: dict[TypeKey, dict[str, dict[str, dict[str, Any]]]] = {}
        self.revision = 1
        self._events: deque[StoreEvent] | None = None
        self._compacted = 0
        self._listeners: builtins.list[Listener] | None = None

    def get(self, key: TypeKey, namespace: str, name: str) -> dict[str, Any] | None:
        by_ns = self._objects.get(key)
        if by_ns is None:
            return None
        names = by_ns.get(namespace)
        return names.get(name) if names else None

    def list(
        self,
        key: TypeKey,
        namespace: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        by_ns = self._objects.get(key)
        if not by_ns:
            return []
        if namespace is not None:
            return list(by_ns.get(namespace, {}).values())
        return [obj for names in by_ns.values() for obj in names.values()]

    def type_keys(self) -> builtins.list[TypeKey]:
        return [k for k, v in self._objects.items() if any(v.values())]

    def items(self) -> Iterator[tuple[TypeKey, dict[str, Any]]]:
        for key, by_ns in list(self._objects.items()):
            for names in list(by_ns.values()):
                for obj in list(names.values()):
                    yield key, obj

    def count(self) -> int:
        return sum(len(n) for by_ns in self._objects.values() for n in by_ns.values())

    def put(self, key: TypeKey, obj: dict[str, Any], event: EventType) -> dict[str, Any]:
        """Store `obj` with the next resourceVersion (set in place before storing)."""
        self.revision += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self.revision)
        namespace = meta.get("namespace", "")
        names = self._objects.setdefault(key, {}).setdefault(namespace, {})
        previous = names.get(meta["name"])
        names[meta["name"]] = obj
        self._record(StoreEvent(self.revision, event, key, namespace, obj, previous))
        return obj

    def remove(self, key: TypeKey, namespace: str, name: str) -> dict[str, Any] | None:
        by_ns = self._objects.get(key)
        names = by_ns.get(namespace) if by_ns else None
        if not names or name not in names:
            return None
        old = names.pop(name)
        if not names and by_ns is not None:
            del by_ns[namespace]
        self.revision += 1
        gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self.revision)}}
        self._record(StoreEvent(self.revision, EventType.DELETED, key, namespace, gone))
        return gone

    def drop_type(self, key: TypeKey) -> None:
        self._objects.pop(key, None)

    def _record(self, event: StoreEvent) -> None:
        if self._events is None:
            self._events = deque()
        if len(self._events) >= self._max_events:
            self._compacted = self._events.popleft().revision
        self._events.append(event)
        for listener in list(self._listeners or ()):
            listener(event)

    def compact(self) -> int:
        """Forget the history up to now, as the API server's periodic etcd compaction does:
        watches and list continuations from an older revision are "too old" (410) from then on.
        Returns the revision compacted at."""
        self._compacted = self.revision
        self._events = deque()
        return self.revision

    @property
    def compacted(self) -> int:
        """The oldest revision the history still reaches back to."""
        return self._compacted

    def events_since(self, revision: int) -> builtins.list[StoreEvent] | None:
        """Events after `revision`, or None when the log no longer reaches back that far."""
        if revision < self._compacted:
            return None
        return [e for e in (self._events or ()) if e.revision > revision]

    def subscribe(self, listener: Listener) -> None:
        if self._listeners is None:
            self._listeners = []
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if self._listeners and listener in self._listeners:
            self._listeners.remove(listener)
