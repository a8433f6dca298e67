"""One simulated cluster: its store, the types it serves, its knobs, and the commit of a write.

`Cluster.commit` is the single place where a computed object becomes stored: it finishes server
metadata (generation, resourceVersion), detects no-op writes (which keep the resourceVersion),
honours dry-run, and tells the simulated controllers.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kubesim.catalog import BUILTIN_TABLE, ResourceType, TypeTable
from kubesim.crds import crd_schema, served_type
from kubesim.faults import NO_FAULTS, ControllerSettings, FaultSettings, RequestLog
from kubesim.listschema import ListSchema, builtin_list_schema
from kubesim.namespaces import populate
from kubesim.schema import builtin_list_schema as builtin_schema
from kubesim.store import EVENT_LOG_SIZE, EventType, Store, TypeKey

Scheduler = Callable[[float, Callable[[], None]], None]
CRD_KEY: TypeKey = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_KEY: TypeKey = ("", "namespaces")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _immediately(delay: float, fn: Callable[[], None]) -> None:
    fn()


def _without_times(obj: Mapping[str, Any]) -> Any:
    meta = obj.get("metadata") or {}
    managed = [{k: v for k, v in e.items() if k != "time"} for e in meta.get("managedFields", ())]
    return {**obj, "metadata": {**meta, "managedFields": managed}}


class Cluster:
    """The state of one simulated cluster. Not thread-safe: used from the server's loop only."""

    __slots__ = (
        "_crd_types",
        "_ip_counter",
        "_table",
        "controller_hooks",
        "controllers",
        "faults",
        "held",
        "name",
        "requests",
        "schedule",
        "store",
        "token",
    )

    def __init__(
        self,
        name: str,
        *,
        token: str | None = None,
        schedule: Scheduler = _immediately,
        event_log_size: int = EVENT_LOG_SIZE,
    ) -> None:
        self.name = name
        self.token = token or secrets.token_hex(16)
        self.store = Store(event_log_size)
        self.faults: FaultSettings = NO_FAULTS
        self.held = 0
        """API requests waiting for the `hold` fault to be lifted."""
        self.controllers = ControllerSettings()
        self.requests = RequestLog()
        self.schedule = schedule
        self.controller_hooks: list[Callable[[Cluster, ResourceType, dict[str, Any]], None]] = []
        self._crd_types: dict[TypeKey, tuple[ResourceType, ListSchema]] | None = None
        self._table: TypeTable = BUILTIN_TABLE
        self._ip_counter = itertools.count(10)
        now = now_rfc3339()
        for ns in DEFAULT_NAMESPACES:
            self.store.put(
                NAMESPACE_KEY,
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": ns,
                        "uid": str(uuid.uuid4()),
                        "creationTimestamp": now,
                        "labels": {"kubernetes.io/metadata.name": ns},
                    },
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
                EventType.ADDED,
            )
            populate(self.store, ns, now)

    # -- types ------------------------------------------------------------------------------

    @property
    def types(self) -> TypeTable:
        return self._table

    def list_schema(self, rtype: ResourceType) -> ListSchema:
        if self._crd_types:
            entry = self._crd_types.get((rtype.group, rtype.resource))
            if entry is not None:
                return entry[1]
        root = rtype.schema
        if root is not None:
            return builtin_schema(root)
        return builtin_list_schema(rtype.kind)

    def register_crd(self, crd: Mapping[str, Any]) -> None:
        rtype = served_type(crd)
        if self._crd_types is None:
            self._crd_types = {}
        self._crd_types[(rtype.group, rtype.resource)] = (rtype, crd_schema(crd))
        self._rebuild_table()

    def unregister_crd(self, key: TypeKey) -> None:
        if self._crd_types and self._crd_types.pop(key, None) is not None:
            self.store.drop_type(key)
            self._rebuild_table()

    def crd_type(self, key: TypeKey) -> ResourceType | None:
        entry = (self._crd_types or {}).get(key)
        return entry[0] if entry else None

    def _rebuild_table(self) -> None:
        custom = [t for t, _ in (self._crd_types or {}).values()]
        self._table = TypeTable([*BUILTIN_TABLE.types, *custom]) if custom else BUILTIN_TABLE

    # -- writes -----------------------------------------------------------------------------

    def next_cluster_ip(self) -> str:
        n = next(self._ip_counter)
        return f"10.96.{(n // 250) % 250}.{n % 250 + 1}"

    def commit(
        self, rtype: ResourceType, old: dict[str, Any] | None, new: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        """Store `new` (replacing `old`); return what the client sees. No-op writes store nothing.

        `new` must own its top-level dict and its metadata dict (they are completed in place).
        """
        meta = new["metadata"]
        if old is not None:
            old_meta = old["metadata"]
            for k in ("uid", "creationTimestamp"):
                meta[k] = old_meta[k]
            if rtype.tracks_generation:
                gen = int(old_meta.get("generation", 1))
                if _spec_of(old) != _spec_of(new):
                    gen += 1
                meta["generation"] = gen
            meta["resourceVersion"] = old_meta.get("resourceVersion")
            if _without_times(old) == _without_times(new):
                return old
        else:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_rfc3339())
            if rtype.tracks_generation:
                meta["generation"] = 1
            meta.pop("resourceVersion", None)
        if not meta.get("managedFields"):
            meta.pop("managedFields", None)
        if dry_run:
            return new
        stored = self.store.put(
            (rtype.group, rtype.resource),
            new,
            EventType.MODIFIED if old is not None else EventType.ADDED,
        )
        for hook in self.controller_hooks:
            hook(self, rtype, stored)
        return stored

    def remove(self, rtype: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        meta = obj["metadata"]
        return self.store.remove(
            (rtype.group, rtype.resource), meta.get("namespace", ""), meta["name"]
        )

    def objects(self) -> list[dict[str, Any]]:
        return [obj for _, obj in self.store.items()]


def _spec_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
