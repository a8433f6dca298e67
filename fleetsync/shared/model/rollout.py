"""A progressive rollout's state: which new desired state it carries, which wave it is in, which
clusters it reached and how each is doing. Stored as JSON by the store (`store/rollouts.py`),
advanced by the pure planner (`planning/rollout.py`), read by `desired.py` to hold the clusters
it has not reached yet on what they ran before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fleetsync.shared.model.ids import ClusterName, Digest
from fleetsync.shared.model.revision import Revision


class Phase(StrEnum):
    PROGRESSING = "Progressing"
    """Reconciling the current wave's clusters, waiting for them to become Synced and Healthy."""
    BAKING = "Baking"
    """The current wave is Synced and Healthy; the next starts once it stayed so for `bake`."""
    PAUSED = "Paused"
    """Stopped by the operator or by failures: every cluster keeps what it runs."""
    COMPLETE = "Complete"
    ROLLED_BACK = "RolledBack"
    """Stopped by failures; the clusters it reached returned to what they ran before."""
    ABORTED = "Aborted"
    """Stopped by the operator; the clusters it reached returned to what they ran before."""

    @property
    def in_progress(self) -> bool:
        return self in (Phase.PROGRESSING, Phase.BAKING, Phase.PAUSED)

    @property
    def moving(self) -> bool:
        """Whether the planner advances it (not paused, not finished)."""
        return self in (Phase.PROGRESSING, Phase.BAKING)

    @property
    def returned(self) -> bool:
        """Whether every cluster runs what it ran before the rollout."""
        return self in (Phase.ROLLED_BACK, Phase.ABORTED)


class Verdict(StrEnum):
    PENDING = "pending"
    """Reached (reconcile sent), not Synced and Healthy at the new state yet."""
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Wave:
    name: str
    clusters: tuple[ClusterName, ...]


@dataclass(frozen=True, slots=True)
class Held:
    """What a cluster ran before a rollout reached it (and returns to when it is undone)."""

    revision: Revision
    digest: Digest

    def to_text(self) -> str:
        return f"{self.digest} {self.revision}"

    @classmethod
    def from_text(cls, text: str) -> Held:
        digest, _, revision = text.partition(" ")
        return cls(revision=Revision.parse(revision), digest=Digest(digest))


