"""Operators' intents that outlive Redis: each reconcile keeps the application's intents
(suspension, a rollback pin) mirrored in the pair's cluster (`kube.intents`), and reads them
back from there when Redis lost them.

Redis stays the authority while it keeps its data: an operator's `resume` clears the intents,
and the next reconcile of each target clears its mirror. A mirror written in an earlier life of
Redis (another `epoch`: Redis lost everything and started again) whose intents are newer than
what Redis knows, and Redis knows nothing an operator set since, is read back into Redis before
the reconcile chooses what to run: a pinned application stays on its pin (its bundle comes back
with it when it fit in the mirror), a suspended one stays suspended. When two clusters' mirrors
disagree (one was unreachable when an operator changed them), the later intents win.

A rollout under way or undone is mirrored with the intents (its record, whatever fields it has,
its plan, and which clusters it reached: a `RolloutSnapshot`), with the bundle the pair is held
at (a pin's, or what the rollout keeps the cluster on). After a loss, a rollout of the state Git
gives the application again is read back before the reconcile chooses: a paused rollout stays
paused, the clusters it had not reached stay on what they ran, an aborted one stays undone. A
rollout the operator pinned comes back even when Git has moved on meanwhile: its state becomes
the application's desired state again and Git's latest waits for it, as it did before the loss
(`rollout unpin`, or the pinned rollout's end, starts it from wave 1). Its bundle comes from the
mirrors of the clusters it reached: while a rollout is pinned, they keep the bundle they run
too. A mirror's bundle is taken only whole and with its digest (`kube.intents`); what the mirror
could not keep (a bundle over its bound) is said in the pair's status.

A pair with nothing to run (a rollout started after the loss has not reached it) or whose bundle
Redis lacks reads its mirror too, so every target's mirror is read back as soon as the fetch
after the loss has the application's targets reconciled.

A reconcile reads the mirror only when the pair's last write of it is not known to match what
Redis holds (`intents_mirrored`, forgotten with the rest of Redis's data): one Redis round trip
in the steady state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from fleetsync.shared.desired import Because, desired_for_pair
from fleetsync.shared.kube import ClusterClient
from fleetsync.shared.kube.intents import MirroredIntents, read_intents, write_intents
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import Rollout, Waiting
from fleetsync.shared.model.rollout_snapshot import RolloutSnapshot
from fleetsync.shared.store import IntentsView, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Kept:
    restored: bool
    """What Redis holds was read back from a mirror (by this call or another since the loss):
    the caller chooses what to run again."""
    note: str = ""
    """What the cluster's mirror could not keep, for the pair's status ("" when all of it)."""


def keep_intents(store: Store, client: ClusterClient, app: AppName, cluster: ClusterName) -> Kept:
    """Bring the cluster's mirror and Redis together (see the module docstring)."""
    view = store.intents_view(app, cluster)
    if view.mirrored == view.fingerprint():
        return Kept(view.restored, view.mirror_note)
    mirror = read_intents(client, app)
    restored = False
    if mirror is not None and mirror.epoch != view.epoch:
        restored = _read_back(store, mirror, view, app, cluster)
        # Taken or not, what Redis holds now: another cluster's reconcile may have read back
        # the same intents (or later ones) since this one looked.
        view = store.intents_view(app, cluster)
    want = view.fingerprint()
    note = view.mirror_note
    if _held_fingerprint(mirror) != want and (mirror is not None or view.any):
        note = (
            write_intents(
                client,
                app,
                epoch=view.epoch,
                intents=view.intents,
                bundle=_held_bundle(store, app, cluster),
                rollout=store.rollout_snapshot(app) if view.rollout else None,
                had_parts=mirror.parts if mirror is not None else 0,
            )
            or ""
        )
    store.note_mirrored(app, cluster, want, note=note)
    return Kept(restored or view.restored, note)


def mirror_current(store: Store, app: AppName, cluster: ClusterName) -> bool:
    """Whether the pair's cluster mirror is known to hold what Redis holds (nothing to read
    back from it, nothing to write): answered from Redis alone."""
    view = store.intents_view(app, cluster)
    return view.mirrored == view.fingerprint()


