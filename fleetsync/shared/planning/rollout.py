"""What a rollout does next: a pure function of its state, the clock and what the clusters it
reached report. No I/O: the beat's controller (and the fetch, when a rollout starts) reads the
inputs, calls `advance`, writes the state it returns and sends the reconciles it asks for.

One step, in order, for the current wave:

1. each reached cluster is judged: ready (Synced and Healthy at the new state), failed (Degraded
   or a failed sync at the new state, or not ready within `progressDeadline` of being reached),
   or pending; a ready cluster that stops being ready is pending again, its deadline restarted;
2. more failed clusters than `maxFailures` stop the rollout: paused, or rolled back (every
   cluster reached returns to what it ran before: those are reconciled again);
3. clusters of the wave not reached yet are reached, at most `maxParallel` pending at once,
   except those a change window or the freeze holds;
4. once every cluster of the wave is ready (or failed, within `maxFailures`), the wave bakes;
   after `bake` (or at once when the operator promoted it) the next wave starts, in the same
   step; after the last wave the rollout is complete.

Operator actions are pure too: `pause`, `resume`, `promote`, `abort`, `pin`, `unpin`; and so is
what a new desired state of an application in rollout does (`admit`): it supersedes the running
rollout (a new one starts from wave 1) unless the operator pinned that one, in which case it waits
(the newest waiting state is recorded in the rollout) until the pin is lifted or the pinned
rollout ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from fleetsync.shared.model.declaration import FailurePolicy, RolloutPolicy
from fleetsync.shared.model.ids import ClusterName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import (
    ClusterProgress,
    Phase,
    Pinned,
    Rollout,
    RolloutPlan,
    Verdict,
    Waiting,
)
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.planning.windows import Hold

LOOK_AGAIN = 30.0
"""The longest a moving rollout goes without being looked at, whatever its timers say."""
RESEND_AFTER = 10.0
"""A reached cluster that does not run the new state yet gets its reconcile sent again after
this long (the first may have been lost with a beat that stopped, or overtaken by a drift check
that was already running); the sender coalesces it with one still queued."""
MAX_REASONS = 5


class RolloutError(ValueError):
    """An operator action that does not apply to the rollout as it is (the message says why)."""


@dataclass(frozen=True, slots=True)
class Observation:
    """A reached cluster's last status, as the planner needs it."""

    sync: SyncState
    health: Health
    digest: Digest | None
    at: float
    message: str = ""
    sync_failed: bool = False
    """The status reports a sync that failed (an object refused, a wave timed out...)."""


@dataclass(frozen=True, slots=True)
class Situation:
    rollout: Rollout
    plan: RolloutPlan
    policy: RolloutPolicy
    progress: Mapping[ClusterName, ClusterProgress]
    """Every cluster reached so far (any wave)."""
    observed: Mapping[ClusterName, Observation | None] = field(default_factory=dict)
    """The current wave's reached clusters' statuses (None: none recorded)."""
    targets: Mapping[ClusterName, Digest] = field(default_factory=dict)
    """The digest each cluster runs once reached, where it is not the rollout's own."""
    blocked: Mapping[ClusterName, Hold] = field(default_factory=dict)
    """Clusters a change window or the freeze holds now: at least the current wave's clusters
    not reached yet and the next (non-empty) wave's, which a wave that bakes out in this step
    hands over to."""
    held: str | None = None
    """Why the whole application does not move (suspended, rolled back by the operator)."""


@dataclass(frozen=True, slots=True)
class Step:
    rollout: Rollout
    progress: dict[ClusterName, ClusterProgress] = field(default_factory=dict)
    """Entries that changed."""
    reconcile: tuple[ClusterName, ...] = ()
    """Pairs to reconcile now (reached clusters, or clusters returning to what they ran)."""
    events: tuple[str, ...] = ()
    """What happened, for the log."""
    next_check: float = 0.0
    """When the rollout needs looking at again, at the latest."""

    @property
    def changed(self) -> bool:
        return bool(self.progress) or bool(self.reconcile) or bool(self.events)


