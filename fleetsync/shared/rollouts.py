"""Starting a progressive rollout, and what a running one lets through.

A rollout starts when an application with a rollout policy gets a new desired state (or when the
operator resumes it after a rollback): `admit_desired` runs before the new state is written
(`fetch_repository`), so no reconcile can apply the new state to a cluster the rollout has not
reached. It records what each target cluster runs (`desired_for_pairs`, before the write), fixes
the waves (`planning/waves.py`) and reaches the first clusters of wave 1 (`planning/rollout.py`),
all in one transaction; the beat's controller (`scheduler/rollouts.py`) takes it from there.

A newer state supersedes the running rollout (starts again from wave 1) unless the operator
pinned it (`fleetsync rollout pin`): then the newer state is not written at all. It waits,
recorded in the pinned rollout, and the beat's controller has the repository fetched again once
the pin is lifted or the pinned rollout ends; that fetch admits the newest state, which starts.

The first desired state of an application goes everywhere at once: nothing ran before it. Not
so the first one after Redis lost its data (`note_loss`, by the beat): what the clusters run is
then unknown to Redis, so it is rolled out from wave 1 all the same (`Rollout.after_loss`), the
clusters it has not reached left as they are, untouched, and each target's reconcile reads the
operators' intents back from its cluster first (a rollout read back replaces this one).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from fleetsync.shared.desired import desired_for_pairs
from fleetsync.shared.errors import TransientError
from fleetsync.shared.gates import window_holds
from fleetsync.shared.model.declaration import Fleet, RolloutPolicy
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import Held, Pinned, Rollout, RolloutPlan, Waiting
from fleetsync.shared.planning import rollout as planner
from fleetsync.shared.planning.rollout import Arrival, Situation, advance
from fleetsync.shared.planning.waves import assign_waves
from fleetsync.shared.store import Store

log = logging.getLogger(__name__)


ATTEMPTS = 10


def admit_desired(store: Store, fleet: Fleet, app: AppName, state: DesiredState) -> bool:
    """Whether `state` may become `app`'s desired state now, its rollout started where it needs
    one (`begin_rollout`). False while the operator pins the running rollout of another state:
    `state` then waits, recorded in that rollout, and the caller does not write it; it starts
    from wave 1 once unpinned or when the pinned rollout ends (the beat fetches it again)."""
    return _begin(store, fleet, app, state, restart=False)[0]


def begin_rollout(
    store: Store, fleet: Fleet, app: AppName, state: DesiredState, *, restart: bool = False
) -> Rollout | None:
    """Start the rollout of `state`, about to become `app`'s desired state, unless the
    application has no rollout policy, `state` is what it already has, nothing ran before, or
    that rollout is already under way. `restart` starts it again from wave 1 even so (keeping
    the operator's pin of it). The rollout under way, or None."""
    return _begin(store, fleet, app, state, restart=restart)[1]


def _begin(
    store: Store, fleet: Fleet, app: AppName, state: DesiredState, *, restart: bool
) -> tuple[bool, Rollout | None]:
    """(whether `state` may be written, the rollout under way)."""
    declared = fleet.applications.get(app)
    policy = declared.rollout if declared is not None else None
    current = store.desired(app)
    if policy is None:
        return True, None  # no rollout: it goes everywhere as it is
    if current is None:
        if not store.restoring(app):
            return True, None  # the first desired state: nothing ran before it
        for _ in range(ATTEMPTS):
            started = _begin_after_loss(store, fleet, app, policy, state)
            if started is not None:
                store.end_restoring(app)
                return True, started
        raise TransientError(f"{app}: its rollout kept changing while Redis's state came back")
    for _ in range(ATTEMPTS):
        done = _begin_once(store, fleet, app, policy, current, state, restart=restart)
        if done is not None:
            return done
    raise TransientError(f"{app}: its rollout kept changing while a new desired state arrived")


def _begin_once(
    store: Store,
    fleet: Fleet,
    app: AppName,
    policy: RolloutPolicy,
    current: DesiredState,
    state: DesiredState,
    *,
    restart: bool,
) -> tuple[bool, Rollout | None] | None:
    """One attempt; None when the rollout changed meanwhile (try again)."""
    existing = store.rollout(app)
    now = store.now()
    if current.digest == state.digest and not restart:
        # Nothing new (or a commit back to the pinned state): nothing waits any more.
        settled = planner.settle(existing, now)
        if settled is not None and not _save(store, settled, existing):
            return None
        return True, None
    admission = planner.admit(existing, state.revision, state.digest, now, restart=restart)
    if admission.arrival is not Arrival.START:
        if admission.running is not None and not _save(store, admission.running, existing):
            return None
        waits = admission.arrival is Arrival.WAITS
        if waits and admission.running is not None and existing is not None:
            log.info(
                "%s: %s waits: the operator pinned the rollout of %s",
                app,
                state.revision.short,
                existing.revision.short,
            )
        return not waits, admission.running or existing
    targets = fleet.targets_of(app)
    before = desired_for_pairs(store, app, targets)
    previous = {
        c: Held(revision=d.revision, digest=d.digest) if d is not None else None
        for c, d in before.items()
    }
    # After a loss, a cluster held on nothing may run anything: the next rollout holds it too.
    after_loss = existing is not None and existing.after_loss and not all(previous.values())
    if not any(previous.values()) and not after_loss:
        if existing is not None:
            store.forget_rollout(app)
        return True, None
    common = Counter(h.revision for h in previous.values() if h is not None).most_common(1)
    started = _start(
        store,
        fleet,
        app,
        policy,
        state,
        previous,
        replacing=existing.version if existing is not None else 0,
        template=_new_rollout(
            app,
            state,
            now,
            previous=common[0][0] if common else None,
            pinned=admission.pinned,
            waiting=admission.waiting,
            after_loss=after_loss,
        ),
    )
    if started is None:
        return None
    if existing is not None and existing.phase.in_progress:
        log.info("%s: superseding the rollout of %s", app, existing.revision.short)
    return True, started


def _begin_after_loss(
    store: Store, fleet: Fleet, app: AppName, policy: RolloutPolicy, state: DesiredState
) -> Rollout | None:
    """The first desired state since Redis lost its data: rolled out from wave 1 like any new
    state, every cluster it has not reached yet kept on whatever it runs (unknown to Redis; a
    rollout read back from a cluster's mirror replaces this one). None when a rollout was
    written meanwhile (try again)."""
    existing = store.rollout(app)
    if existing is not None and not existing.after_loss:
        # Read back from a cluster's mirror already (a reconcile reads mirrors only once the
        # application has a desired state, so not expected): that rollout holds the clusters.
        return existing
    now = store.now()
    return _start(
        store,
        fleet,
        app,
        policy,
        state,
        dict.fromkeys(fleet.targets_of(app)),
        replacing=existing.version if existing is not None else 0,
        template=_new_rollout(app, state, now, after_loss=True),
    )


def _new_rollout(
    app: AppName,
    state: DesiredState,
    now: float,
    *,
    previous: Revision | None = None,
    pinned: Pinned | None = None,
    waiting: Waiting | None = None,
    after_loss: bool = False,
) -> Rollout:
    """A rollout of `state` under a new id, started `now`, its waves not planned yet."""
    return Rollout(
        id=uuid.uuid4().hex[:12],
        application=app,
        revision=state.revision,
        digest=state.digest,
        started_at=now,
        waves=0,
        previous=previous,
        pinned=pinned,
        waiting=waiting,
        after_loss=after_loss,
    )


def _start(
    store: Store,
    fleet: Fleet,
    app: AppName,
    policy: RolloutPolicy,
    state: DesiredState,
    previous: dict[ClusterName, Held | None],
    *,
    replacing: int,
    template: Rollout,
) -> Rollout | None:
    """Write `template` (its waves planned here) as the rollout of `state` over `previous` and
    take its first step, unless the stored rollout is no longer at version `replacing` (None:
    decide again)."""
    targets = fleet.targets_of(app)
    now = template.started_at
    plan = RolloutPlan(assign_waves(policy, {c: fleet.clusters[c].labels for c in targets}))
    rollout = replace(template, waves=len(plan.waves), wave_started_at=now)
    step = advance(
        Situation(
            rollout=rollout,
            plan=plan,
            policy=policy,
            progress={},
            blocked=window_holds(store, fleet, app, targets, now=now),
            held=application_held(store, fleet, app),
        ),
        now,
    )
    started = store.start_rollout(step.rollout, plan, previous, step.progress, replacing=replacing)
    if started is None:
        return None
    log.info(
        "%s: rollout of %s started over %d clusters in %d waves (%s)%s",
        app,
        state.revision.short,
        len(targets),
        len(plan.waves),
        ", ".join(f"{w.name}: {len(w.clusters)}" for w in plan.waves),
        "; Redis had lost its data: the clusters not reached keep what they run"
        if started.after_loss
        else "",
    )
    for event in step.events:
        log.info("%s: rollout: %s", app, event)
    return started


def _save(store: Store, changed: Rollout, existing: Rollout | None) -> bool:
    """Write the running rollout's waiting state (compare and set); False when it changed."""
    assert existing is not None
    now = store.now()
    return (
        store.save_rollout(
            changed,
            expected=existing.version,
            next_check=now if changed.phase.in_progress or changed.waiting else None,
        )
        is not None
    )


def application_held(store: Store, fleet: Fleet, app: AppName) -> str | None:
    """Why a rollout of `app` does not move whatever its clusters do, or None."""
    pin = store.pin(app)
    if pin is not None:
        return f"rolled back to {pin.revision.short} by the operator; `fleetsync resume` goes on"
    if store.is_suspended(app):
        return "the application is suspended; `fleetsync resume` goes on"
    declared = fleet.applications.get(app)
    if declared is not None and not declared.sync.automated:
        return "automated sync is off: the reached clusters only report the new state"
    return None


def reconcile_now(store: Store, app: AppName, clusters: Sequence[ClusterName]) -> list[ClusterName]:
    """Of `clusters`, whose desired state changed, those to reconcile now: all of them unless a
    rollout in progress holds some back (it reconciles them as it reaches them). All of them
    too for a rollout started after a loss of Redis's data: the reconcile of a cluster held
    back reads the operators' intents back from its mirror, and changes nothing else."""
    rollout = store.rollout(app)
    if rollout is None or not rollout.phase.in_progress or rollout.after_loss:
        return list(clusters)
    reached = store.rollout_progress(app, clusters)
    return [c for c in clusters if c in reached]
