"""Prune: delete what the application applied before and its bundle no longer declares.

The candidates are a stale inventory (`inventory.stale(previous, desired)`). Each is looked up
live first, and deleted only when it is still this application's: its `fleetsync.io/application`
annotation names the application (an object owned by another application, or carrying no
annotation, is left in place and released from the inventory, as is one annotated
`fleetsync.io/prune: disabled` or `argocd.argoproj.io/sync-options: Prune=false`). Deletes go in
reverse apply order (workloads before their namespaces) with background propagation; the
`fleetsync-system` namespace, home of every inventory mirror, is never deleted. Pruning a CRD
refreshes discovery. An object
already gone, or whose kind is no longer served, counts as pruned; a failed delete is reported
and re-tracked in `Pruned.retained`, so the next sync tries again. A delete RBAC forbids
(`ObjectForbidden`: the credentials work, their user lacks the delete verb) says so, and that
the annotation above is the other way out; it fails that object only, never the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.kube.changeset import Change, ChangeSet
from fleetsync.shared.kube.client import (
    ApiResource,
    ClusterClient,
    ObjectForbidden,
    UnknownKindError,
)
from fleetsync.shared.kube.crd import is_crd
from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE, Inventory, InventoryEntry
from fleetsync.shared.kube.ownership import PRUNE_ANNOTATION, owner_of, prune_disabled
from fleetsync.shared.kube.plan import PlanError, kind_rank, plan_prune, stage_of
from fleetsync.shared.model import ChangeAction, ResourceKey

Manifest = Mapping[str, Any]

_OR_LEAVE_IT = f', or annotate the object "{PRUNE_ANNOTATION}: disabled" to leave it in place'
_INVENTORY_HOME = ResourceKey(group="", kind="Namespace", namespace="", name=INVENTORY_NAMESPACE)


@dataclass(frozen=True, slots=True)
class Pruned:
    changes: ChangeSet = field(default_factory=ChangeSet)
    retained: Inventory = field(default_factory=Inventory)
    """Entries whose deletion failed: merge them into the stored inventory to retry."""


def prune_stale(client: ClusterClient, *, app: str, stale: Inventory) -> Pruned:
    changes: list[Change] = []
    retained: list[InventoryEntry] = []
    doomed: dict[ResourceKey, tuple[InventoryEntry, ApiResource, Manifest]] = {}
    for entry in stale:
        try:
            found = _look_up(client, entry)
        except FleetsyncError as e:
            changes.append(Change(entry.key, ChangeAction.FAILED, f"prune failed: {e}"))
            retained.append(entry)
            continue
        if found is None:
            changes.append(Change(entry.key, ChangeAction.PRUNED, "already gone"))
            continue
        resource, live = found
        reason = _keep_reason(live, app=app)
        if reason is not None:
            changes.append(Change(entry.key, ChangeAction.SKIPPED, reason))
        else:
            doomed[entry.key] = (entry, resource, live)
    for live in _delete_order([d[2] for d in doomed.values()]):
        entry, resource, _ = doomed[ResourceKey.of(live)]
        try:
            deleted = client.delete(resource, name=entry.key.name, namespace=entry.key.namespace)
        except ObjectForbidden as e:
            message = f"prune failed: {e.worded(_OR_LEAVE_IT)}"
            changes.append(Change(entry.key, ChangeAction.FAILED, message))
            retained.append(entry)
            continue
        except FleetsyncError as e:
            changes.append(Change(entry.key, ChangeAction.FAILED, f"prune failed: {e}"))
            retained.append(entry)
            continue
        changes.append(Change(entry.key, ChangeAction.PRUNED, "" if deleted else "already gone"))
    if any(is_crd(live) for _, _, live in doomed.values()):
        client.invalidate_discovery()
    return Pruned(changes=ChangeSet.of(changes), retained=Inventory.from_entries(retained))


def _look_up(client: ClusterClient, entry: InventoryEntry) -> tuple[ApiResource, Manifest] | None:
    """Where the entry lives and its live object; None when it is gone (or its kind is)."""
    try:
        resource = client.resolve(entry.api_version, entry.key.kind, any_version=True)
    except UnknownKindError:
        return None
    live = client.get(resource, name=entry.key.name, namespace=entry.key.namespace)
    return (resource, live) if live is not None else None


def _keep_reason(live: Manifest, *, app: str) -> str | None:
    if ResourceKey.of(live) == _INVENTORY_HOME:
        return f"namespace {INVENTORY_NAMESPACE} holds fleetsync's inventories; left in place"
    owner = owner_of(live)
    if owner is None:
        return "not marked as applied by fleetsync; left in place"
    if owner != app:
        return f"owned by fleetsync application {owner!r}; left in place"
    if prune_disabled(live):
        return "prune disabled by annotation; left in place"
    return None


def _delete_order(objects: list[Manifest]) -> tuple[Manifest, ...]:
    try:
        return plan_prune(objects)
    except PlanError:
        # A sync-wave annotation edited out of band into nonsense: order without waves.
        return tuple(
            sorted(
                objects,
                key=lambda o: (
                    int(stage_of(o)),
                    kind_rank(str(o.get("kind"))),
                    str(ResourceKey.of(o)),
                ),
                reverse=True,
            )
        )
