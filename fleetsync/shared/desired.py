"""Which desired state one (application, cluster) pair runs: the one place that choice is made.

Every reader of "what should this cluster run" asks here: the reconcile (what to apply, and
whether a look-only check is behind Git), the read model and the tasks' fan-out. The rules, in
order:

1. an operator's rollback pin: the revision the operator chose, until `resume` (for an
   application with per-cluster variants, the bundle each cluster had at that revision);
2. a progressive rollout: a cluster the rollout of the application's latest desired state has
   not reached yet keeps what it ran before the rollout started (recorded then), and so does
   every cluster once the rollout was rolled back or aborted (`Because.HELD`);
3. the state the latest render gives this cluster (`latest_for_pair`): the application's bundle,
   or, for an application with per-cluster variants (`DesiredState.variants`), the cluster's own
   bundle (`app:<name>:variants`).

So that each rule has one home, a new rule is added here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from fleetsync.shared.model.desired import DesiredState, Pin, Variant
from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import Held, Phase, Rollout
from fleetsync.shared.store import Store


class Because(StrEnum):
    """Why a pair runs the state it runs."""

    GIT = "git"
    """The latest render of what Git declares."""
    PIN = "pin"
    """An operator's rollback pin."""
    HELD = "held"
    """A rollout holds the cluster on what it ran before (not reached yet, or undone)."""


@dataclass(frozen=True, slots=True)
class PairDesired:
    revision: Revision
    digest: Digest
    because: Because = Because.GIT
    note: str = ""
    """Why, in words, when it is not simply Git's latest."""
    render_error: str = ""
    """The latest render failed for this cluster alone (per-cluster variants): the pair keeps
    running this state, and its status says why it is behind."""


def desired_for_pair(store: Store, app: AppName, cluster: ClusterName) -> PairDesired | None:
    """What the pair should run now; None while nothing was rendered for it yet, or while a
    rollout holds a cluster that ran nothing before it (see `held_without_state`)."""
    pin = store.pin(app)
    if pin is not None:
        return _pinned(pin, cluster) or _unpinned(pin, latest_for_pair(store, app, cluster))
    rollout, reached, previous, known = store.rollout_hold(app, cluster)
    latest = latest_for_pair(store, app, cluster)
    if rollout is None or latest is None:
        return latest
    return _choose(
        rollout, store.desired(app), latest, reached=reached, previous=previous, known=known
    )


def desired_for_pairs(
    store: Store, app: AppName, clusters: Sequence[ClusterName]
) -> dict[ClusterName, PairDesired | None]:
    """`desired_for_pair` of many clusters of one application, reading each key once."""
    pin = store.pin(app)
    latest = latest_for_pairs(store, app, clusters)
    if pin is not None:
        return {c: _pinned(pin, c) or _unpinned(pin, latest[c]) for c in clusters}
    rollout = store.rollout(app)
    if rollout is None or rollout.phase is Phase.COMPLETE:
        return latest
    state = store.desired(app)
    reached = store.rollout_progress(app, clusters)
    previous = store.rollout_previous(app, clusters)
    choice: dict[ClusterName, PairDesired | None] = {}
    for c in clusters:
        found = latest[c]
        choice[c] = found and _choose(
            rollout,
            state,
            found,
            reached=c in reached,
            previous=previous.get(c),
            known=c in previous,
        )
    return choice


def _pinned(pin: Pin, cluster: ClusterName) -> PairDesired | None:
    """What an operator's rollback pins the cluster to (its own bundle, for an application
    with per-cluster variants); None when the pin has nothing for it."""
    own = pin.for_cluster(cluster)
    if own is None:
        return None
    return PairDesired(revision=own.revision, digest=own.digest, because=Because.PIN)


def _unpinned(pin: Pin, latest: PairDesired | None) -> PairDesired | None:
    """A cluster a per-cluster rollback has nothing for (added to the targets since): it keeps
    Git's latest, and says why."""
    if latest is None:
        return None
    note = f"not rolled back: this cluster did not run {pin.revision}"
    return replace(latest, note=note)


def held_without_state(store: Store, app: AppName, cluster: ClusterName) -> str | None:
    """Why a rollout keeps a cluster that ran nothing before it on nothing, or None."""
    if store.pin(app) is not None:
        return None
    rollout, reached, previous, known = store.rollout_hold(app, cluster)
    if rollout is None or previous is not None or not known:
        return None
    if rollout.phase.returned:
        short = rollout.revision.short
        return f"the rollout of {short} was undone ({rollout.phase}): {rollout.reason}"
    if not reached and rollout.phase is not Phase.COMPLETE:
        if rollout.after_loss:
            return (
                f"the rollout of {rollout.revision.short} has not reached this cluster yet; "
                "Redis lost its data before it started, so what the cluster runs is not known: "
                "it is left as it is, unchecked, until the rollout reaches it"
            )
        return f"the rollout of {rollout.revision.short} has not reached this cluster yet"
    return None


def _choose(
    rollout: Rollout,
    state: DesiredState | None,
    latest: PairDesired,
    *,
    reached: bool,
    previous: Held | None,
    known: bool,
) -> PairDesired | None:
    """The rollout's rule for one cluster (see the module's docstring)."""
    if rollout.phase is Phase.COMPLETE or not known:
        return latest
    carried = state is not None and state.digest == rollout.digest
    if reached and carried and not rollout.phase.returned:
        return latest
    if previous is None:
        return None
    if rollout.phase.returned:
        note = (
            f"held at {previous.revision.short}: the rollout of {rollout.revision.short} was undone"
        )
    else:
        note = (
            f"held at {previous.revision.short} until the rollout of "
            f"{rollout.revision.short} reaches it"
        )
    return PairDesired(
        revision=previous.revision, digest=previous.digest, because=Because.HELD, note=note
    )


def latest_for_pair(store: Store, app: AppName, cluster: ClusterName) -> PairDesired | None:
    """What the latest render gives the pair, whatever holds it back (what a suspended or
    pinned pair is behind); None while nothing was rendered for it yet."""
    state = store.desired(app)
    if state is None:
        return None
    if state.variants:
        return _own(store.variant(app, cluster))
    return PairDesired(revision=state.revision, digest=state.digest)


def latest_for_pairs(
    store: Store, app: AppName, clusters: Sequence[ClusterName]
) -> dict[ClusterName, PairDesired | None]:
    """`latest_for_pair` of many clusters of one application, reading each key once."""
    state = store.desired(app)
    if state is not None and state.variants:
        own = store.variants(app, clusters)
        return {c: _own(own.get(c)) for c in clusters}
    found = PairDesired(revision=state.revision, digest=state.digest) if state else None
    return dict.fromkeys(clusters, found)


def _own(variant: Variant | None) -> PairDesired | None:
    """A cluster's own bundle as the pair's desired state; None when it never had one."""
    if variant is None or not variant.digest:
        return None
    error = variant.failed.describe() if variant.failed else ""
    return PairDesired(revision=variant.revision, digest=variant.digest, render_error=error)
