"""Reconcile one application on one cluster: the apply side's use case, between the Celery task
and the Kubernetes engine (`fleetsync.shared.kube`).

It re-reads everything when it runs: the declaration, the latest desired state (or a rollback
pin), suspension, the stored inventory. So a late or duplicate trigger applies the newest state or
nothing, never an older one. It decides whether to converge (APPLY) or only to look (CHECK):

| trigger / policy                                  | mode  |
| ------------------------------------------------- | ----- |
| manual sync                                       | APPLY |
| application suspended (or rolled back)            | CHECK |
| automated sync off                                | CHECK |
| drift check without selfHeal                      | CHECK |
| otherwise                                         | APPLY |

An APPLY that a change window, the freeze or an application it depends on holds becomes a CHECK
that says what it waits for (`gates.change_wait`), and asks to be continued once it may go on.
A cluster a rollout holds runs what it ran before (`desired_for_pair`) and is drift-checked
against that. A cluster whose own render failed (per-cluster variants: a variable its values do
not define) keeps running its last good bundle, and its status says the render failed and why
(`_render_failed`: OutOfSync, failed).

Before anything else touches the cluster, the pair's cluster must own the Kubernetes cluster its
kubeconfig reaches (`kube.identity`): a second declared cluster reaching the same one is refused
with a status naming both.

Failures become status in one place (`_failed`): a cluster that is down or answers 5xx/429 is
Unknown with the reason and retried with backoff; a permanent problem (bad kubeconfig, refused
credentials) is recorded and waits for the next trigger. An object the server refuses is not a
failure of the cluster: the sync reports it, OutOfSync, naming the object. A sync that stops
before a sync wave, waiting for earlier waves to become healthy, asks to be continued later
(`Outcome.continue_in`), and its status says what it waits for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from fleetsync.shared.desired import (
    Because,
    PairDesired,
    desired_for_pair,
    held_without_state,
    latest_for_pair,
)
from fleetsync.shared.errors import ClusterFailure, PermanentError, TransientError, describe
from fleetsync.shared.gates import change_wait
from fleetsync.shared.intents import keep_intents, mirror_current
from fleetsync.shared.kube import (
    ClusterClient,
    ObjectForbidden,
    SyncResult,
    assess_live_health,
    check_drift,
    connect,
    describe_unhealthy,
    split_hooks,
    start_post_delete,
    sync_application,
)
from fleetsync.shared.kube.first_round import read_first_round
from fleetsync.shared.kube.identity import claim_cluster, verify_claim
from fleetsync.shared.logcontext import bind
from fleetsync.shared.model.backoff import backoff_delay
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Fleet, SyncPolicy
from fleetsync.shared.model.ids import AppName, ClusterName, Digest
from fleetsync.shared.model.inventory import EMPTY
from fleetsync.shared.model.report import (
    Freshness,
    HookOutcome,
    ObjectChange,
    PairStatus,
    stale_after,
)
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import ChangeAction, Health, SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.store import PairView, Store, StoreError, read_pair

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 20.0
MAX_RETRY_DELAY = 300.0
HEALTH_CHECK_DEADLINE = 600.0


class BundleMissing(PermanentError):
    """The bundle the pair should run is not in Redis."""


class Mode(StrEnum):
    APPLY = "apply"
    CHECK = "check"


def choose_mode(policy: SyncPolicy, *, trigger: Trigger, suspended: bool) -> Mode:
    if trigger is Trigger.MANUAL:
        return Mode.APPLY
    if suspended or not policy.automated:
        return Mode.CHECK
    if trigger is Trigger.DRIFT and not policy.self_heal:
        return Mode.CHECK
    return Mode.APPLY


@dataclass(frozen=True, slots=True)
class Outcome:
    status: PairStatus | None
    """None when there was nothing to reconcile (application or target no longer declared)."""
    retry_in: float | None = None
    """The reconcile failed for a reason that may pass (the cluster is down): retry after."""
    continue_in: float | None = None
    """The sync is not finished (it waits before a sync wave): reconcile again after."""
    follow_health: bool = False
    down: ClusterFailure | None = None
    """The failure was the whole cluster's (unreachable, credentials refused: the error's
    type says so, `ClusterFailure`): a batch fails the cluster's other pairs with it without
    asking the cluster again."""


@dataclass(frozen=True, slots=True)
class _Desired:
    revision: Revision | None
    digest: Digest | None
    bundle: Bundle
    chosen: PairDesired | None = None


def reconcile_pair(
    store: Store,
    fleet: Fleet,
    app: AppName,
    cluster: ClusterName,
    *,
    trigger: Trigger,
    cache_dir: Path,
    client: ClusterClient | None = None,
) -> Outcome:
    """Reconcile the pair (its lease held by the caller). Given a `PairView` of the pair (the
    task read it in its opening round), the outcome's writes stay in the view for the caller's
    closing round; given a plain store, the pair is read in one round trip and the outcome
    written in another. `client`: the cluster's client to use (a batch's `SharedReads`)."""
    if isinstance(store, PairView) and store.pair == (app, cluster):
        return _reconcile(
            store, fleet, app, cluster, trigger=trigger, cache_dir=cache_dir, client=client
        )
    view = read_pair(store, app, cluster)
    outcome = _reconcile(
        view, fleet, app, cluster, trigger=trigger, cache_dir=cache_dir, client=client
    )
    view.commit()
    return outcome


def _reconcile(
    store: PairView,
    fleet: Fleet,
    app: AppName,
    cluster: ClusterName,
    *,
    trigger: Trigger,
    cache_dir: Path,
    client: ClusterClient | None = None,
) -> Outcome:
    application = fleet.applications.get(app)
    if application is None or cluster not in fleet.targets_of(app):
        log.info("%s on %s: no longer declared; nothing to reconcile", app, cluster)
        return Outcome(status=None)
    previous = store.recorded_status(app, cluster)
    fresh_until = _freshness(store, application.sync, app, cluster)
    try:
        try:
            desired = _desired(store, app, cluster)
        except BundleMissing:
            desired = None  # after a loss of Redis's data, the cluster's mirror may hold it
        else:
            # Held on nothing by a rollout: the cluster is read (its mirror) only while the
            # mirror may hold what Redis lost.
            if desired is None and (
                held_without_state(store, app, cluster) is None
                or mirror_current(store, app, cluster)
            ):
                return _record(store, _waiting(store, app, cluster, trigger, fresh_until))
        if desired is not None:
            bind(revision=desired.revision)
        if client is None:  # a pair alone (a batch's client shares its reads its own way)
            planned = choose_mode(
                application.sync, trigger=trigger, suspended=store.is_suspended(app)
            )
            client = read_first_round(
                connect(fleet.clusters[cluster], cache_dir=cache_dir, timeout=REQUEST_TIMEOUT),
                cluster=cluster,
                app=app,
                bundle=desired.bundle if desired is not None and planned is Mode.APPLY else None,
                policy=application.sync,
                namespace=application.namespace,
            )
        wiped = verify_claim(client, cluster=cluster, declared=fleet.clusters)
        if wiped:
            store.forget_mirrored(cluster)  # a new or wiped cluster: write its mirrors again
        # Also for a pair a rollout holds on nothing, or whose bundle Redis lacks: what the
        # cluster's mirror holds (a rollout, its bundles) may be what Redis lost.
        kept = keep_intents(store, client, app, cluster)
        if kept.restored or desired is None:  # read back after a loss: choose again
            desired = _desired(store, app, cluster)
            if desired is None:
                return _record(store, _waiting(store, app, cluster, trigger, fresh_until))
            bind(revision=desired.revision)
        mode = choose_mode(application.sync, trigger=trigger, suspended=store.is_suspended(app))
        wait = None
        if mode is Mode.APPLY:
            changing = desired.digest != (previous.digest if previous else None)
            wait = change_wait(store, fleet, app, cluster, trigger=trigger, changing=changing)
            mode = Mode.CHECK if wait is not None else mode
        claimed_now = mode is Mode.APPLY and claim_cluster(
            client, cluster=cluster, declared=fleet.clusters
        )
        if claimed_now and not wiped:
            # Forgotten before keep_intents when verify_claim found the claim missing: forgetting
            # again now would drop the note of the mirror this reconcile has just written.
            store.forget_mirrored(cluster)
        if mode is Mode.CHECK:
            applied = _applied_bundle(store, previous) or desired.bundle
            drift = check_drift(
                client=client, app=app, bundle=applied, namespace=application.namespace
            )
            health, _ = assess_live_health(client, applied, namespace=application.namespace)
            held = desired.chosen is not None and desired.chosen.because is Because.HELD
            if previous is None and not drift.keys:  # Redis lost it: the cluster runs this
                previous = PairStatus(
                    application=app,
                    cluster=cluster,
                    sync=SyncState.UNKNOWN,
                    health=health,
                    revision=desired.revision,
                    digest=desired.digest,
                )
            status = _checked(
                app,
                cluster,
                previous,
                desired.chosen if held or wait else latest_for_pair(store, app, cluster),
                trigger,
                drift.keys,
                health,
                wait.reason if wait else _why_not_applying(store, app, application.sync),
                fresh_until,
            )
            status = _noted(_render_failed(status, desired.chosen), kept.note)
            store.record_status(status, history=False)
            return Outcome(status=status, continue_in=wait.again_in if wait else None)
        inventory = store.inventory(app, cluster) or EMPTY
        result = sync_application(
            client=client,
            app=app,
            bundle=desired.bundle,
            previous=inventory,
            policy=application.sync,
            namespace=application.namespace,
            previous_nonempty=bool(inventory),
            retry_hooks=trigger is Trigger.MANUAL,
        )
        store.set_inventory(app, cluster, result.inventory)
        store.reset_pair_failures(app, cluster)
        status = replace(
            _synced(app, cluster, desired, result, trigger),
            stale_after=fresh_until.stale_after,
            watched_until=fresh_until.watched_until,
        )
        if desired.chosen is not None and desired.chosen.note:
            status = replace(status, message=f"{status.message}; {desired.chosen.note}")
        status = _noted(_render_failed(status, desired.chosen), kept.note)
        store.record_status(status, history=_worth_history(status, previous))
        if result.waiting is not None:
            return Outcome(status=status, continue_in=result.waiting.recheck_in(time.time()))
        return Outcome(
            status=status,
            follow_health=status.health is Health.PROGRESSING
            or (status.health is Health.MISSING and result.error is None),
        )
    except Exception as exc:  # every failure becomes the pair's status, see `_failed`
        return _failed(store, app, cluster, previous, trigger, exc, fresh_until=fresh_until)


def _freshness(store: Store, policy: SyncPolicy, app: str, cluster: str) -> Freshness:
    """How long the status this reconcile writes stays current: until its next interval check
    is overdue, or, while live watches cover the pair, its backstop check (a reader holds it
    to the first again once no live watch covers the pair, see `PairStatus.as_seen`)."""
    now = store.now()
    unwatched = stale_after(now, policy.drift_every(watched=False))
    if not store.watch_covers(app, cluster):
        return Freshness(unwatched)
    return Freshness(unwatched, watched_until=stale_after(now, policy.drift_every(watched=True)))


def pair_lock(app: str, cluster: str) -> str:
    """The lease every writer of a pair's objects and status holds."""
    return f"reconcile:{app}:{cluster}"


