"""Where a sync with hooks stands, as values: the run record, each hook's result, the wait.

A bundle with hooks is synced as a run: PreSync hooks, then the apply with the Sync hooks, then
(once every object is Healthy) the PostSync hooks, then Succeeded; or Failed, with SyncFail
hooks created. A run advances as far as it can in one reconcile and then waits (`HookWait`): the
reconcile is continued later, as waves are, and no worker sleeps while a Job runs. The record
(`HookRun`) is kept in the cluster's inventory ConfigMap beside the waves' record, so a run
survives a worker's restart and any worker continues it. A run belongs to one bundle (its
digest): a new desired state starts a new run; a run that Succeeded is not run again for the
same bundle (drift checks re-apply objects, never hooks); one that Failed stays failed until a
new bundle or a manual sync.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from fleetsync.shared.model.hooks import HookPhase

RECHECK_MIN = 2.0
RECHECK_MAX = 15.0
LOGGED_KINDS = frozenset({"Job", "Pod"})


class RunState(StrEnum):
    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED)


class HookState(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class HookResult:
    """One hook of a run: which (its declared key and phase), the object it became, and how it
    ended so far."""

    hook: str
    """The hook's identity (`hooks.hook_id`)."""
    key: str
    """The declared key, `group/Kind/namespace/name` (a generateName hook's prefix as name)."""
    phase: HookPhase
    kind: str
    namespace: str
    name: str
    """The live object's name (generated for a generateName hook); empty if never created."""
    state: HookState
    message: str = ""
    note: str = ""
    """What to know that did not fail the hook: its delete by policy that RBAC forbade (the
    object stays; what to grant)."""

    @property
    def logs(self) -> str:
        """Where to read its logs: `kubectl logs job/<name> -n <ns>` for Jobs and Pods."""
        if self.kind not in LOGGED_KINDS or not self.name:
            return ""
        namespace = f" -n {self.namespace}" if self.namespace else ""
        return f"kubectl logs {self.kind.lower()}/{self.name}{namespace}"

    @property
    def shown(self) -> str:
        """Its key with the live object's name: `batch/Job/web/migrate-x7k2p`."""
        return self.key if not self.name else self.key.rpartition("/")[0] + "/" + self.name

    @property
    def detail(self) -> str:
        text = "; ".join(part for part in (self.message, self.note, self.logs) if part)
        return f" ({text})" if text else ""

    @property
    def outcome(self) -> str:
        """`PreSync hook failed (why; kubectl logs job/... -n ...)`, without its key."""
        return f"{self.phase} hook {self.state.lower()}{self.detail}"

    @property
    def brief(self) -> str:
        """`batch/Job/web/migrate-x7k2p running (job is running; kubectl logs ...)`."""
        return f"{self.shown} {self.state.lower()}{self.detail}"

    def __str__(self) -> str:
        return f"{self.phase} hook {self.brief}"

    def to_json(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "key": self.key,
            "phase": self.phase.value,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "state": self.state.value,
            "message": self.message,
            **({"note": self.note} if self.note else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HookResult:
        return cls(
            hook=str(data["hook"]),
            key=str(data["key"]),
            phase=HookPhase(data["phase"]),
            kind=str(data["kind"]),
            namespace=str(data["namespace"]),
            name=str(data["name"]),
            state=HookState(data["state"]),
            message=str(data.get("message") or ""),
            note=str(data.get("note") or ""),
        )


@dataclass(frozen=True, slots=True)
class HookRun:
    """The hooks of one bundle's sync on one cluster: where the run stands and what ran."""

    bundle: str
    """The bundle's digest."""
    state: RunState
    since: float
    """When the run entered `state` (seconds since the epoch): a phase's deadline counts from
    it."""
    results: tuple[HookResult, ...] = ()
    error: str = ""
    """Why the run failed."""
    started: float = 0.0
    """When the run began: with the bundle, what tells this run's hooks from an earlier run's
    of the same bundle (a manual sync retrying a failed run)."""

    @property
    def label(self) -> str:
        """The run's label value: the bundle's digest shortened, and when the run began."""
        return f"{self.bundle[:16]}-{int(self.started * 1000):x}"

    def entering(self, state: RunState, now: float) -> HookRun:
        return replace(self, state=state, since=now)

    def with_results(self, results: Sequence[HookResult]) -> HookRun:
        """The record with `results` replacing those of the same hooks (in the same phase)."""
        fresh = {(r.hook, r.phase): r for r in results}
        kept = [r for r in self.results if (r.hook, r.phase) not in fresh]
        return replace(self, results=(*kept, *results))

    def result_of(self, hook: str, phase: HookPhase) -> HookResult | None:
        return next((r for r in self.results if r.hook == hook and r.phase == phase), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "state": self.state.value,
            "since": self.since,
            "results": [r.to_json() for r in self.results],
            "error": self.error,
            "started": self.started,
        }

    @classmethod
    def from_json(cls, data: Any) -> HookRun | None:
        """The record, or None for anything that is not one (an edited ConfigMap)."""
        try:
            return cls(
                bundle=str(data["bundle"]),
                state=RunState(data["state"]),
                since=float(data["since"]),
                results=tuple(HookResult.from_json(r) for r in data.get("results") or ()),
                error=str(data.get("error") or ""),
                started=float(data.get("started") or 0.0),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class HookWait:
    """A sync waiting on hooks of `phase` (or, before PostSync, on every object's health)."""

    phase: HookPhase
    waiting_for: str
    """What it waits for: the hooks still running, or the objects not healthy yet."""
    since: float
    deadline: float
    applied: bool
    """Whether the bundle's objects are all applied (a wait after the apply: PostSync, Sync
    hooks), so the pair is in sync while it waits."""

    def __str__(self) -> str:
        return f"waiting for {self.phase} hooks: {self.waiting_for}"

    def recheck_in(self, now: float) -> float:
        """Seconds until the sync should look again: soon at first, then less often, and no
        later than just past the deadline."""
        pace = min(max((now - self.since) / 4, RECHECK_MIN), RECHECK_MAX)
        return max(min(pace, self.deadline - now + 0.5), 0.5)
