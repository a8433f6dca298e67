"""What operators do to rollouts and to the whole fleet's changes: pause, resume, promote, abort,
pin and unpin a rollout (one table, `ACTIONS`); freeze and unfreeze the fleet. Shared by the CLI
and the API; each names what it changed and enqueues what the change calls for (an aborted
rollout's clusters reconciled, back on what they ran before; a desired state that waited for a
pinned rollout fetched again, which starts its rollout).

Every write compares and sets the rollout's version, so an action never undoes the controller's
step taken meanwhile (nor the other way round): it reads again and retries.

Every action then has each target cluster looked at (a drift check, or the reconcile the action
calls for), which writes the rollout's new state into the intents' mirror in each cluster
(`shared/intents.py`): an operator's pause, promotion, abort or pin outlives a loss of Redis's
data, as far as that mirror carries the rollout's record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

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


Change = tuple[Rollout, Mapping[ClusterName, ClusterProgress], tuple[ClusterName, ...]]
"""What an action does to a rollout: the rollout, its progress entries that changed and the
clusters to reconcile."""


@dataclass(frozen=True, slots=True)
class RolloutAction:
    """One operator action on a rollout, as the CLI, the API and the web view offer it."""

    name: str
    done: str
    """What it did, in words (`paused`)."""
    help: str
    change: Callable[[Store, str, Rollout, float, str], Change]
    """(the store, the application, its rollout, now, the operator's reason) -> the change."""
    takes_reason: bool = False


def _pause(store: Store, app: str, r: Rollout, now: float, reason: str) -> Change:
    return planner.pause(r, now), {}, ()


def _promote(store: Store, app: str, r: Rollout, now: float, reason: str) -> Change:
    return planner.promote(r, now), {}, ()


def _resume(store: Store, app: str, r: Rollout, now: float, reason: str) -> Change:
    plan = store.rollout_plan(app)
    if plan is None:
        raise NoRollout(f"{app}: the rollout's plan is missing; a new commit starts another")
    done = planner.resume(r, plan, store.rollout_progress(app), now)
    return done.rollout, done.progress, done.reconcile


def _abort(store: Store, app: str, r: Rollout, now: float, reason: str) -> Change:
    done = planner.abort(r, store.rollout_progress(app), now)
    return done.rollout, done.progress, done.reconcile


def _pin(store: Store, app: str, r: Rollout, now: float, reason: str) -> Change:
    return planner.pin(r, reason, now), {}, ()


def _unpin(store: Store, app: str, r: Rollout, now: float, reason: str) -> Change:
    return planner.unpin(r, now), {}, ()


ACTIONS: dict[str, RolloutAction] = {
    a.name: a
    for a in (
        RolloutAction(
            "pause",
            "paused",
            "Stop APP's rollout where it is (every cluster keeps what it runs).",
            _pause,
        ),
        RolloutAction(
            "resume",
            "resumed",
            "Go on with APP's paused rollout (failed clusters of its wave get a new chance).",
            _resume,
        ),
        RolloutAction(
            "promote",
            "promoted",
            "Skip the rest of the current wave's bake: the next wave starts once this one is "
            "ready.",
            _promote,
        ),
        RolloutAction(
            "abort",
            "aborted",
            "Stop APP's rollout and return the clusters it reached to the previous revision.",
            _abort,
        ),
        RolloutAction(
            "pin",
            "pinned",
            "Keep APP's rollout going to its end: a newer commit waits instead of superseding "
            "it (starting again from wave 1).",
            _pin,
            takes_reason=True,
        ),
        RolloutAction(
            "unpin",
            "unpinned",
            "Lift the pin: a newer commit that waited starts its rollout from wave 1 now.",
            _unpin,
        ),
    )
}
"""Every operator action on a rollout, by name."""


def act_on_rollout(
    store: Store, sender: Sender, fleet: Fleet, app: str, action: str, *, reason: str = ""
) -> Rollout:
    """Do `action` (a name of `ACTIONS`) to `app`'s rollout: the rollout as it is now."""
    found = ACTIONS.get(action)
    if found is None:
        raise PermanentError(f"{action!r} is not a rollout action; one of: {', '.join(ACTIONS)}")
    if reason and not found.takes_reason:
        raise PermanentError(f"{app}: a reason is recorded only with pin, not with {action}")
    return _act(store, sender, fleet, app, lambda r, now: found.change(store, app, r, now, reason))


def _act(
    store: Store, sender: Sender, fleet: Fleet, app: str, action: Callable[[Rollout, float], Change]
) -> Rollout:
    """Apply `action` to the rollout, reconcile what the action calls for and have every other
    target checked (which mirrors the rollout's new state in its cluster)."""
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
        for cluster in reconcile:
            sender.reconcile(app, cluster, reason=Trigger.CHANGE, priority=Priority.MANUAL)
        for cluster in clusters:
            if cluster not in reconcile:
                sender.mirror_intents(app, cluster)
        if saved.starts_waiting:
            # The newest desired state waited for this rollout: fetching it again starts it.
            sender.fetch(fleet.applications[AppName(app)].repository, force=True)
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