def refresh_health(
    store: Store, fleet: Fleet, app: AppName, cluster: ClusterName, *, cache_dir: Path
) -> Health | None:
    """Re-assess the health of what was applied (GETs only) and update the pair's status;
    None when there is nothing to assess, or when a reconcile of the pair is running: that
    reconcile records a newer status and follows its health itself, and a check writing back
    the status it read before would undo it."""
    with store.lease(pair_lock(app, cluster)) as lease:
        if lease is None:
            return None
        return _refresh_health(store, fleet, app, cluster, cache_dir=cache_dir)


def _refresh_health(
    store: Store, fleet: Fleet, app: AppName, cluster: ClusterName, *, cache_dir: Path
) -> Health | None:
    application = fleet.applications.get(app)
    status = store.recorded_status(app, cluster)
    if application is None or status is None or status.digest is None:
        return None
    bundle = store.get_bundle(status.digest)
    if bundle is None:
        return None
    try:
        client = connect(fleet.clusters[cluster], cache_dir=cache_dir, timeout=REQUEST_TIMEOUT)
        health, objects = assess_live_health(client, bundle, namespace=application.namespace)
    except StoreError:
        raise
    except Exception as exc:  # the check failed: say so; the next drift check tries again
        message = f"health not checked: {describe(exc)}"
        if _sync_failed(status):
            message = f"{status.message}; {message}"
        store.record_status(replace(status, health=Health.UNKNOWN, message=message), history=False)
        return Health.UNKNOWN
    keep = health is Health.HEALTHY or _sync_failed(status)
    message = status.message if keep else describe_unhealthy(objects)
    store.record_status(replace(status, health=health, message=message), history=False)
    return health