def _read_back(
    store: Store, mirror: MirroredIntents, view: IntentsView, app: AppName, cluster: ClusterName
) -> bool:
    """Take what a mirror of an earlier life of Redis holds, where Redis has nothing newer;
    whether the reconcile must choose again."""
    restored = False
    if (view.intents.at == 0.0 or view.restored) and mirror.intents.at > view.intents.at:
        restored = store.restore_intents(app, mirror.intents)
        if restored:
            pin = mirror.intents.pin
            log.warning(
                "%s: Redis had lost its operators' intents; read back from cluster %s: %s",
                app,
                cluster,
                ", ".join(
                    ([f"rolled back to {pin.revision}"] if pin else [])
                    + (["suspended"] if mirror.intents.suspended else [])
                )
                or "none (resumed)",
            )
    snapshot = mirror.rollout
    state = store.desired(app)
    if mirror.bundle is not None:
        # Into Redis whatever this process's bundle cache holds: other processes have no copy.
        # Before the rollout: a reconcile that chooses it then finds its bundle.
        store.put_bundle(mirror.bundle)
    if snapshot is not None and state is not None:
        back = None
        if state.digest == snapshot.digest:
            back = store.restore_rollout(app, snapshot)
        elif _pinned_in_progress(snapshot) and not state.variants:
            # Git moved on while the operator pinned this rollout: it comes back with its pin,
            # as the application's desired state, and Git's latest waits for it, as it did.
            back = store.restore_rollout(
                app,
                _waiting_for(snapshot, state, store.now()),
                desired=_pinned_state(snapshot, state),
            )
        if back:
            log.warning(
                "%s: Redis had lost its rollout of %s; read back from cluster %s: %s, wave %s%s",
                app,
                snapshot.record.get("revision"),
                cluster,
                snapshot.record.get("phase"),
                int(snapshot.record.get("wave") or 0) + 1,
                f", pinned; {state.revision} waits for it"
                if state.digest != snapshot.digest
                else "",
            )
        if back is not None:
            restored = True  # the view now holds the rollout Redis has, whoever read it back
    return restored


def _pinned_in_progress(snapshot: RolloutSnapshot) -> bool:
    """Whether the mirrored rollout was pinned by an operator and not over."""
    try:
        rollout = Rollout.from_json(snapshot.record)
    except (KeyError, ValueError, TypeError):
        return False
    return rollout.pinned is not None and rollout.phase.in_progress


def _waiting_for(snapshot: RolloutSnapshot, latest: DesiredState, now: float) -> RolloutSnapshot:
    """The pinned rollout with Git's latest state recorded as what waits for it (since when it
    waited, if the mirror already said so)."""
    record = dict(snapshot.record)
    held = record.get("waiting") or {}
    if held.get("digest") != latest.digest:
        record["waiting"] = Waiting(latest.revision, latest.digest, now).to_json()
    return replace(snapshot, record=record)


def _pinned_state(snapshot: RolloutSnapshot, latest: DesiredState) -> DesiredState:
    """The application's desired state while its pinned rollout runs: the rollout's."""
    revision = Revision.parse(str(snapshot.record["revision"]))
    return DesiredState(
        revision=revision,
        digest=Digest(snapshot.digest),
        renderer=latest.renderer,
        rendered_at=float(snapshot.record.get("started_at") or latest.rendered_at),
        observed=revision,
    )


def _held_fingerprint(mirror: MirroredIntents | None) -> str | None:
    """The fingerprint of what the mirror holds (`IntentsView.fingerprint`'s form)."""
    if mirror is None:
        return None
    mark = mirror.rollout.mark if mirror.rollout is not None else ""
    return f"{mirror.intents.fingerprint(mirror.epoch)}|{mark}"


def _held_bundle(store: Store, app: AppName, cluster: ClusterName) -> Bundle | None:
    """The bundle the pair is held at, away from Git's latest (a pin, or a rollout's hold), or
    that Git may move away from while the pair stays on it (the state of a rollout the operator
    pinned: a newer commit waits for it)."""
    chosen = desired_for_pair(store, app, cluster)
    if chosen is None:
        return None
    if chosen.because is Because.GIT:
        rollout = store.rollout(app)
        if rollout is None or rollout.pinned is None or not rollout.phase.in_progress:
            return None
    return store.get_bundle(chosen.digest)
