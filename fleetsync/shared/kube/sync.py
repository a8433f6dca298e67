"""Converge one application on one cluster: the apply side's single entry point.

`sync_application` reads the cluster's inventory copy, prepares and validates the whole bundle
(nothing is written unless every object passes), records the new objects in the cluster copy
before writing them (so a crash mid-apply orphans nothing), applies the bundle in stages, prunes
what is stale, and returns a `SyncResult` value: the caller stores its inventory, status and
history. Object-level problems (an object the server refuses, a field that cannot change in
place) come back in the result, naming the object; a cluster-level one (unreachable, credentials
refused) is raised as TransientError / PermanentError.

The rules, in order: an invalid bundle or a failed validation applies and prunes nothing (the
only changed object of a bundle without hooks is validated by its apply, see `apply`); an empty
bundle where the application had objects prunes nothing unless `policy.allow_empty`; a sync that
stops before a wave waiting for earlier waves to become healthy (`waves`) says so in its result
(`SyncResult.waiting`) and is continued later by its caller, until `policy.wave_timeout` fails it;
prune runs only with `policy.prune` and only after every object applied; what could not be pruned
stays tracked. A bundle with hooks syncs as a run (see `hooksync`): a failure while the run is in
progress (a hook failed or timed out, validation or the apply refused an object, a wave timed
out) fails the run and creates its SyncFail hooks. With `policy.create_namespace`, the
application's namespace is created when missing and never recorded in the inventory, so never
pruned (a bundle that declares it owns it instead).

`check_drift` and `assess_live_health` only read (one LIST per kind, see `read.read_live`):
what differs from the bundle, and how healthy the application's objects are, for the periodic
drift and health tasks.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fleetsync.shared.kube.apply import (
    Applied,
    Checked,
    Options,
    apply_staged,
    check_targets,
    first_reads,
    prepare_targets,
)
from fleetsync.shared.kube.changeset import Change, ChangeSet
from fleetsync.shared.kube.client import ClusterClient, UnknownKindError
from fleetsync.shared.kube.crd import defined_kinds
from fleetsync.shared.kube.diff import DriftReport, diff_objects
from fleetsync.shared.kube.health import (
    ObjectHealth,
    assess_object,
    describe_unhealthy,
)
from fleetsync.shared.kube.hookrun import HookResult, HookRun, HookState, HookWait, RunState
from fleetsync.shared.kube.hooks import HookSpec, applied_objects, of_phase, split_hooks
from fleetsync.shared.kube.hooksync import (
    Scope,
    Step,
    SyncGate,
    after_apply,
    before_apply,
    current_run,
    fail_run,
)
from fleetsync.shared.kube.inventory import (
    EMPTY,
    ClusterRecord,
    Inventory,
    merge,
    read_cluster_record,
    record_read,
    stale,
    write_cluster_inventory,
)
from fleetsync.shared.kube.plan import Stage, stage_of
from fleetsync.shared.kube.prune import Pruned, prune_stale
from fleetsync.shared.kube.read import read_facts, read_live
from fleetsync.shared.kube.read_ahead import Read
from fleetsync.shared.kube.targets import Target, bundle_problems, locate, well_formed
from fleetsync.shared.kube.waves import WaveProgress, WaveStop, WaveWait, since_when
from fleetsync.shared.model import ChangeAction, Health, ResourceKey, SyncState
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import ReplacePolicy, SyncPolicy
from fleetsync.shared.model.hooks import HookPhase

Manifest = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SyncError:
    """The object a sync failed on (None for the whole bundle) and why."""

    key: ResourceKey | None
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


@dataclass(frozen=True, slots=True)
class SyncResult:
    state: SyncState
    health: Health
    changes: ChangeSet
    inventory: Inventory
    """What to store as the application's inventory on this cluster (already mirrored there)."""
    error: SyncError | None
    duration: float
    objects: tuple[ObjectHealth, ...] = ()
    """Health of each desired object as last seen; empty when nothing was assessed."""
    waiting: WaveWait | HookWait | None = None
    """Set when the sync stopped before a wave or waits on hooks: continue it later
    (`recheck_in`)."""
    hooks: tuple[HookResult, ...] = ()
    """The hooks of the bundle's run so far (which, phase, result, where its logs are)."""

    @property
    def notes(self) -> str:
        """What to know of the sync that did not fail it: its hooks' notes (a delete by policy
        RBAC forbade), each after the hook's object ("" when none)."""
        return "; ".join(f"{h.shown}: {h.note}" for h in self.hooks if h.note)

    @property
    def unhealthy(self) -> str:
        """The objects that keep the application from Healthy, worst first ("" when none)."""
        return describe_unhealthy(self.objects)

    @property
    def counts(self) -> dict[str, int]:
        """created, configured, replaced, unchanged, pruned, skipped, failed."""
        return {str(action): n for action, n in self.changes.counts.items()}


