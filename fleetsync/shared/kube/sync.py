"""Converge one application on one cluster: the apply side's single entry point.

`sync_application` reads the cluster's inventory copy, prepares and validates the whole bundle
(nothing is written unless every object passes), records the new objects in the cluster copy
before writing them (so a crash mid-apply orphans nothing), applies the bundle in stages, prunes
what is stale, and returns a `SyncResult` value: the caller stores its inventory, status and
history. Object-level problems (an object the server refuses, a field that cannot change in
place) come back in the result, naming the object; a cluster-level one (unreachable, credentials
refused) is raised as TransientError / PermanentError.

The rules, in order: an invalid bundle or a failed validation applies and prunes nothing; an empty
bundle where the application had objects prunes nothing unless `policy.allow_empty`; a sync that
stops before a wave waiting for earlier waves to become healthy (`waves`) says so in its result
(`SyncResult.waiting`) and is continued later by its caller, until `policy.wave_timeout` fails it;
prune runs only with `policy.prune` and only after every object applied; what could not be pruned
stays tracked. With `policy.create_namespace`, the application's namespace is created when missing
and never recorded in the inventory, so never pruned (a bundle that declares it owns it instead).

`check_drift` and `assess_live_health` only read (one LIST per kind, see `read.read_live`):
what differs from the bundle, and how healthy the application's objects are, for the periodic
drift and health tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.apply import (
    Applied,
    Options,
    apply_staged,
    check_targets,
    prepare_targets,
)
from fleetsync.shared.kube.changeset import Change, ChangeSet
from fleetsync.shared.kube.client import ClusterClient, UnknownKindError
from fleetsync.shared.kube.crd import defined_kinds
from fleetsync.shared.kube.diff import DriftReport, diff_objects
from fleetsync.shared.kube.health import (
    NO_FACTS,
    ObjectHealth,
    assess_object,
    describe_unhealthy,
)
from fleetsync.shared.kube.inventory import (
    EMPTY,
    ClusterRecord,
    Inventory,
    merge,
    read_cluster_record,
    stale,
    write_cluster_inventory,
)
from fleetsync.shared.kube.prune import Pruned, prune_stale
from fleetsync.shared.kube.read import read_facts, read_live
from fleetsync.shared.kube.targets import Target, bundle_problems, locate, well_formed
from fleetsync.shared.kube.waves import WaveProgress, WaveStop, WaveWait, describe, since_when
from fleetsync.shared.model import Health, ResourceKey, SyncState
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import ReplacePolicy, SyncPolicy

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
    waiting: WaveWait | None = None
    """Set when the sync stopped before a wave: continue it later (`WaveWait.recheck_in`)."""

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
) -> SyncResult:
    """Apply `bundle` as `app` and prune what `previous` (and the cluster copy) no longer has.

    `previous` is the stored (Redis) inventory, empty if none; `previous_nonempty` says the last
    bundle had objects. `timeout` bounds each wait inside the sync (CRDs Established, a replaced
    object gone); `clock` tells the time waves have been waiting.
    """
    started = time.monotonic()
    record = read_cluster_record(client, app)
    mirrored = record.inventory
    known = merge(mirrored or EMPTY, previous)

    def refused(failures: Sequence[Change], error: SyncError | None = None) -> SyncResult:
        return _result(
            ChangeSet.of(failures),
            known,
            started=started,
            client=client,
            app=app,
            record=record,
            waves=record.waves,
            error=error,
        )

    if problems := bundle_problems(bundle.objects):
        return refused(problems)
    if not bundle.objects and (previous_nonempty or known) and not policy.allow_empty:
        return refused([], SyncError(None, _EMPTY_BUNDLE.format(n=len(known))))
    prepared = prepare_targets(
        client,
        bundle.objects,
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
    checked, failures = check_targets(client, prepared.ready, options, known=prepared.live)
    if prepared.failures or failures:
        return refused((*prepared.failures, *failures))

    provided = [t.key for t in prepared.targets if t.create_only]
    desired = Inventory.of(t.obj for t in prepared.targets if not t.create_only)
    known = known.without(provided)
    ahead = merge(known, desired)
    if ahead != (mirrored or EMPTY):
        write_cluster_inventory(client, app, ahead, waves=record.waves)
    applied = apply_staged(client, options, checked=checked, deferred=prepared.deferred)
    waiting, error, waves = _waves(
        applied.stopped, record, bundle=bundle, policy=policy, now=clock()
    )
    pruned = Pruned(retained=stale(known, desired))
    if policy.prune and not applied.failed and applied.stopped is None:
        pruned = prune_stale(client, app=app, stale=stale(known, desired))
    return _result(
        applied.changes + pruned.changes,
        merge(desired, pruned.retained),
        started=started,
        client=client,
        app=app,
        record=ClusterRecord(inventory=ahead, waves=record.waves),
        waves=waves,
        error=error,
        waiting=waiting,
        applied=applied,
        targets=prepared.targets,
    )


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
            f"{policy.wave_timeout:g}s (sync.waveTimeout): {describe(stop.unhealthy)}"
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
    error: SyncError | None = None,
    waiting: WaveWait | None = None,
    applied: Applied | None = None,
    targets: Sequence[Target] = (),
) -> SyncResult:
    """The result value; the cluster copy updated first when it holds something else."""
    if inventory != (record.inventory or EMPTY) or waves != record.waves:
        write_cluster_inventory(client, app, inventory, waves=waves)
    if error is None and (failed := changes.failed):
        n = len(failed) - 1
        more = f" ({n} more object{'s' if n > 1 else ''} failed)" if n else ""
        error = SyncError(failed[0].key, failed[0].message + more)
    live = applied.live if applied is not None else {}
    facts = read_facts(client, [live.get(t.key) for t in targets]) if applied else None
    objects = tuple(
        ObjectHealth(t.key, *assess_object(live.get(t.key), facts or NO_FACTS))
        for t in targets
        if applied is not None
    )
    tracked_but_not_desired = inventory.keys - {t.key for t in targets}
    in_sync = error is None and waiting is None and not tracked_but_not_desired
    return SyncResult(
        state=SyncState.SYNCED if in_sync else SyncState.OUT_OF_SYNC,
        health=Health.worst(o.health for o in objects) if applied else Health.UNKNOWN,
        changes=changes,
        inventory=inventory,
        error=error,
        duration=time.monotonic() - started,
        objects=objects,
        waiting=waiting,
    )


_EMPTY_BUNDLE = (
    "the bundle is empty but the last one was not ({n} objects tracked on this cluster); "
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
    client: ClusterClient, bundle: Bundle, *, app: str = "", namespace: str | None = None
) -> tuple[Health, tuple[ObjectHealth, ...]]:
    """The application's health on the cluster now: worst of its objects' (one LIST per kind)."""
    located, unserved = _locate_all(client, bundle, app=app, namespace=namespace)
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
    malformed manifests (see `bundle_problems`) are left out."""
    objects = well_formed(bundle.objects)
    bundled = defined_kinds(objects)
    located: list[Target] = []
    unserved: list[Manifest] = []
    for obj in objects:
        try:
            located.append(locate(client, obj, app=app, namespace=namespace, bundled=bundled))
        except UnknownKindError:
            unserved.append(obj)
    return located, unserved
