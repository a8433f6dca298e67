"""The rollout controller: on every beat tick, each application in rollout that needs a look gets
one step of the pure planner (`shared/planning/rollout.py`), and the reconciles it asks for.

A desired state that waited for a pinned rollout starts once the pin is lifted or the pinned
rollout ends: the controller has the application's repository fetched again (forced), and the
fetch admits the newest state, which starts its rollout from wave 1; it does so again every
`WAITING_LOOK` until that happened (a fetch can be lost with a worker).

An application needs a look when one of its pairs wrote a status since the last tick (the
`changes` feed), when the time its planner asked to be looked at again came (the `rollouts`
sorted set: a bake's end, a progress deadline, a window closing, at most 30 s apart), or when an
operator acted on it. So a tick costs what changed, not how many rollouts there are: a thousand
applications baking cost a few reads per tick. After a restart the first tick looks at every
rollout; the state is all in Redis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from fleetsync.shared.gates import window_holds
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.rollout import Phase, Rollout, RolloutPlan
from fleetsync.shared.model.status import ChangeAction
from fleetsync.shared.planning.rollout import Observation, Situation, Step, advance
from fleetsync.shared.rollouts import application_held
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender, Trigger

log = logging.getLogger(__name__)

PAUSED_LOOK = 120.0
"""How often a paused rollout is looked at (an operator's action looks at once)."""
WAITING_LOOK = 30.0
"""How often the repository of a desired state that may start (after a pinned rollout) is
fetched again while it has not started (the fetch that starts it may have been lost)."""
PLAN_CACHE = 4096


@dataclass
class RolloutTickReport:
    looked: int = 0
    """Rollouts the planner stepped."""
    written: int = 0
    reconciles: list[tuple[str, str]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    fetches: list[str] = field(default_factory=list)
    """Applications whose waiting desired state may start: their repository is fetched again."""


class RolloutController:
    """Holds the feed position and the rollouts' plans (immutable, by rollout id) between ticks."""

    def __init__(self, store: Store, sender: Sender) -> None:
        self._store = store
        self._sender = sender
        self._position: str | None = None
        self._plans: dict[str, RolloutPlan] = {}
        self._fetched: dict[str, float] = {}
        """When the repository of each application with a waiting state was last fetched."""

    def look_at_everything(self) -> None:
        """The next tick looks at every rollout (the declaration changed)."""
        self._position = None

    def tick(self, fleet: Fleet, now: float | None = None) -> RolloutTickReport:
        store = self._store
        at = store.now() if now is None else now
        report = RolloutTickReport()
        apps = set(store.due_rollouts(at))
        changed = self._changed_apps()
        active = store.active_rollouts()
        apps |= set(active) if changed is None else changed & set(active)
        if not apps:
            return report
        wanted = sorted(apps)
        rollouts = store.rollouts(wanted)
        for app in wanted:
            rollout = rollouts.get(app)
            if rollout is None:
                store.forget_rollout(app)
                continue
            self._look(fleet, AppName(app), rollout, at, report)
        return report

    def _changed_apps(self) -> set[str] | None:
        """Applications with a pair written since the last tick; None: look at every one."""
        store = self._store
        if self._position is None:
            self._position = store.feed_position()
            return None
        apps: set[str] = set()
        while True:
            read = store.read_feed(self._position)
            self._position = read.position
            if not read.complete:
                return None
            apps.update(app for app, _ in read.pairs)
            if len(read.pairs) < 20_000:
                return apps

    def _look(
        self, fleet: Fleet, app: AppName, r: Rollout, now: float, report: RolloutTickReport
    ) -> None:
        store = self._store
        declared = fleet.applications.get(app)
        if declared is None:
            log.info("%s: no longer declared; its rollout is forgotten", app)
            store.forget_rollout(app)
            return
        if r.starts_waiting and now - self._fetched.get(app, 0.0) >= WAITING_LOOK:
            if not r.phase.in_progress and self._settled(app, r, now):
                return
            self._fetch_waiting(fleet, app, now, report)
        if not r.phase.in_progress:
            store.schedule_rollout(app, now + WAITING_LOOK if r.waiting is not None else None)
            return
        plan = self._plan(app, r)
        if plan is None:
            store.forget_rollout(app)
            return
        report.looked += 1
        policy = declared.rollout
        if policy is None:
            self._finish_without_policy(fleet, app, r, plan, now, report)
            return
        wave = plan.waves[r.wave].clusters if r.wave < len(plan.waves) else ()
        progress = store.rollout_progress(app, wave)
        reached = [c for c in wave if c in progress]
        unreached = [c for c in wave if c not in progress]
        statuses = store.statuses_of([(app, c) for c in reached])
        # A wave whose clusters were all reached may bake out in this step and hand over to
        # the next in the same step: the windows are asked about that wave's clusters too.
        ahead = (
            ()
            if unreached
            else next((w.clusters for w in plan.waves[r.wave + 1 :] if w.clusters), ())
        )
        step = advance(
            Situation(
                rollout=r,
                plan=plan,
                policy=policy,
                progress=progress,
                observed={c: _observation(s) for c, s in zip(reached, statuses, strict=True)},
                blocked=window_holds(store, fleet, app, [*unreached, *ahead], now=now),
                held=application_held(store, fleet, app),
            ),
            now,
        )
        self._apply(fleet, app, r, step, now, report)

    def _plan(self, app: AppName, r: Rollout) -> RolloutPlan | None:
        plan = self._plans.get(r.id)
        if plan is None:
            plan = self._store.rollout_plan(app)
            if plan is None:
                return None
            if len(self._plans) >= PLAN_CACHE:
                self._plans.clear()
            self._plans[r.id] = plan
        return plan

    def _apply(
        self,
        fleet: Fleet,
        app: AppName,
        r: Rollout,
        step: Step,
        now: float,
        report: RolloutTickReport,
    ) -> None:
        store = self._store
        moved = replace(step.rollout, updated_at=r.updated_at) != r
        next_check = _next_check(step, now)
        if not moved and not step.progress:
            store.schedule_rollout(app, next_check)
            self._send(app, step.reconcile, report)
            return
        saved = store.save_rollout(
            step.rollout, expected=r.version, progress=step.progress, next_check=next_check
        )
        if saved is None:
            log.info("%s: its rollout changed while the controller looked; looking again", app)
            store.look_at_rollouts([app], now)
            return
        report.written += 1
        for event in step.events:
            log.info("%s: rollout of %s: %s", app, r.revision.short, event)
            report.events.append(f"{app}: {event}")
        clusters = step.reconcile
        if saved.phase.returned:
            clusters = tuple(store.rollout_progress(app))
        self._send(app, clusters, report)
        if saved.starts_waiting and not r.starts_waiting:
            self._fetch_waiting(fleet, app, now, report)

    def _settled(self, app: AppName, r: Rollout, now: float) -> bool:
        """Whether nothing waits for the ended rollout `r` any more, because a newer desired
        state than its own was written without a rollout (its policy was removed); then its
        waiting state is cleared and it is not looked at again."""
        state = self._store.desired(app)
        if state is None or state.digest == r.digest:
            return False
        settled = replace(r, waiting=None, updated_at=now)
        self._store.save_rollout(settled, expected=r.version, next_check=None)
        return True

    def _fetch_waiting(
        self, fleet: Fleet, app: AppName, now: float, report: RolloutTickReport
    ) -> None:
        """The pinned rollout ended, or its pin was lifted: fetching the application's
        repository again admits the newest desired state, which starts its rollout."""
        declared = fleet.applications.get(app)
        if declared is None:
            return
        log.info("%s: a desired state waited for the pinned rollout; fetching it again", app)
        self._sender.fetch(declared.repository, force=True, priority=Priority.CHANGE)
        if len(self._fetched) >= PLAN_CACHE:
            self._fetched.clear()
        self._fetched[app] = now
        report.fetches.append(app)

    def _finish_without_policy(
        self,
        fleet: Fleet,
        app: AppName,
        r: Rollout,
        plan: RolloutPlan,
        now: float,
        report: RolloutTickReport,
    ) -> None:
        """The policy was removed from fleet.yaml: every cluster gets the new state now."""
        done = replace(r, phase=Phase.COMPLETE, reason="the rollout policy was removed")
        step = Step(
            rollout=done,
            reconcile=tuple(c for w in plan.waves for c in w.clusters),
            events=("the rollout policy was removed: every cluster gets the new state",),
        )
        self._apply(fleet, app, r, step, now, report)

    def _send(self, app: str, clusters: tuple[ClusterName, ...], report: RolloutTickReport) -> None:
        for cluster in clusters:
            self._sender.reconcile(app, cluster, reason=Trigger.CHANGE, priority=Priority.CHANGE)
            report.reconciles.append((app, cluster))


def _next_check(step: Step, now: float) -> float | None:
    phase = step.rollout.phase
    if phase is Phase.PAUSED:
        return now + PAUSED_LOOK
    if not phase.in_progress:
        return now + WAITING_LOOK if step.rollout.waiting is not None else None
    return max(step.next_check, now)


def _observation(status: PairStatus | None) -> Observation | None:
    if status is None:
        return None
    return Observation(
        sync=status.sync,
        health=status.health,
        digest=Digest(status.digest) if status.digest else None,
        at=status.at,
        message=status.message,
        sync_failed=status.error_object is not None
        or any(c.action is ChangeAction.FAILED for c in status.changes),
    )
