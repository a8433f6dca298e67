"""What operators ask for by hand: sync now, roll back, suspend, resume. Shared by the CLI and
the API; each validates names against the published declaration and enqueues manual work."""

from __future__ import annotations

from dataclasses import dataclass

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.reconcile import targets
from fleetsync.shared.store import Pin, Store
from fleetsync.shared.tasking import Priority, Sender, Trigger


@dataclass(frozen=True, slots=True)
class Enqueued:
    cluster: str
    queued: bool
    """False when a reconcile for the pair was already queued (it will apply the same state)."""


def request_sync(
    sender: Sender,
    fleet: Fleet,
    app: str,
    cluster: str | None = None,
    *,
    trigger: Trigger = Trigger.MANUAL,
) -> list[Enqueued]:
    return [
        Enqueued(c, sender.reconcile(app, c, reason=trigger, priority=Priority.MANUAL))
        for c in targets(fleet, app, cluster)
    ]


def find_revision(store: Store, fleet: Fleet, app: str, wanted: str) -> Pin:
    """A pin to the newest revision in `app`'s history (any cluster) that is `wanted`: a full
    `ref@sha1:<sha>` or a sha prefix of at least 7 characters."""
    entries = [
        (h.revision, h.digest, h.at)
        for c in targets(fleet, app)
        for h in store.history(app, c)
        if h.digest and h.revision
    ]
    entries.sort(key=lambda e: e[2], reverse=True)
    for revision, digest, _ in entries:
        if str(revision) == wanted or (len(wanted) >= 7 and revision.sha.startswith(wanted)):
            return Pin(revision=revision, digest=digest, at=store.now())
    seen = list(dict.fromkeys(str(e[0]) for e in entries))[:10]
    raise PermanentError(
        f"{app}: revision {wanted!r} is not in its history; revisions it ran: "
        + (", ".join(seen) or "none")
    )


def rollback(store: Store, sender: Sender, fleet: Fleet, app: str, to: str) -> Pin:
    """Apply a previous revision's bundle everywhere and suspend automated sync, so the next
    commit does not undo the rollback. `resume` returns the application to Git."""
    pin = find_revision(store, fleet, app, to)
    if store.get_bundle(pin.digest) is None:
        raise PermanentError(f"{app}: the bundle of {pin.revision} is no longer in Redis")
    store.set_pin(app, pin)
    store.set_suspended(app, True)
    request_sync(sender, fleet, app)
    return pin


def suspend(store: Store, fleet: Fleet, app: str) -> None:
    targets(fleet, app)
    store.set_suspended(app, True)


def resume(store: Store, sender: Sender, fleet: Fleet, app: str) -> list[Enqueued]:
    """Back to Git: drop any rollback pin, re-enable automated sync, reconcile every target."""
    targets(fleet, app)
    store.set_pin(app, None)
    store.set_suspended(app, False)
    return request_sync(sender, fleet, app, trigger=Trigger.CHANGE)
