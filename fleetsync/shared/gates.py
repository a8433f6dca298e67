"""Whether an (application, cluster) pair may change now: change windows, the freeze, and the
applications it depends on.

- Windows and the freeze (`planning/windows.py`) hold automated syncs (a new desired state, a
  newly targeted cluster) and rollout steps; self-heal too unless the window allows it; a manual
  sync only where the window says `manualSync: true` (`fleetsync freeze --manual-sync`).
- `dependsOn`: a pair applies a new desired state only once each application it depends on is
  Synced and Healthy on that cluster at its own current desired state (a dependency that does
  not target the cluster is not waited for there).

A held pair is still checked for drift and reports it; its status says what it waits for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleetsync.shared.desired import desired_for_pair
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.planning.windows import Hold, hold_for
from fleetsync.shared.store import Store

DEPENDENCY_RECHECK = 5.0
"""Seconds between looks at the applications a waiting pair depends on."""
WINDOW_RECHECK = 300.0
"""The longest a change held by a window waits before it looks again (it looks again when the
window closes, if that is sooner)."""


@dataclass(frozen=True, slots=True)
class Wait:
    """A change that may not happen now: why, and when to look again (None: when the next
    trigger comes)."""

    reason: str
    again_in: float | None


def window_hold(
    store: Store, fleet: Fleet, app: str, cluster: str, *, now: float | None = None
) -> Hold | None:
    """The window or freeze holding changes of the pair now, or None."""
    declared = fleet.clusters.get(ClusterName(cluster))
    labels = declared.labels if declared is not None else {}
    return hold_for(fleet.windows, store.freeze(), app, labels, store.now() if now is None else now)


def window_holds(
    store: Store, fleet: Fleet, app: str, clusters: Sequence[str], *, now: float
) -> dict[ClusterName, Hold]:
    """`window_hold` of many clusters of one application (the freeze read once)."""
    freeze = store.freeze()
    if freeze is None and not fleet.windows:
        return {}
    found = {}
    by_labels: dict[tuple[tuple[str, str], ...], Hold | None] = {}
    for cluster in clusters:
        declared = fleet.clusters.get(ClusterName(cluster))
        labels = declared.labels if declared is not None else {}
        key = tuple(sorted(labels.items()))
        if key not in by_labels:  # what holds a pair depends on the cluster's labels only
            by_labels[key] = hold_for(fleet.windows, freeze, app, labels, now)
        hold = by_labels[key]
        if hold is not None:
            found[ClusterName(cluster)] = hold
    return found


def change_wait(
    store: Store,
    fleet: Fleet,
    app: AppName,
    cluster: ClusterName,
    *,
    trigger: Trigger,
    changing: bool,
) -> Wait | None:
    """Why the pair may not apply now, or None. `changing`: the apply would bring a new
    desired state (not only correct drift)."""
    now = store.now()
    hold = window_hold(store, fleet, app, cluster, now=now)
    if hold is not None:
        allowed = (
            hold.manual_sync
            if trigger is Trigger.MANUAL
            else (hold.self_heal and not changing and trigger is Trigger.DRIFT)
        )
        if not allowed:
            again = None
            if trigger is not Trigger.DRIFT:
                left = (hold.until - now + 1.0) if hold.until is not None else WINDOW_RECHECK
                again = min(max(left, 1.0), WINDOW_RECHECK)
            return Wait(hold.reason, again)
    if changing:
        waiting = dependency_wait(store, fleet, app, cluster)
        if waiting is not None:
            return Wait(waiting, DEPENDENCY_RECHECK)
    return None


def dependency_wait(store: Store, fleet: Fleet, app: AppName, cluster: ClusterName) -> str | None:
    """What the pair waits for among the applications it depends on, or None."""
    declared = fleet.applications.get(app)
    if declared is None:
        return None
    for dep in declared.depends_on:
        if dep not in fleet.applications or cluster not in fleet.targets_of(dep):
            continue
        want = desired_for_pair(store, dep, cluster)
        status = store.status(dep, cluster)
        prefix = f"waiting for {dep} on {cluster}"
        if want is None:
            return f"{prefix}: it has no desired state yet"
        if status is None:
            return f"{prefix}: not reconciled yet"
        if status.digest != want.digest:
            runs = status.revision.short if status.revision else "nothing"
            return f"{prefix}: it runs {runs}, not {want.revision.short} yet"
        if status.sync is not SyncState.SYNCED or status.health is not Health.HEALTHY:
            return f"{prefix}: it is {status.sync}/{status.health}" + (
                f" ({status.message})" if status.message else ""
            )
    return None