def sync_application(
    *,
    client: ClusterClient,
    app: str,
    bundle: Bundle,
    previous: Inventory,
    policy: SyncPolicy,
    namespace: str | None,
    previous_nonempty: bool,
    timeout: float = 120.0,
    clock: Callable[[], float] = time.time,
    retry_hooks: bool = False,
) -> SyncResult:
    """Apply `bundle` as `app` and prune what `previous` (and the cluster copy) no longer has.

    `previous` is the stored (Redis) inventory, empty if none; `previous_nonempty` says the last
    bundle had objects. `timeout` bounds each wait inside the sync (CRDs Established, a replaced
    object gone); `clock` tells the time waves and hooks have been waiting. `retry_hooks` (a
    manual sync) starts anew a hooks' run that failed for this bundle.
    """
    started = time.monotonic()
    record = read_cluster_record(client, app)
    mirrored = record.inventory
    known = merge(mirrored or EMPTY, previous)
    objects, hooks = split_hooks(bundle.objects, app=app)
    now = clock()
    run = current_run(record.hooks, bundle=bundle.digest, hooks=hooks, now=now, retry=retry_hooks)

    scope = Scope(client, hooks, app, namespace, timeout=policy.hook_timeout, now=now)

    def refused(failures: Sequence[Change], error: SyncError | None = None) -> SyncResult:
        """Nothing applied: the bundle or an object failed validation. A run of hooks in
        progress fails with it (its SyncFail hooks are created)."""
        hooks_run = record.hooks
        if failures and run is not None and not run.state.finished:
            hooks_run = fail_run(scope, run, f"{failures[0].key}: {failures[0].message}")
        return _result(
            ChangeSet.of(failures),
            known,
            started=started,
            client=client,
            app=app,
            record=record,
            waves=record.waves,
            hooks=hooks_run,
            error=error,
        )

    if problems := bundle_problems(bundle.objects):
        return refused(problems)
    if not objects and (previous_nonempty or known) and not policy.allow_empty:
        tracked = f"{len(known)} object{'' if len(known) == 1 else 's'}"
        return refused([], SyncError(None, _EMPTY_BUNDLE.format(tracked=tracked)))
    prepared = prepare_targets(
        client,
        objects,
        app=app,
        namespace=namespace,
        create_namespace=policy.create_namespace,
    )
    options = Options(
        app=app,
        force=policy.force_conflicts,
        replace_immutable=policy.replace is ReplacePolicy.ON_IMMUTABLE,
        timeout=timeout,
    )
    checked, failures = check_targets(
        client,
        prepared.ready,
        options,
        known=prepared.live,
        sole_change_validates=not hooks and not prepared.deferred,
    )
    if prepared.failures or failures:
        return refused((*prepared.failures, *failures))

    provided = [t.key for t in prepared.targets if t.create_only]
    desired = Inventory.of(t.obj for t in prepared.targets if not t.create_only)
    known = known.without(provided)
    ahead = merge(known, desired)

    early = Applied()
    written = record

    def unapplied(step: Step) -> SyncResult:
        """The result of a sync that applied nothing but definitions because of its hooks."""
        error = None if step.failure is None else _hook_error(step.failure, step.run)
        lives = {c.target.key: c.live for c in checked} | dict(early.live)
        defined = Inventory.of(c.target.obj for c in checked if c.target.key in early.live)
        return _result(
            early.changes,
            merge(known, defined),
            started=started,
            client=client,
            app=app,
            record=written,
            waves=record.waves,
            hooks=step.run,
            error=error,
            waiting=step.wait,
            applied=Applied(live=lives),
            targets=[c.target for c in checked],
        )

    if run is not None and run.state is RunState.FAILED:
        return unapplied(Step(run, failure=run.error))
    if run is not None:
        if run.state is RunState.PRE_SYNC and (definitions := _definitions(checked, hooks)):
            if ahead != (mirrored or EMPTY):
                write_cluster_inventory(client, app, ahead, waves=record.waves, hooks=run)
                written = replace(record, inventory=ahead, hooks=run)
            early = apply_staged(client, options, checked=definitions, deferred=())
            if early.failed:
                failed = fail_run(scope, run, _first_failure(early))
                return unapplied(Step(failed, failure=failed.error))
            checked = _seen(checked, early.live)
        gate = before_apply(scope, run)
        if gate.failure is not None:
            failed = fail_run(scope, gate.run, _failure_text(gate.failure))
            return unapplied(Step(failed, failure=gate.failure))
        if gate.wait is not None:
            return unapplied(gate)
        run = gate.run
    if ahead != (written.inventory or EMPTY):
        write_cluster_inventory(client, app, ahead, waves=record.waves, hooks=run)
        written = ClusterRecord(inventory=ahead, waves=record.waves, hooks=run)
    hooks_gate = SyncGate(scope, run) if run is not None else None
    applied = apply_staged(
        client, options, checked=checked, deferred=prepared.deferred, gate=hooks_gate
    )
    waiting: WaveWait | HookWait | None
    waiting, error, waves = _waves(applied.stopped, record, bundle=bundle, policy=policy, now=now)
    health = _assess(client, prepared.targets, applied.live)
    if hooks_gate is not None:
        run = hooks_gate.run
    if run is not None and not run.state.finished and (error is not None or applied.failed):
        why = str(error) if error is not None else _first_failure(applied)
        run = fail_run(scope, run, why)
        error = error or SyncError(None, run.error)
    elif run is not None and hooks_gate is not None and hooks_gate.stop is not None:
        waiting = hooks_gate.stop.wait
        if hooks_gate.stop.failure is not None:
            run = fail_run(scope, run, _failure_text(hooks_gate.stop.failure))
            error = _hook_error(hooks_gate.stop.failure, run)
    elif run is not None and waiting is None:
        after = after_apply(scope, run, health)
        run, waiting = after.run, after.wait
        if after.failure is not None:
            run = fail_run(scope, run, _failure_text(after.failure))
            error = _hook_error(after.failure, run)
    pruned = Pruned(retained=stale(known, desired))
    if policy.prune and not applied.failed and applied.stopped is None and applied.gated is None:
        pruned = prune_stale(client, app=app, stale=stale(known, desired))
    return _result(
        _after_early(early.changes, applied.changes) + pruned.changes,
        merge(desired, pruned.retained),
        started=started,
        client=client,
        app=app,
        record=written,
        waves=waves,
        hooks=run,
        error=error,
        waiting=waiting,
        applied=applied,
        targets=prepared.targets,
        health=health,
    )