def advance(s: Situation, now: float) -> Step:
    """One step of a moving rollout (see the module's docstring); a paused or finished one, or
    one whose application is held, stays as it is."""
    r = s.rollout
    if not r.phase.moving:
        return Step(rollout=r, next_check=now + LOOK_AGAIN * 4)
    if s.held is not None:
        if r.reason == s.held:
            return Step(rollout=r, next_check=now + LOOK_AGAIN)
        return Step(
            rollout=replace(r, reason=s.held), events=(s.held,), next_check=now + LOOK_AGAIN
        )
    r = replace(r, reason="")
    progress = dict(s.progress)
    changed: dict[ClusterName, ClusterProgress] = {}
    reconcile: list[ClusterName] = []
    events: list[str] = []
    checks: list[float] = [now + LOOK_AGAIN]
    while True:
        if r.wave >= len(s.plan.waves):
            r = replace(r, phase=Phase.COMPLETE, reason="", bake_started_at=None)
            events.append(f"complete: every wave of {r.revision.short} is Synced and Healthy")
            break
        wave = s.plan.waves[r.wave]
        label = f"wave {r.wave + 1}/{len(s.plan.waves)} '{wave.name}'"
        # 1. judge the clusters reached
        for cluster in wave.clusters:
            before = progress.get(cluster)
            if before is None or before.verdict is Verdict.FAILED:
                continue
            after = _judge(before, s, cluster, now)
            if after != before:
                progress[cluster] = changed[cluster] = after
                if after.verdict is Verdict.FAILED:
                    events.append(f"{label}: {cluster} failed: {after.reason}")
            elif after.verdict is Verdict.PENDING:
                checks.append(after.released_at + s.policy.progress_deadline)
                observed = s.observed.get(cluster)
                target = s.targets.get(cluster, r.digest)
                applied = observed is not None and observed.digest == target
                if not applied and now - after.released_at >= RESEND_AFTER:
                    reconcile.append(cluster)
        failed = [c for c in wave.clusters if _verdict(progress, c) is Verdict.FAILED]
        # 2. too many failures stop it
        if len(failed) > s.policy.max_failures:
            return _stop(s, r, progress, changed, events, label, failed, now)
        # 3. reach more clusters
        unreached = [c for c in wave.clusters if c not in progress]
        pending = [c for c in wave.clusters if _verdict(progress, c) is Verdict.PENDING]
        if unreached:
            room = len(unreached)
            if s.policy.max_parallel is not None:
                room = max(0, s.policy.max_parallel - len(pending))
            free = [c for c in unreached if c not in s.blocked]
            reach = free[:room]
            for cluster in reach:
                progress[cluster] = changed[cluster] = ClusterProgress(released_at=now)
                checks.append(now + s.policy.progress_deadline)
            reconcile.extend(reach)
            if reach:
                events.append(f"{label}: reaching {', '.join(reach[:MAX_REASONS])}" + _more(reach))
            waiting = [c for c in unreached if c in s.blocked]
            reason = ""
            if waiting and len(reach) < room:
                first = s.blocked[waiting[0]]
                reason = f"{label}: {len(waiting)} clusters wait: {first.reason}"
                if first.until is not None:
                    checks.append(first.until)
            r = replace(r, phase=Phase.PROGRESSING, reason=reason, bake_started_at=None)
            break
        if pending:
            r = replace(r, phase=Phase.PROGRESSING, reason="", bake_started_at=None)
            break
        # 4. the wave is done: bake, then the next wave
        if r.wave == len(s.plan.waves) - 1:
            r = replace(r, wave=r.wave + 1)
            continue
        bake_started_at = r.bake_started_at
        if bake_started_at is None:
            bake_started_at = now
            r = replace(r, phase=Phase.BAKING, bake_started_at=now, reason="")
            events.append(f"{label}: Synced and Healthy; baking for {s.policy.bake:g}s")
        baked = bake_started_at + s.policy.bake
        if r.promoted != r.wave and now < baked:
            checks.append(baked)
            break
        how = "promoted by the operator" if r.promoted == r.wave and now < baked else "baked"
        events.append(f"{label}: {how}; next wave")
        r = replace(
            r,
            wave=r.wave + 1,
            phase=Phase.PROGRESSING,
            wave_started_at=now,
            bake_started_at=None,
            reason="",
        )
    return Step(
        rollout=replace(r, updated_at=now),
        progress=changed,
        reconcile=tuple(dict.fromkeys(reconcile)),
        events=tuple(events),
        next_check=min(checks),
    )


def _verdict(progress: Mapping[ClusterName, ClusterProgress], cluster: str) -> Verdict | None:
    found = progress.get(ClusterName(cluster))
    return found.verdict if found is not None else None


