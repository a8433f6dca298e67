"""Converge one application on one cluster: the apply side's single entry point.

`sync_application` reads the cluster's inventory copy, prepares and validates the whole bundle
(nothing is written unless every object passes), records the new objects in the cluster copy
before writing them (so a crash mid-apply orphans nothing), applies the bundle in stages, prunes
what is stale, and returns a `SyncResult` value: the caller stores its inventory, status and
history. Object-level problems come back in the result; a cluster-level one (unreachable,
credentials refused) is raised as TransientError / PermanentError.

The rules, in order: an invalid bundle or a failed validation applies and prunes nothing; an empty
bundle where the application had objects prunes nothing unless `policy.allow_empty`; prune runs
only with `policy.prune` and only after every object applied; what could not be pruned stays
tracked.

`check_drift` and `assess_live_health` only read (one LIST per kind, see `apply.read_live`):
what differs from the bundle, and how healthy the application's objects are, for the periodic
drift and health tasks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.apply import (
    Applied,
    Target,
    apply_staged,
    bundle_problems,
    check_targets,
    locate,
    prepare_targets,
    read_live,
    well_formed,
)
from fleetsync.shared.kube.changeset import Change, ChangeSet
from fleetsync.shared.kube.client import ClusterClient, UnknownKindError
from fleetsync.shared.kube.crd import defined_kinds
from fleetsync.shared.kube.diff import DriftReport, diff_objects
from fleetsync.shared.kube.health import ObjectHealth, assess_object
from fleetsync.shared.kube.inventory import (
    EMPTY,
    Inventory,
    merge,
    read_cluster_inventory,
    stale,
    write_cluster_inventory,
)
from fleetsync.shared.kube.prune import Pruned, prune_stale
from fleetsync.shared.model import Health, ResourceKey, SyncState
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import SyncPolicy

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

    @property
    def counts(self) -> dict[str, int]:
        """created, configured, unchanged, pruned, skipped, failed."""
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
    wait_for_waves: bool = False,
    timeout: float = 120.0,
) -> SyncResult:
    """Apply `bundle` as `app` and prune what `previous` (and the cluster copy) no longer has.

    `previous` is the stored (Redis) inventory, empty if none; `previous_nonempty` says the last
    bundle had objects. `timeout` bounds each wait (CRDs Established, a wave healthy).
    """
    started = time.monotonic()
    mirrored = read_cluster_inventory(client, app)
    known = merge(mirrored or EMPTY, previous)

    def refused(failures: Sequence[Change], error: SyncError | None = None) -> SyncResult:
        return _result(
            ChangeSet.of(failures),
            known,
            started=started,
            client=client,
            app=app,
            mirrored=mirrored,
            error=error,
        )

    if problems := bundle_problems(bundle.objects):
        return refused(problems)
    if not bundle.objects and (previous_nonempty or known) and not policy.allow_empty:
        return refused([], SyncError(None, _EMPTY_BUNDLE.format(n=len(known))))
    prepared = prepare_targets(client, bundle.objects, app=app, namespace=namespace)
    checked, failures = check_targets(
        client, prepared.ready, app=app, force=policy.force_conflicts, known=prepared.live
    )
    if prepared.failures or failures:
        return refused((*prepared.failures, *failures))

    desired = Inventory.of(t.obj for t in prepared.targets)
    ahead = merge(known, desired)
    if ahead != (mirrored or EMPTY):
        write_cluster_inventory(client, app, ahead)
    applied = apply_staged(
        client,
        checked=checked,
        deferred=prepared.deferred,
        app=app,
        force=policy.force_conflicts,
        wait_for_waves=wait_for_waves,
        timeout=timeout,
    )
    pruned = Pruned(retained=stale(known, desired))
    if policy.prune and not applied.failed:
        pruned = prune_stale(client, app=app, stale=stale(known, desired))
    return _result(
        applied.changes + pruned.changes,
        merge(desired, pruned.retained),
        started=started,
        client=client,
        app=app,
        mirrored=ahead,
        applied=applied,
        targets=prepared.targets,
    )


def _result(
    changes: ChangeSet,
    inventory: Inventory,
    *,
    started: float,
    client: ClusterClient,
    app: str,
    mirrored: Inventory | None,
    error: SyncError | None = None,
    applied: Applied | None = None,
    targets: Sequence[Target] = (),
) -> SyncResult:
    """The result value; the cluster copy updated first when `inventory` differs from it."""
    if inventory != (mirrored or EMPTY):
        write_cluster_inventory(client, app, inventory)
    if error is None and (failed := changes.failed):
        n = len(failed) - 1
        more = f" ({n} more object{'s' if n > 1 else ''} failed)" if n else ""
        error = SyncError(failed[0].key, failed[0].message + more)
    objects = tuple(
        ObjectHealth(t.key, *assess_object(applied.live.get(t.key)))
        for t in targets
        if applied is not None
    )
    tracked_but_not_desired = inventory.keys - {t.key for t in targets}
    in_sync = error is None and not tracked_but_not_desired
    return SyncResult(
        state=SyncState.SYNCED if in_sync else SyncState.OUT_OF_SYNC,
        health=Health.worst(o.health for o in objects) if applied else Health.UNKNOWN,
        changes=changes,
        inventory=inventory,
        error=error,
        duration=time.monotonic() - started,
        objects=objects,
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
    verdicts += [ObjectHealth(t.key, *assess_object(live.get(t.key))) for t in located]
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