def sync_reads(
    *, client: ClusterClient, app: str, bundle: Bundle, policy: SyncPolicy, namespace: str | None
) -> list[Read]:
    """What `sync_application` reads before its first write, when nothing is wrong with the
    bundle (see `kube/read_ahead.py`): the inventory copy, the namespaces, a LIST per kind."""
    objects = applied_objects(well_formed(bundle.objects))
    return [
        record_read(app),
        *first_reads(
            client, objects, app=app, namespace=namespace, create_namespace=policy.create_namespace
        ),
    ]


def _definitions(checked: Sequence[Checked], hooks: Sequence[HookSpec]) -> list[Checked]:
    """What a sync applies before its PreSync hooks: the bundle's definitions (Namespaces,
    CRDs, cluster roles...), which hooks may need to exist."""
    if not of_phase(hooks, HookPhase.PRE_SYNC):
        return []
    return [c for c in checked if stage_of(c.target.obj) is Stage.DEFINITIONS]


def _seen(
    checked: Sequence[Checked], live: Mapping[ResourceKey, Manifest | None]
) -> tuple[Checked, ...]:
    """The validated objects, those applied already as they now are (unchanged from here)."""
    return tuple(
        replace(c, live=live[c.target.key], after=live[c.target.key])
        if live.get(c.target.key) is not None and not c.immutable
        else c
        for c in checked
    )