def _judge(p: ClusterProgress, s: Situation, cluster: ClusterName, now: float) -> ClusterProgress:
    seen = s.observed.get(cluster)
    target = s.targets.get(cluster, s.rollout.digest)
    fresh = seen is not None and seen.at >= p.released_at and seen.digest == target
    if fresh and seen is not None:
        if seen.sync is SyncState.SYNCED and seen.health is Health.HEALTHY:
            if p.verdict is Verdict.READY:
                return p
            return replace(p, verdict=Verdict.READY, since=now, reason="")
        if seen.health is Health.DEGRADED:
            return _failed(p, now, f"Degraded: {seen.message}")
        if seen.sync_failed:
            return _failed(p, now, f"sync failed: {seen.message}")
    if p.verdict is Verdict.READY:
        # It was ready and is not any more: it gets a new deadline to be ready again.
        return ClusterProgress(released_at=now)
    if now >= p.released_at + s.policy.progress_deadline:
        last = f" (last: {seen.sync}/{seen.health}: {seen.message})" if seen is not None else ""
        return _failed(p, now, f"not Synced and Healthy within {_seconds(s.policy)}{last}")
    return p


def _failed(p: ClusterProgress, now: float, reason: str) -> ClusterProgress:
    return replace(p, verdict=Verdict.FAILED, since=now, reason=reason[:300])


def _seconds(policy: RolloutPolicy) -> str:
    return f"progressDeadline {policy.progress_deadline:g}s"


def _stop(
    s: Situation,
    r: Rollout,
    progress: dict[ClusterName, ClusterProgress],
    changed: dict[ClusterName, ClusterProgress],
    events: list[str],
    label: str,
    failed: list[ClusterName],
    now: float,
) -> Step:
    details = "; ".join(f"{c}: {progress[c].reason}" for c in failed[:MAX_REASONS])
    why = (
        f"{label}: {len(failed)} clusters failed, more than maxFailures "
        f"{s.policy.max_failures}: {details}{_more(failed)}"
    )
    if s.policy.on_failure is FailurePolicy.ROLLBACK:
        reached = tuple(progress)
        events.append(f"rolled back: {why}")
        stopped = replace(r, phase=Phase.ROLLED_BACK, reason=why, updated_at=now)
        return Step(rollout=stopped, progress=changed, reconcile=reached, events=tuple(events))
    events.append(f"paused: {why}")
    paused = replace(r, phase=Phase.PAUSED, reason=why, paused_by="failures", updated_at=now)
    return Step(rollout=paused, progress=changed, events=tuple(events), next_check=now + 120)


def _more(items: list[ClusterName]) -> str:
    return f" and {len(items) - MAX_REASONS} more" if len(items) > MAX_REASONS else ""


# -- operator actions -----------------------------------------------------------------------


def pause(r: Rollout, now: float) -> Rollout:
    if r.phase is Phase.PAUSED:
        raise RolloutError(f"{r.application}: the rollout is already paused ({r.reason})")
    if not r.phase.moving:
        raise RolloutError(_not_moving(r, "pause"))
    return replace(
        r, phase=Phase.PAUSED, paused_by="operator", reason="paused by the operator", updated_at=now
    )


def resume(
    r: Rollout, plan: RolloutPlan, progress: Mapping[ClusterName, ClusterProgress], now: float
) -> Step:
    """Go on from where it paused; after failures, the failed clusters of the current wave get
    a new chance (a new deadline, reconciled again)."""
    if r.phase is not Phase.PAUSED:
        raise RolloutError(
            f"{r.application}: the rollout is {r.phase}, not paused; nothing to resume"
        )
    retry: dict[ClusterName, ClusterProgress] = {}
    if r.wave < len(plan.waves):
        for cluster in plan.waves[r.wave].clusters:
            found = progress.get(cluster)
            if found is not None and found.verdict is Verdict.FAILED:
                retry[cluster] = ClusterProgress(released_at=now)
    phase = Phase.BAKING if r.bake_started_at is not None and not retry else Phase.PROGRESSING
    resumed = replace(r, phase=phase, paused_by=None, reason="", updated_at=now)
    events = (f"resumed by the operator{'; retrying ' + ', '.join(retry) if retry else ''}",)
    return Step(
        rollout=resumed, progress=retry, reconcile=tuple(retry), events=events, next_check=now
    )


def promote(r: Rollout, now: float) -> Rollout:
    """Skip the rest of the current wave's bake (or its whole bake, once it is ready)."""
    if not r.phase.in_progress:
        raise RolloutError(_not_moving(r, "promote"))
    if r.phase is Phase.PAUSED:
        raise RolloutError(
            f"{r.application}: the rollout is paused ({r.reason}); resume it before promoting"
        )
    return replace(r, promoted=r.wave, updated_at=now)