@dataclass(frozen=True, slots=True)
class ClusterProgress:
    """One cluster the rollout reached."""

    released_at: float
    """When the rollout reached it (its reconcile was sent); its progress deadline counts from
    here."""
    verdict: Verdict = Verdict.PENDING
    since: float | None = None
    """When it became ready, or failed."""
    reason: str = ""
    """Why it failed."""

    def to_json(self) -> dict[str, Any]:
        return {"r": self.released_at, "v": self.verdict.value, "s": self.since, "m": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClusterProgress:
        return cls(
            released_at=float(data["r"]),
            verdict=Verdict(data.get("v", Verdict.PENDING.value)),
            since=data.get("s"),
            reason=data.get("m", ""),
        )


@dataclass(frozen=True, slots=True)
class Pinned:
    """The operator's pin of a running rollout: a newer desired state waits instead of
    superseding it."""

    reason: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "at": self.at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pinned:
        return cls(reason=str(data.get("reason", "")), at=float(data["at"]))


@dataclass(frozen=True, slots=True)
class Waiting:
    """The newest desired state that waits for a pinned rollout (its rollout starts, from wave
    1, once the pin is lifted or the pinned rollout ends)."""

    revision: Revision
    digest: Digest
    since: float

    def to_json(self) -> dict[str, Any]:
        return {"revision": str(self.revision), "digest": self.digest, "since": self.since}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Waiting:
        return cls(
            revision=Revision.parse(data["revision"]),
            digest=Digest(data["digest"]),
            since=float(data["since"]),
        )


@dataclass(frozen=True, slots=True)
class Rollout:
    """The rollout of one new desired state of an application (its waves and what each cluster
    ran before are kept apart: they are large and never change)."""

    id: str
    application: str
    revision: Revision
    digest: Digest
    """The application's desired state this rollout carries; a newer one supersedes it."""
    started_at: float
    waves: int
    """How many waves its plan has (the plan itself is stored apart)."""
    phase: Phase = Phase.PROGRESSING
    wave: int = 0
    """The current wave, from 0."""
    wave_started_at: float = 0.0
    bake_started_at: float | None = None
    promoted: int | None = None
    """A wave the operator promoted: it goes on without (the rest of) its bake."""
    reason: str = ""
    """Why it waits, is paused or stopped, in words."""
    paused_by: str | None = None
    """"operator" or "failures" while paused."""
    previous: Revision | None = None
    """The revision most clusters ran before (for people; each cluster's is in the plan)."""
    pinned: Pinned | None = None
    """Set by `fleetsync rollout pin`: while it is in progress, a newer desired state waits."""
    waiting: Waiting | None = None
    """The newest desired state that waits for this pinned rollout."""
    after_loss: bool = False
    """Started while Redis had lost its data: what the clusters ran before is not known, so
    those it has not reached keep whatever they run, untouched (and a rollout read back from a
    cluster's mirror replaces it)."""
    updated_at: float = 0.0
    version: int = 0
    """Bumped by every write, so that concurrent writers do not undo each other."""

    @property
    def starts_waiting(self) -> bool:
        """Whether the desired state waiting for this rollout should start its own rollout
        now: the pin was lifted, or the pinned rollout ended."""
        return self.waiting is not None and (self.pinned is None or not self.phase.in_progress)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.id,
            "application": self.application,
            "revision": str(self.revision),
            "digest": self.digest,
            "started_at": self.started_at,
            "waves": self.waves,
            "phase": self.phase.value,
            "wave": self.wave,
            "wave_started_at": self.wave_started_at,
            "bake_started_at": self.bake_started_at,
            "promoted": self.promoted,
            "reason": self.reason,
            "paused_by": self.paused_by,
            "previous": str(self.previous) if self.previous else None,
            "pinned": self.pinned.to_json() if self.pinned else None,
            "waiting": self.waiting.to_json() if self.waiting else None,
            "updated_at": self.updated_at,
            "version": self.version,
        }
        if self.after_loss:  # only then: the records (and mirrors' marks) of others unchanged
            record["after_loss"] = True
        return record

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rollout:
        previous = data.get("previous")
        pinned, waiting = data.get("pinned"), data.get("waiting")
        return cls(
            id=data["id"],
            application=data["application"],
            revision=Revision.parse(data["revision"]),
            digest=Digest(data["digest"]),
            started_at=float(data["started_at"]),
            waves=int(data["waves"]),
            phase=Phase(data["phase"]),
            wave=int(data["wave"]),
            wave_started_at=float(data.get("wave_started_at") or 0.0),
            bake_started_at=data.get("bake_started_at"),
            promoted=data.get("promoted"),
            reason=data.get("reason", ""),
            paused_by=data.get("paused_by"),
            previous=Revision.parse(previous) if previous else None,
            pinned=Pinned.from_json(pinned) if pinned else None,
            waiting=Waiting.from_json(waiting) if waiting else None,
            after_loss=bool(data.get("after_loss")),
            updated_at=float(data.get("updated_at") or 0.0),
            version=int(data.get("version", 0)),
        )


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    """A rollout's waves, fixed when it starts (the same clusters go first every time)."""

    waves: tuple[Wave, ...]

    def wave_of(self, cluster: str) -> int | None:
        for index, wave in enumerate(self.waves):
            if cluster in wave.clusters:
                return index
        return None

    def to_json(self) -> dict[str, Any]:
        return {"waves": [{"name": w.name, "clusters": list(w.clusters)} for w in self.waves]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RolloutPlan:
        return cls(
            waves=tuple(
                Wave(name=w["name"], clusters=tuple(ClusterName(c) for c in w["clusters"]))
                for w in data["waves"]
            )
        )