def _after_early(early: ChangeSet, later: ChangeSet) -> ChangeSet:
    """What a sync that applied its definitions before its PreSync hooks did: each object as
    that first apply left it (created, configured), not as the later apply saw it (unchanged,
    see `_seen`, since it wrote nothing more)."""
    done = {c.key: c for c in early}
    seen_later = {c.key for c in later}
    first = [c for c in early if c.key not in seen_later]
    then = [done.get(c.key, c) if c.action is ChangeAction.UNCHANGED else c for c in later]
    return ChangeSet.of(first + then)


def _failure_text(failure: HookResult | str) -> str:
    """Why a run failed; a hook's key is left to the sync error, which starts with it."""
    return failure if isinstance(failure, str) else f"{failure.outcome}: sync failed"


def _hook_error(failure: HookResult | str, run: HookRun) -> SyncError:
    """The sync's error for a failed hooks' run, naming the hook that failed when one did."""
    culprit = failure if isinstance(failure, HookResult) else None
    culprit = culprit or next((r for r in run.results if r.state is HookState.FAILED), None)
    key = None
    if culprit is not None:
        with contextlib.suppress(ValueError):
            declared = ResourceKey.parse(culprit.key)
            key = replace(declared, name=culprit.name or declared.name)
    return SyncError(key, run.error or _failure_text(failure))


def _first_failure(applied: Applied) -> str:
    failed = applied.changes.failed
    return f"{failed[0].key}: {failed[0].message}" if failed else "the apply failed"


def _assess(
    client: ClusterClient,
    targets: Sequence[Target],
    live: Mapping[ResourceKey, Manifest | None],
) -> tuple[ObjectHealth, ...]:
    """Each target's health as last seen."""
    facts = read_facts(client, [live.get(t.key) for t in targets])
    return tuple(ObjectHealth(t.key, *assess_object(live.get(t.key), facts)) for t in targets)


def _waves(
    stop: WaveStop | None,
    record: ClusterRecord,
    *,
    bundle: Bundle,
    policy: SyncPolicy,
    now: float,
) -> tuple[WaveWait | None, SyncError | None, WaveProgress | None]:
    """(what the sync waits for, the error past the deadline, the record to keep)."""
    if stop is None:
        return None, None, None
    digest = bundle.digest
    since = since_when(record.waves, bundle=digest, wave=stop.wave, now=now)
    deadline = since + policy.wave_timeout
    if now >= deadline:
        message = (
            f"wave {stop.wave} not applied: earlier waves not healthy after "
            f"{policy.wave_timeout:g}s (sync.waveTimeout): {describe_unhealthy(stop.unhealthy)}"
        )
        return None, SyncError(stop.unhealthy[0].key, message), None
    wait = WaveWait(wave=stop.wave, unhealthy=stop.unhealthy, since=since, deadline=deadline)
    return wait, None, WaveProgress(bundle=digest, wave=stop.wave, since=since)