def _sync_failed(status: PairStatus) -> bool:
    """Whether the status reports a reconcile that failed (a refused object, a field that
    cannot change in place, this cluster's own render, a bundle missing from Redis, a cluster
    that could not be reached...): a health check updates its health, but the failure and its
    message stay until a later reconcile clears them."""
    return (
        status.failed
        or status.error_object is not None
        or any(c.action is ChangeAction.FAILED for c in status.changes)
    )


def _noted(status: PairStatus, note: str) -> PairStatus:
    """The status with what the cluster's intents mirror could not keep, if anything."""
    return replace(status, message=f"{status.message}; {note}") if note else status


def _applied_bundle(store: Store, previous: PairStatus | None) -> Bundle | None:
    """The bundle last applied to the pair, if it is still in Redis."""
    if previous is None or previous.digest is None:
        return None
    return store.get_bundle(previous.digest)


def _desired(store: Store, app: AppName, cluster: ClusterName) -> _Desired | None:
    chosen = desired_for_pair(store, app, cluster)
    if chosen is None:
        return None
    bundle = store.get_bundle(chosen.digest)
    if bundle is None:
        rollout = store.rollout(app)
        pinned = (
            rollout is not None and rollout.pinned is not None and rollout.digest == chosen.digest
        )
        raise BundleMissing(
            f"{app}: bundle {chosen.digest[:12]} for {chosen.revision} is missing from Redis; "
            + (
                "it is the pinned rollout's, read back after Redis lost its data, and no "
                "cluster's mirror held it: the cluster is left as it is; `fleetsync rollout "
                "unpin` rolls Git's latest out from wave 1"
                if pinned
                else "run `fleetsync refresh` on its repository to render it again"
            )
        )
    return _Desired(revision=chosen.revision, digest=chosen.digest, bundle=bundle, chosen=chosen)


