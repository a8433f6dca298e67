"""What operators do to rollouts and to the whole fleet's changes: pause, resume, promote and abort
a rollout; freeze and unfreeze the fleet. Shared by the CLI and the API; each names what it
changed and enqueues what the change calls for (an aborted rollout's clusters reconciled, back on
what they ran before).

Every write compares and sets the rollout's version, so an action never undoes the controller's
step taken meanwhile (nor the other way round): it reads again and retries.

Every action then has each target cluster looked at (a drift check, or the reconcile the action
calls for), which writes the rollout's new state into the intents' mirror in each cluster
(`shared/intents.py`): an operator's pause, promotion or abort outlives a loss of Redis's data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.rollout import ClusterProgress, Rollout
from fleetsync.shared.planning import rollout as planner
from fleetsync.shared.planning.windows import Freeze
from fleetsync.shared.reconcile import targets
from fleetsync.shared.rollouts import begin_rollout
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender, Trigger

ATTEMPTS = 10


class NoRollout(PermanentError):
    """The application has no rollout (in progress) for the action."""


def pause_rollout(store: Store, sender: Sender, fleet: Fleet, app: str) -> Rollout:
    return _act(store, fleet, app, lambda r, now: (planner.pause(r, now), {}, ()), sender=sender)


def promote_rollout(store: Store, sender: Sender, fleet: Fleet, app: str) -> Rollout:
    return _act(store, fleet, app, lambda r, now: (planner.promote(r, now), {}, ()), sender=sender)


def resume_rollout(store: Store, sender: Sender, fleet: Fleet, app: str) -> Rollout:
    def step(
        r: Rollout, now: float
    ) -> tuple[Rollout, Mapping[ClusterName, ClusterProgress], tuple[ClusterName, ...]]:
        plan = store.rollout_plan(app)
        if plan is None:
            raise NoRollout(f"{app}: the rollout's plan is missing; a new commit starts another")
        done = planner.resume(r, plan, store.rollout_progress(app), now)
        return done.rollout, done.progress, done.reconcile

    return _act(store, fleet, app, step, sender=sender)


def abort_rollout(store: Store, sender: Sender, fleet: Fleet, app: str) -> Rollout:
    def step(
        r: Rollout, now: float
    ) -> tuple[Rollout, Mapping[ClusterName, ClusterProgress], tuple[ClusterName, ...]]:
        done = planner.abort(r, store.rollout_progress(app), now)
        return done.rollout, done.progress, done.reconcile

    return _act(store, fleet, app, step, sender=sender)


Action = Callable[
    [Rollout, float],
    tuple[Rollout, Mapping[ClusterName, ClusterProgress], tuple[ClusterName, ...]],
]


def _act(
    store: Store, fleet: Fleet, app: str, action: Action, *, sender: Sender | None = None
) -> Rollout:
    """Apply `action` to the rollout; with a `sender`, reconcile what the action calls for and
    have every other target checked (which mirrors the rollout's new state in its cluster)."""
    clusters = targets(fleet, app)
    for _ in range(ATTEMPTS):
        current = store.rollout(app)
        if current is None:
            raise NoRollout(
                f"{app}: no rollout in progress (none was started: the application "
                "has no rollout policy, or no new desired state came since it has)"
            )
        now = store.now()
        try:
            changed, progress, reconcile = action(current, now)
        except planner.RolloutError as exc:
            raise NoRollout(str(exc)) from exc
        saved = store.save_rollout(
            changed, expected=current.version, progress=progress, next_check=now
        )
        if saved is None:
            continue
        if sender is not None:
            for cluster in reconcile:
                sender.reconcile(app, cluster, reason=Trigger.CHANGE, priority=Priority.MANUAL)
            for cluster in clusters:
                if cluster not in reconcile:
                    sender.mirror_intents(app, cluster)
        if not saved.phase.in_progress:
            store.schedule_rollout(app, now)
        return saved
    raise PermanentError(f"{app}: its rollout kept changing; try again")


def freeze(store: Store, *, reason: str, manual_sync: bool = False) -> Freeze:
    """Hold every automated change of the fleet (drift is still reported) until `unfreeze`."""
    frozen = Freeze(reason=reason.strip()[:500], at=store.now(), manual_sync=manual_sync)
    store.set_freeze(frozen)
    store.look_at_rollouts(store.active_rollouts(), frozen.at)
    return frozen


def unfreeze(store: Store) -> Freeze | None:
    """End the freeze; rollouts go on at their next look (at once)."""
    was = store.freeze()
    store.set_freeze(None)
    now = store.now()
    store.look_at_rollouts(store.active_rollouts(), now)
    return was


def restart_rollout(store: Store, fleet: Fleet, app: AppName) -> Rollout | None:
    """After a rollback pin: roll the latest desired state out again from wave 1, from what the
    clusters run now (the pinned revision). None when the application has no rollout policy or
    nothing to roll out."""
    state = store.desired(app)
    if state is None:
        return None
    return begin_rollout(store, fleet, app, state, restart=True)
