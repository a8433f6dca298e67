"""What operators ask for by hand: sync now, roll back, suspend, resume. Shared by the CLI and
the API; each validates names against the published declaration and enqueues manual work."""

from __future__ import annotations

from dataclasses import dataclass

from fleetsync.scheduler.rollout_ops import restart_rollout
from fleetsync.shared.errors import PermanentError
from fleetsync.shared.gates import window_hold
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.desired import Variant
from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.reconcile import targets
from fleetsync.shared.store import Pin, Store
from fleetsync.shared.tasking import Priority, Sender, Trigger
from fleetsync.shared.variants.grouping import set_digest


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
    commit does not undo the rollback. `resume` returns the application to Git. An application
    with per-cluster variants pins each cluster to the bundle it had at that revision."""
    declared = fleet.applications.get(AppName(app))
    if declared is not None and declared.varies:
        revision = _variant_revision(store, AppName(app), to)
        if revision is None:
            revision = find_revision(store, fleet, app, to).revision
        pin = pin_variants(store, fleet, AppName(app), revision)
    else:
        pin = find_revision(store, fleet, app, to)
    pinned = [v.digest for v in pin.clusters.values()] if pin.clusters else [pin.digest]
    if any(store.get_bundle(d) is None for d in pinned):
        raise PermanentError(f"{app}: the bundle of {pin.revision} is no longer in Redis")
    store.set_pin(app, pin)
    store.set_suspended(app, True)
    return pin, request_sync(sender, fleet, app)


def _variant_revision(store: Store, app: AppName, wanted: str) -> Revision | None:
    """The revision of a kept variant set that `wanted` names (see `find_revision`), if any."""
    text = wanted.strip()
    found = [
        revision
        for raw in store.variant_set_revisions(app)
        if (revision := Revision.parse(raw)).named_by(text, min_prefix=MIN_SHA_PREFIX)
    ]
    if len({r.sha for r in found}) > 1:
        raise PermanentError(
            f"{app}: revision {wanted!r} is ambiguous: "
            + ", ".join(str(r) for r in found)
            + "; give more of the sha"
        )
    return found[0] if found else None


def pin_variants(store: Store, fleet: Fleet, app: AppName, revision: Revision) -> Pin:
    """A pin of each target cluster to the bundle it had at `revision` (as the fetch of that
    revision recorded it, else as the cluster's history shows it applied), and that it ran.
    A cluster that never ran the revision is an error naming it."""
    clusters = targets(fleet, app)
    recorded = store.variant_set(app, str(revision)) or {}
    ran: dict[str, Variant] = {}
    for cluster in clusters:
        history = [h for h in store.history(app, cluster) if h.digest and h.revision]
        now = store.recorded_status(app, cluster)
        applied_digests = {h.digest for h in history} | ({now.digest} if now else set())
        own = recorded.get(cluster)
        if own is not None and own.digest in applied_digests:
            ran[cluster] = own
            continue
        applied = next((h for h in history if h.revision == revision), None)
        if applied is not None and applied.revision is not None and applied.digest is not None:
            ran[cluster] = Variant(revision=applied.revision, digest=applied.digest)
    missing = [c for c in clusters if c not in ran]
    if missing:
        raise PermanentError(
            f"{app}: cluster(s) {', '.join(missing)} never ran {revision} (its clusters run "
            "bundles of their own, and each is rolled back to the one it ran then); roll back "
            f"to a revision every cluster ran (`fleetsync history {app}` lists them), or revert "
            "the commit in Git"
        )
    digest = Digest(set_digest({ClusterName(c): v.digest for c, v in ran.items()}))
    return Pin(revision=revision, digest=digest, at=store.now(), clusters=ran)


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