def _waiting(
    store: Store, app: AppName, cluster: ClusterName, trigger: Trigger, fresh_until: Freshness
) -> PairStatus:
    error = store.source_error(app)
    held = held_without_state(store, app, cluster)
    own = store.variant(app, cluster)
    failed = own.failed if own is not None and not own.digest else None
    message = (
        f"nothing to run yet: {held}"
        if held
        else f"nothing to run: {failed.describe()}"
        if failed
        else f"no desired state yet: {error.message}"
        if error
        else "no desired state yet: waiting for the first render"
    )
    return PairStatus(
        application=app,
        cluster=cluster,
        failed=failed is not None,
        sync=SyncState.OUT_OF_SYNC if failed else SyncState.UNKNOWN,
        health=Health.UNKNOWN,
        at=store.now(),
        message=message,
        trigger=trigger,
        stale_after=fresh_until.stale_after,
        watched_until=fresh_until.watched_until,
    )


def _synced(
    app: str, cluster: str, desired: _Desired, result: SyncResult, trigger: Trigger
) -> PairStatus:
    counts = result.counts
    summary = ", ".join(f"{n} {action}" for action, n in counts.items() if n) or "nothing to do"
    message = f"{result.error}" if result.error else summary
    if result.error is None and result.unhealthy:
        message = f"{summary}; {result.unhealthy}"
    if result.error is None and result.notes:
        message = f"{message}; {result.notes}"
    if result.waiting is not None:
        message = f"{result.waiting} ({summary})"
    return PairStatus(
        application=app,
        cluster=cluster,
        sync=result.state,
        health=result.health,
        revision=desired.revision,
        digest=desired.digest,
        at=_now(),
        duration=result.duration,
        message=message,
        error_object=str(result.error.key) if result.error and result.error.key else None,
        failed=result.error is not None
        or any(c.action is ChangeAction.FAILED for c in result.changes),
        counts=counts,
        changes=tuple(
            ObjectChange(key=str(c.key), action=c.action, message=c.message) for c in result.changes
        ),
        trigger=trigger,
        hooks=tuple(
            HookOutcome(
                phase=h.phase.value,
                key=h.key,
                name=h.name,
                state=h.state.value,
                message="; ".join(part for part in (h.message, h.note) if part),
                logs=h.logs,
            )
            for h in result.hooks
        ),
    )


