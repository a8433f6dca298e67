"""What operators ask for by hand: sync now, roll back, suspend, resume. Shared by the CLI and
the API; each validates names against the published declaration and enqueues manual work."""

from __future__ import annotations

from dataclasses import dataclass

from fleetsync.scheduler.rollout_ops import restart_rollout
from fleetsync.shared.errors import PermanentError
from fleetsync.shared.gates import window_hold
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.reconcile import targets
from fleetsync.shared.store import Pin, Store
from fleetsync.shared.tasking import Priority, Sender, Trigger


@dataclass(frozen=True, slots=True)
class Enqueued:
    cluster: str
    queued: bool
    """False when a reconcile for the pair was already queued (it will apply the same state)."""
    refused: str | None = None
    """Why a manual sync was refused (a change window or the freeze without manualSync)."""


def request_sync(
    sender: Sender,
    fleet: Fleet,
    app: str,
    cluster: str | None = None,
    *,
    trigger: Trigger = Trigger.MANUAL,
    store: Store | None = None,
) -> list[Enqueued]:
    """Reconcile the application's targets (or one) now. A manual sync (with the `store` to
    read the freeze from) is refused on clusters where a change window or the freeze holds
    changes and does not allow manual syncs."""
    done = []
    for c in targets(fleet, app, cluster):
        hold = window_hold(store, fleet, app, c) if store and trigger is Trigger.MANUAL else None
        if hold is not None and not hold.manual_sync:
            done.append(Enqueued(c, False, f"{hold.reason}; it does not allow manual syncs"))
            continue
        done.append(Enqueued(c, sender.reconcile(app, c, reason=trigger, priority=Priority.MANUAL)))
    return done


MIN_SHA_PREFIX = 4


def find_revision(store: Store, fleet: Fleet, app: str, wanted: str) -> Pin:
    """A pin to the newest revision in `app`'s history (any cluster) that is `wanted`: a full
    `ref@sha1:<sha>`, a commit sha, or a unique sha prefix of at least 4 hex digits; for a chart,
    `name@version`, its full form or a prefix of its digest."""
    entries = [
        h for c in targets(fleet, app) for h in store.history(app, c) if h.digest and h.revision
    ]
    entries.sort(key=lambda h: h.at, reverse=True)
    text = wanted.strip()
    matches = [
        e
        for e in entries
        if e.revision is not None and e.revision.named_by(text, min_prefix=MIN_SHA_PREFIX)
    ]
    commits = list(dict.fromkeys(m.revision.sha for m in matches if m.revision))
    if len(commits) > 1:
        raise PermanentError(
            f"{app}: revision {wanted!r} is ambiguous: "
            + ", ".join(dict.fromkeys(str(m.revision) for m in matches))
            + "; give more of the sha"
        )
    for m in matches:
        if m.revision is not None and m.digest is not None:
            return Pin(revision=m.revision, digest=m.digest, at=store.now())
    seen = list(dict.fromkeys(str(h.revision) for h in entries))[:10]
    raise PermanentError(
        f"{app}: revision {wanted!r} is not in its history; revisions it ran: "
        + (", ".join(seen) or "none")
    )


def rollback(
    store: Store, sender: Sender, fleet: Fleet, app: str, to: str
) -> tuple[Pin, list[Enqueued]]:
    """Apply a previous revision's bundle everywhere and suspend automated sync, so the next
    commit does not undo the rollback. `resume` returns the application to Git."""
    declared = fleet.applications.get(AppName(app))
    if declared is not None and declared.varies:
        raise PermanentError(
            f"{app}: its clusters run bundles of their own (per-cluster variants), and a rollback "
            "pins one bundle everywhere; revert the commit in Git instead"
        )
    pin = find_revision(store, fleet, app, to)
    if store.get_bundle(pin.digest) is None:
        raise PermanentError(f"{app}: the bundle of {pin.revision} is no longer in Redis")
    store.set_pin(app, pin)
    store.set_suspended(app, True)
    return pin, request_sync(sender, fleet, app)


def suspend(store: Store, sender: Sender, fleet: Fleet, app: str) -> list[Enqueued]:
    """Stop automated sync; a check of every target (which writes nothing but the intents'
    mirror in each cluster, so the suspension outlives a loss of Redis's data) follows."""
    targets(fleet, app)
    store.set_suspended(app, True)
    return request_sync(sender, fleet, app, trigger=Trigger.DRIFT)


def resume(store: Store, sender: Sender, fleet: Fleet, app: str) -> list[Enqueued]:
    """Back to Git: drop any rollback pin, re-enable automated sync, reconcile every target.
    After a rollback, an application with a rollout policy rolls Git's latest out again from
    wave 1 (the clusters it has not reached keep the revision rolled back to)."""
    targets(fleet, app)
    if store.pin(app) is not None:
        restart_rollout(store, fleet, AppName(app))
    store.set_pin(app, None)
    store.set_suspended(app, False)
    return request_sync(sender, fleet, app, trigger=Trigger.CHANGE)