def _result(
    changes: ChangeSet,
    inventory: Inventory,
    *,
    started: float,
    client: ClusterClient,
    app: str,
    record: ClusterRecord,
    waves: WaveProgress | None,
    hooks: HookRun | None = None,
    error: SyncError | None = None,
    waiting: WaveWait | HookWait | None = None,
    applied: Applied | None = None,
    targets: Sequence[Target] = (),
    health: Sequence[ObjectHealth] | None = None,
) -> SyncResult:
    """The result value; the cluster copy updated first when it holds something else."""
    if inventory != (record.inventory or EMPTY) or waves != record.waves or hooks != record.hooks:
        write_cluster_inventory(client, app, inventory, waves=waves, hooks=hooks)
    if error is None and (failed := changes.failed):
        n = len(failed) - 1
        more = f" ({n} more object{'s' if n > 1 else ''} failed)" if n else ""
        error = SyncError(failed[0].key, failed[0].message + more)
    objects: tuple[ObjectHealth, ...] = ()
    if applied is not None:
        objects = tuple(health) if health is not None else _assess(client, targets, applied.live)
    tracked_but_not_desired = inventory.keys - {t.key for t in targets}
    settled = waiting is None or (isinstance(waiting, HookWait) and waiting.applied)
    in_sync = error is None and settled and not tracked_but_not_desired
    return SyncResult(
        state=SyncState.SYNCED if in_sync else SyncState.OUT_OF_SYNC,
        health=Health.worst(o.health for o in objects) if applied else Health.UNKNOWN,
        changes=changes,
        inventory=inventory,
        error=error,
        duration=time.monotonic() - started,
        objects=objects,
        waiting=waiting,
        hooks=hooks.results if hooks is not None else (),
    )


_EMPTY_BUNDLE = (
    "the bundle is empty but the last one was not ({tracked} tracked on this cluster); "
    "nothing pruned (set sync.allowEmpty to let an empty bundle prune everything)"
)


def check_drift(
    *, client: ClusterClient, app: str, bundle: Bundle, namespace: str | None
) -> DriftReport:
    """How the live objects differ from the bundle (one LIST per kind, nothing written).

    An object whose kind is not served or whose object is gone is reported missing.
    """
    located, unserved = _locate_all(client, bundle, app=app, namespace=namespace)
    live = read_live(client, [t for t in located if not t.deferred])
    pairs: list[tuple[Manifest, Manifest | None]] = [(o, None) for o in unserved]
    pairs += [(t.obj, live.get(t.key)) for t in located]
    return diff_objects(pairs)


def assess_live_health(
    client: ClusterClient, bundle: Bundle, *, namespace: str | None = None
) -> tuple[Health, tuple[ObjectHealth, ...]]:
    """The application's health on the cluster now: worst of its objects' (one LIST per kind).
    Objects are read by their keys: which application's labels they carry does not matter."""
    located, unserved = _locate_all(client, bundle, app="", namespace=namespace)
    live = read_live(client, [t for t in located if not t.deferred])
    verdicts = [
        ObjectHealth(ResourceKey.of(o), Health.MISSING, "kind not served") for o in unserved
    ]
    facts = read_facts(client, [live.get(t.key) for t in located])
    verdicts += [ObjectHealth(t.key, *assess_object(live.get(t.key), facts)) for t in located]
    return Health.worst(v.health for v in verdicts), tuple(verdicts)


def _locate_all(
    client: ClusterClient, bundle: Bundle, *, app: str, namespace: str | None
) -> tuple[list[Target], list[Manifest]]:
    """Each bundle object placed on the cluster, and those whose kind it does not serve;
    malformed manifests (see `bundle_problems`) and hooks (never drift, never health) are left
    out."""
    objects = applied_objects(well_formed(bundle.objects))
    bundled = defined_kinds(objects)
    located: list[Target] = []
    unserved: list[Manifest] = []
    for obj in objects:
        try:
            located.append(locate(client, obj, app=app, namespace=namespace, bundled=bundled))
        except UnknownKindError:
            unserved.append(obj)
    return located, unserved