def _checked(
    app: str,
    cluster: str,
    previous: PairStatus | None,
    latest: PairDesired | None,
    trigger: Trigger,
    drifted: tuple[object, ...],
    health: Health,
    why: str,
    fresh_until: Freshness,
) -> PairStatus:
    """A look without a write: drift against what was applied, and whether Git moved on."""
    applied_digest = previous.digest if previous else None
    behind = latest is not None and latest.digest != applied_digest
    notes = []
    if behind and latest is not None:
        notes.append(f"{latest.revision} not applied yet")
    if drifted:
        notes.append(f"{len(drifted)} object{'' if len(drifted) == 1 else 's'} drifted")
    if notes:
        notes.append(f"not applying ({why}); `fleetsync sync {app}` applies it")
    return PairStatus(
        application=app,
        cluster=cluster,
        sync=SyncState.OUT_OF_SYNC if behind or drifted else SyncState.SYNCED,
        health=health,
        revision=previous.revision if previous else None,
        digest=applied_digest,
        at=_now(),
        message="; ".join(notes) or f"in sync ({why})",
        drifted=tuple(str(k) for k in drifted),
        trigger=trigger,
        stale_after=fresh_until.stale_after,
        watched_until=fresh_until.watched_until,
    )


def _render_failed(status: PairStatus, chosen: PairDesired | None) -> PairStatus:
    """A cluster whose own render failed (per-cluster variants) keeps running its last good
    state, and its status says it is behind Git and why: OutOfSync, failed, the error first."""
    if chosen is None or not chosen.render_error:
        return status
    return replace(
        status,
        sync=SyncState.OUT_OF_SYNC,
        failed=True,
        message=f"{chosen.render_error}; still running {status.revision} ({status.message})",
    )


def _why_not_applying(store: Store, app: AppName, policy: SyncPolicy) -> str:
    pin = store.pin(app)
    if pin is not None:
        return f"rolled back to {pin.revision}"
    if store.is_suspended(app):
        return "suspended"
    if not policy.automated:
        return "automated sync is off"
    return "selfHeal is off"


def _failed(
    store: Store,
    app: AppName,
    cluster: ClusterName,
    previous: PairStatus | None,
    trigger: Trigger,
    exc: Exception,
    *,
    fresh_until: Freshness | None = None,
) -> Outcome:
    """The one place a failed reconcile becomes status. A PermanentError (bad kubeconfig,
    refused credentials, a rejected object) waits for the next trigger; anything else, a
    TransientError or an error fleetsync did not foresee (named by its class), is retried with
    backoff. Like any status, it reads stale once `fresh_until` passed with no check since.
    An object RBAC refused (`ObjectForbidden`) is named as the status's `error_object`."""
    permanent = isinstance(exc, PermanentError)
    retry_in = None
    if not permanent:
        failures = store.incr_pair_failures(app, cluster)
        hint = exc.delay if isinstance(exc, TransientError) else None
        retry_in = backoff_delay(failures, first=2.0, cap=MAX_RETRY_DELAY, floor=hint or 0.0)
    if isinstance(exc, StoreError):
        raise exc  # nowhere to record it: the task's in-flight record brings the task back
    message = describe(exc)
    status = PairStatus(
        application=app,
        cluster=cluster,
        sync=SyncState.OUT_OF_SYNC if permanent else SyncState.UNKNOWN,
        health=Health.UNKNOWN,
        revision=previous.revision if previous else None,
        digest=previous.digest if previous else None,
        at=_now(),
        message=message,
        error_object=str(exc.key) if isinstance(exc, ObjectForbidden) else None,
        trigger=trigger,
        failed=True,
        stale_after=fresh_until.stale_after if fresh_until else None,
        watched_until=fresh_until.watched_until if fresh_until else None,
    )
    log.warning(
        "%s on %s: %s%s",
        app,
        cluster,
        exc,
        f" (retry in {retry_in:.0f}s)" if retry_in is not None else "",
    )
    _record(store, status)
    down = exc if isinstance(exc, ClusterFailure) else None
    return Outcome(status=status, retry_in=retry_in, down=down)


