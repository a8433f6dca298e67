"""What a reconcile reports for one (application, cluster) pair: sync, health, revision and the
change set, in the field's words. Stored as JSON by the store, printed by the CLI and the API.

A status is true when it is written and ages after: `as_seen` turns one that was not refreshed
by its `stale_after` time into Unknown/Unknown "last checked N ago", so no reader shows an old
Synced/Healthy for a pair fleetsync has stopped checking. A status written while live watches
covered the pair's drift stays current longer, up to its `watched_until` (the backstop check's
time), but only while they still do: a reader that finds no live watch covering the pair holds
it to `stale_after` again, so a dead watcher (and a dead beat) cannot leave it Synced for hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fleetsync.shared.model.ids import Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import ChangeAction, Health, SyncState
from fleetsync.shared.model.trigger import Trigger

STALE_MARGIN = 60.0
"""Seconds past a pair's drift interval (and half of it again, for jitter, queueing and retries)
before its status counts as stale."""


def stale_after(at: float, drift_interval: float) -> float:
    """When a status written at `at` stops being current if nothing refreshes it."""
    return at + 1.5 * drift_interval + STALE_MARGIN


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long a status written now stays current if nothing refreshes it."""

    stale_after: float
    """Without live watches (the pair's interval checks' time)."""
    watched_until: float | None = None
    """While live watches cover the pair (its backstop check's time); None when they did not
    cover it as the status was written."""


@dataclass(frozen=True, slots=True)
class ObjectChange:
    key: str
    """`group/Kind/namespace/name`"""
    action: ChangeAction
    message: str = ""


@dataclass(frozen=True, slots=True)
class HookOutcome:
    """One hook of the pair's last sync with hooks: which, at which phase, how it ended so far,
    and where to read its logs."""

    phase: str
    key: str
    """`group/Kind/namespace/name` as declared (a generateName hook's prefix as name)."""
    name: str
    """The object it became (its generated name); empty if never created."""
    state: str
    """Running, Succeeded or Failed."""
    message: str = ""
    logs: str = ""
    """`kubectl logs job/<name> -n <namespace>` for Jobs and Pods."""

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "key": self.key,
            "name": self.name,
            "state": self.state,
            "message": self.message,
            "logs": self.logs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HookOutcome:
        return cls(
            phase=str(data["phase"]),
            key=str(data["key"]),
            name=str(data.get("name") or ""),
            state=str(data["state"]),
            message=str(data.get("message") or ""),
            logs=str(data.get("logs") or ""),
        )


@dataclass(frozen=True, slots=True)
class PairStatus:
    application: str
    cluster: str
    sync: SyncState
    health: Health
    revision: Revision | None = None
    """What the pair runs (what was applied last); None before anything was."""
    digest: Digest | None = None
    at: float = 0.0
    duration: float = 0.0
    message: str = ""
    error_object: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    changes: tuple[ObjectChange, ...] = ()
    drifted: tuple[str, ...] = ()
    trigger: Trigger = Trigger.CHANGE
    """What triggered the reconcile that wrote the status."""
    stale_after: float | None = None
    """When the status stops being current unless a check refreshes it (None: never)."""
    watched_until: float | None = None
    """Written while live watches covered the pair: it stays current up to this time while
    they still do (see `as_seen`); None otherwise."""
    stale: bool = False
    """True in a status read after `stale_after`: sync and health are Unknown."""
    hooks: tuple[HookOutcome, ...] = ()
    """The hooks of the bundle's sync on this cluster (empty for a bundle without hooks)."""
    failed: bool = False
    """The reconcile that wrote it failed: the cluster could not be reached or refused the
    credentials, or the sync stopped at an object (kept by health checks, cleared by the next
    reconcile that does not fail)."""

    def leans_on_watch(self, now: float) -> bool:
        """Whether, at `now`, the status is current only if live watches still cover its pair
        (past `stale_after`, within `watched_until`): `as_seen` then needs to know."""
        return (
            not self.stale
            and self.stale_after is not None
            and self.watched_until is not None
            and self.stale_after < now <= self.watched_until
        )

    def as_seen(self, now: float, *, watched: bool = False) -> PairStatus:
        """The status as readers show it at `now`: Unknown with "last checked N ago" once it
        is stale, the last known sync and health kept in the message. `watched`: live watches
        cover the pair now (read only where `leans_on_watch`)."""
        if self.stale or self.stale_after is None or now <= self.stale_after:
            return self
        if self.watched_until is not None and now <= self.watched_until:
            if watched:
                return self
            why = f"last checked {age(self.at, now)} ago, and no live watch covers it now"
        else:
            why = f"last checked {age(self.at, now)} ago"
        return replace(
            self,
            sync=SyncState.UNKNOWN,
            health=Health.UNKNOWN,
            message=f"stale: {why} (was {self.sync}/{self.health}: {self.message})",
            stale=True,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "application": self.application,
            "cluster": self.cluster,
            "sync": self.sync.value,
            "health": self.health.value,
            "revision": str(self.revision) if self.revision is not None else None,
            "digest": self.digest,
            "at": self.at,
            "duration": self.duration,
            "message": self.message,
            "error_object": self.error_object,
            "counts": dict(self.counts),
            "changes": [
                {"key": c.key, "action": c.action.value, "message": c.message} for c in self.changes
            ],
            "drifted": list(self.drifted),
            "trigger": self.trigger.value,
            "stale_after": self.stale_after,
            "watched_until": self.watched_until,
            "hooks": [h.to_json() for h in self.hooks],
            "failed": self.failed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PairStatus:
        """Read a stored status, including those written before revisions, digests and
        triggers were typed (`""` for none, the trigger's label under `reason`)."""
        revision = data.get("revision") or None
        return cls(
            application=data["application"],
            cluster=data["cluster"],
            sync=SyncState(data["sync"]),
            health=Health(data["health"]),
            revision=Revision.parse(revision) if revision else None,
            digest=Digest(data["digest"]) if data.get("digest") else None,
            at=float(data.get("at", 0.0)),
            duration=float(data.get("duration", 0.0)),
            message=data.get("message", ""),
            error_object=data.get("error_object"),
            counts=dict(data.get("counts") or {}),
            changes=tuple(
                ObjectChange(key=c["key"], action=ChangeAction(c["action"]), message=c["message"])
                for c in data.get("changes", ())
            ),
            drifted=tuple(data.get("drifted", ())),
            trigger=Trigger.of(data.get("trigger") or data.get("reason") or ""),
            stale_after=data.get("stale_after"),
            watched_until=data.get("watched_until"),
            hooks=tuple(HookOutcome.from_json(h) for h in data.get("hooks") or ()),
            failed=bool(data.get("failed", False)),
        )


def age(at: float | None, now: float) -> str:
    """`42s`, `5m`, `3h`, `2d`; `-` for never."""
    if at is None:
        return "-"
    seconds = max(0, int(now - at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