def abort(r: Rollout, progress: Mapping[ClusterName, ClusterProgress], now: float) -> Step:
    """Stop, and return every cluster reached to what it ran before."""
    if not r.phase.in_progress:
        raise RolloutError(_not_moving(r, "abort"))
    stopped = replace(r, phase=Phase.ABORTED, reason="aborted by the operator", updated_at=now)
    reached = tuple(progress)
    return Step(rollout=stopped, reconcile=reached, events=("aborted by the operator",))


def pin(r: Rollout, reason: str, now: float) -> Rollout:
    """Keep this rollout going to its end: a newer desired state waits instead of superseding
    it."""
    if not r.phase.in_progress:
        raise RolloutError(_not_moving(r, "pin"))
    if r.pinned is not None:
        why = f": {r.pinned.reason}" if r.pinned.reason else ""
        raise RolloutError(
            f"{r.application}: the rollout of {r.revision.short} is already pinned{why}"
        )
    return replace(r, pinned=Pinned(reason=reason.strip()[:500], at=now), updated_at=now)


def unpin(r: Rollout, now: float) -> Rollout:
    """Let a newer desired state supersede this rollout again; one that waits starts its
    rollout now (`Rollout.starts_waiting`)."""
    if not r.phase.in_progress:
        raise RolloutError(_not_moving(r, "unpin"))
    if r.pinned is None:
        raise RolloutError(
            f"{r.application}: the rollout of {r.revision.short} is not pinned; nothing to unpin"
        )
    return replace(r, pinned=None, updated_at=now)


class Arrival(StrEnum):
    """What a new desired state of an application with a rollout policy does."""

    START = "start"
    """Its rollout starts from wave 1 (superseding the running one, if any)."""
    UNDER_WAY = "under way"
    """Its rollout is the running one already."""
    WAITS = "waits"
    """The running rollout (of another state) is pinned: the new state waits for it."""


@dataclass(frozen=True, slots=True)
class Admission:
    arrival: Arrival
    running: Rollout | None = None
    """The running rollout as it is to be written (its waiting state recorded or cleared);
    None: unchanged."""
    pinned: Pinned | None = None
    """A pin the started rollout keeps (the same state restarted under the operator's pin)."""
    waiting: Waiting | None = None
    """A waiting state the started rollout keeps, with the pin."""


def admit(
    r: Rollout | None, revision: Revision, digest: Digest, now: float, *, restart: bool = False
) -> Admission:
    """What a new desired state (`revision`, `digest`) does, given the application's rollout
    `r`. `restart`: roll it out again from wave 1 even if it is the one under way."""
    if r is not None and r.phase.in_progress and r.pinned is not None and r.digest != digest:
        since = r.waiting.since if r.waiting is not None and r.waiting.digest == digest else now
        waiting = Waiting(revision=revision, digest=digest, since=since)
        if r.waiting == waiting:
            return Admission(Arrival.WAITS)
        return Admission(Arrival.WAITS, running=replace(r, waiting=waiting, updated_at=now))
    if r is not None and r.digest == digest and r.phase.in_progress:
        if not restart:
            cleared = replace(r, waiting=None, updated_at=now) if r.waiting is not None else None
            return Admission(Arrival.UNDER_WAY, running=cleared)
        return Admission(Arrival.START, pinned=r.pinned, waiting=r.waiting)
    return Admission(Arrival.START)


def settle(r: Rollout | None, now: float) -> Rollout | None:
    """The rollout with nothing waiting for it any more (the newest desired state is the one
    it carries, or needs no rollout); None when there is nothing to write."""
    if r is None or r.waiting is None:
        return None
    return replace(r, waiting=None, updated_at=now)


def waiting_note(r: Rollout) -> str | None:
    """Which desired state waits for this rollout and why, in words; None when none does."""
    w = r.waiting
    if w is None:
        return None
    if r.starts_waiting:
        return f"{w.revision.short} is about to start its rollout from wave 1 (fetched again)"
    why = f" ({r.pinned.reason})" if r.pinned is not None and r.pinned.reason else ""
    return (
        f"{w.revision.short} waits: the operator pinned the rollout of {r.revision.short}{why}; "
        f"it starts from wave 1 once unpinned or when this rollout ends"
    )


def _not_moving(r: Rollout, verb: str) -> str:
    return (
        f"{r.application}: no rollout in progress to {verb} (the last one, of "
        f"{r.revision.short}, is {r.phase})"
    )