record_failure = _failed
"""`_failed` for the batch (`reconcile_batch.py`): a failure met by another pair of its cluster."""


def _worth_history(status: PairStatus, previous: PairStatus | None) -> bool:
    """History keeps what happened, not every quiet drift check: a drift check goes in only
    when it changed something or the pair's state moved."""
    if status.trigger is not Trigger.DRIFT or previous is None:
        return True
    changed = any(c.action is not ChangeAction.UNCHANGED for c in status.changes)
    moved = (status.sync, status.health, status.revision) != (
        previous.sync,
        previous.health,
        previous.revision,
    )
    return changed or moved


def _record(store: Store, status: PairStatus, *, history: bool = True) -> Outcome:
    store.record_status(status, history=history)
    return Outcome(status=status)


def _now() -> float:
    return time.time()


def remove_pair(
    store: Store, fleet: Fleet, app: AppName, cluster: ClusterName, *, cache_dir: Path
) -> Outcome:
    """Delete what the application applied to a cluster it no longer targets (only asked for
    with `sync.pruneOnRemoval`), then forget the pair. The cluster must still be declared: its
    kubeconfig is how fleetsync reaches it. What is left (objects whose deletion failed) stays
    in the pair's status; a failure to reach the cluster is its status too, retried with
    backoff."""
    if app in fleet.applications and cluster in fleet.targets_of(app):
        return Outcome(status=None)
    declared = fleet.clusters.get(cluster)
    if declared is None:
        log.warning(
            "%s on %s: cluster no longer declared; its objects are left in place", app, cluster
        )
        return Outcome(status=None)
    try:
        client = connect(declared, cache_dir=cache_dir, timeout=REQUEST_TIMEOUT)
        verify_claim(client, cluster=cluster, declared=fleet.clusters)
        inventory = store.inventory(app, cluster) or EMPTY
        result = sync_application(
            client=client,
            app=app,
            bundle=Bundle(()),
            previous=inventory,
            policy=SyncPolicy(prune=True, allow_empty=True),
            namespace=None,
            previous_nonempty=True,
        )
    except Exception as exc:  # every failure becomes the pair's status, see `_failed`
        previous = store.recorded_status(app, cluster)
        return _failed(store, app, cluster, previous, Trigger.CHANGE, exc)
    if result.inventory:
        store.set_inventory(app, cluster, result.inventory)
        status = _synced(app, cluster, _Desired(None, None, Bundle(())), result, Trigger.CHANGE)
        store.record_status(status)
        return Outcome(status=status)
    post_delete = _post_delete(store, client, app, cluster)
    store.forget_pair(app, cluster)
    log.info("%s on %s: removed (%s)%s", app, cluster, result.changes.summary(), post_delete)
    return Outcome(status=None)


def _post_delete(store: Store, client: ClusterClient, app: AppName, cluster: ClusterName) -> str:
    """Create the PostDelete hooks of the bundle last applied to the pair; what was created."""
    applied = _applied_bundle(store, store.recorded_status(app, cluster))
    if applied is None:
        return ""
    _, hooks = split_hooks(applied.objects, app=app)
    created = start_post_delete(
        client, app=app, bundle=applied.digest, hooks=hooks, now=time.time()
    )
    return "; " + ", ".join(str(r) for r in created) if created else ""


def targets(fleet: Fleet, app: str, cluster: str | None = None) -> tuple[ClusterName, ...]:
    """The application's target clusters, or just `cluster` after checking it is one."""
    if app not in fleet.applications:
        known = ", ".join(sorted(fleet.applications)) or "none"
        raise PermanentError(f"{app}: no such application; declared applications: {known}")
    all_targets = fleet.targets_of(AppName(app))
    if cluster is None:
        return all_targets
    if cluster not in all_targets:
        raise PermanentError(
            f"{app}: cluster {cluster!r} is not one of its targets ({', '.join(all_targets)})"
        )
    return (ClusterName(cluster),)
