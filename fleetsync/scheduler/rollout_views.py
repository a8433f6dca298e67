"""The read model of rollouts and of the freeze, for the CLI, the API and the web view: waves,
clusters per wave with their revision, sync and health, the bake's remaining time and why a
rollout waits or stopped. Part of the one read model (`views.py`), kept apart for its size."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from fleetsync.scheduler.views import known_application, unreconciled
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.model.rollout import Phase, Rollout, Verdict
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.planning.rollout import waiting_note
from fleetsync.shared.store import Store


@dataclass(frozen=True, slots=True)
class RolloutClusterView:
    cluster: str
    wave: int
    """From 1."""
    state: str
    """`waiting` (not reached yet), `pending` (reached, not ready yet), `ready`, `failed`."""
    revision: str
    sync: SyncState
    health: Health
    message: str
    reason: str = ""
    """Why it failed."""
    reached_at: float | None = None


@dataclass(frozen=True, slots=True)
class RolloutWaveView:
    number: int
    name: str
    clusters: int
    state: str
    """`done`, `baking`, `in progress`, `stopped`, `waiting` or `skipped` (no cluster)."""
    ready: int
    pending: int
    failed: int
    waiting: int


@dataclass(frozen=True, slots=True)
class RolloutSummary:
    phase: str
    revision: str
    wave: int
    """The current wave, from 1 (waves + 1 once complete)."""
    waves: int
    wave_name: str
    reason: str
    bake_remaining: float | None
    pinned: bool = False
    """The operator pinned it (while in progress): a newer desired state waits for it."""
    waiting: str | None = None
    """Which desired state waits for it and why, in words."""

    @property
    def words(self) -> str:
        """`wave 2/3 'half' baking (42s left)`, `Paused: ...`, `Complete`; with `pinned` and
        what waits for it, if anything does."""
        extra = (" (pinned)" if self.pinned else "") + (f"; {self.waiting}" if self.waiting else "")
        if self.phase in (Phase.COMPLETE, Phase.ROLLED_BACK, Phase.ABORTED):
            return self.phase + (f": {self.reason}" if self.reason else "") + extra
        where = f"wave {self.wave}/{self.waves} '{self.wave_name}'"
        if self.phase == Phase.PAUSED:
            return f"Paused at {where}: {self.reason}{extra}"
        if self.phase == Phase.BAKING and self.bake_remaining is not None:
            return f"{where} baking ({self.bake_remaining:.0f}s left){extra}"
        return f"{where} {self.phase.lower()}" + (f": {self.reason}" if self.reason else "") + extra


@dataclass(frozen=True, slots=True)
class RolloutView:
    application: str
    revision: str
    previous: str | None
    phase: str
    started_at: float
    updated_at: float
    summary: str
    reason: str
    paused_by: str | None
    bake: float
    bake_remaining: float | None
    promoted: bool
    waves: list[RolloutWaveView]
    clusters: list[RolloutClusterView]
    actions: list[str]
    """What an operator may do now: pause, resume, promote, abort, pin, unpin."""
    pinned: bool = False
    """Pinned by the operator while in progress: a newer desired state waits for it."""
    pin_reason: str = ""
    pinned_at: float | None = None
    waiting_revision: str | None = None
    """The newest desired state that waits for this rollout."""
    waiting: str | None = None
    """Which desired state waits for it and why, in words."""


@dataclass(frozen=True, slots=True)
class FreezeView:
    frozen: bool
    reason: str = ""
    at: float | None = None
    manual_sync: bool = False


def summary_of(r: Rollout, names: list[str], bake: float, now: float) -> RolloutSummary:
    remaining = None
    if r.phase is Phase.BAKING and r.bake_started_at is not None:
        remaining = max(0.0, r.bake_started_at + bake - now)
    return RolloutSummary(
        phase=r.phase.value,
        revision=str(r.revision),
        wave=r.wave + 1,
        waves=r.waves,
        wave_name=names[r.wave] if r.wave < len(names) else "",
        reason=r.reason,
        bake_remaining=remaining,
        pinned=_pinned(r),
        waiting=waiting_note(r),
    )


def rollout_summaries(store: Store, fleet: Fleet, apps: list[str]) -> dict[str, RolloutSummary]:
    """The rollout of each of `apps` that has one, in few round trips."""
    found = {}
    now = store.now()
    for app, r in store.rollouts(apps).items():
        if r is None:
            continue
        declared = fleet.applications.get(AppName(app))
        bake = declared.rollout.bake if declared and declared.rollout else 0.0
        names = [w.name for w in plan.waves] if (plan := store.rollout_plan(app)) else []
        found[app] = summary_of(r, names, bake, now)
    return found


def rollout_view(store: Store, fleet: Fleet, name: str) -> RolloutView | None:
    """The application's latest rollout, or None when it never had one."""
    app = known_application(fleet, name)
    r = store.rollout(app)
    plan = store.rollout_plan(app)
    if r is None or plan is None:
        return None
    declared = fleet.applications[app]
    bake = declared.rollout.bake if declared.rollout else 0.0
    now = store.now()
    summary = summary_of(r, [w.name for w in plan.waves], bake, now)
    progress = store.rollout_progress(app)
    everyone = [(i, c) for i, w in enumerate(plan.waves) for c in w.clusters]
    statuses = store.statuses_of([(app, c) for _, c in everyone])
    clusters = []
    for (index, cluster), status in zip(everyone, statuses, strict=True):
        seen = status or unreconciled(app, cluster)
        p = progress.get(cluster)
        clusters.append(
            RolloutClusterView(
                cluster=cluster,
                wave=index + 1,
                state=p.verdict.value if p is not None else "waiting",
                revision=str(seen.revision or ""),
                sync=seen.sync,
                health=seen.health,
                message=seen.message,
                reason=p.reason if p is not None else "",
                reached_at=p.released_at if p is not None else None,
            )
        )
    waves = []
    for index, wave in enumerate(plan.waves):
        states = Counter(c.state for c in clusters if c.wave == index + 1)
        waves.append(
            RolloutWaveView(
                number=index + 1,
                name=wave.name,
                clusters=len(wave.clusters),
                state=_wave_state(r, index, len(wave.clusters)),
                ready=states[Verdict.READY.value],
                pending=states[Verdict.PENDING.value],
                failed=states[Verdict.FAILED.value],
                waiting=states["waiting"],
            )
        )
    return RolloutView(
        application=app,
        revision=str(r.revision),
        previous=str(r.previous) if r.previous else None,
        phase=r.phase.value,
        started_at=r.started_at,
        updated_at=r.updated_at,
        summary=summary.words,
        reason=r.reason,
        paused_by=r.paused_by,
        bake=bake,
        bake_remaining=summary.bake_remaining,
        promoted=r.promoted == r.wave,
        waves=waves,
        clusters=clusters,
        actions=_actions(r),
        pinned=_pinned(r),
        pin_reason=r.pinned.reason if r.pinned is not None else "",
        pinned_at=r.pinned.at if r.pinned is not None else None,
        waiting_revision=str(r.waiting.revision) if r.waiting is not None else None,
        waiting=waiting_note(r),
    )


def _wave_state(r: Rollout, index: int, size: int) -> str:
    if size == 0:
        return "skipped"
    if index < r.wave or r.phase is Phase.COMPLETE:
        return "done"
    if index > r.wave:
        return "waiting"
    if r.phase.returned:
        return "stopped"
    if r.phase is Phase.PAUSED:
        return "paused"
    return "baking" if r.phase is Phase.BAKING else "in progress"


def _pinned(r: Rollout) -> bool:
    return r.pinned is not None and r.phase.in_progress


def _actions(r: Rollout) -> list[str]:
    if not r.phase.in_progress:
        return []
    pinning = ["unpin"] if r.pinned is not None else ["pin"]
    if r.phase is Phase.PAUSED:
        return ["resume", "abort", *pinning]
    if r.phase.moving:
        return ["pause", "promote", "abort", *pinning]
    return []


def freeze_view(store: Store) -> FreezeView:
    frozen = store.freeze()
    if frozen is None:
        return FreezeView(frozen=False)
    return FreezeView(
        frozen=True, reason=frozen.reason, at=frozen.at, manual_sync=frozen.manual_sync
    )
