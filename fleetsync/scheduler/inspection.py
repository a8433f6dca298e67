"""What a sync of one (application, cluster) would do, read from the cluster (reads only): each
desired object with its live health and its drift, each missing object with the content a sync
would create, and each object a sync would prune (tracked in the inventory, no longer in Git).

Secret values never leave here unmasked unless asked (`show_secrets`, the CLI's local
`--show-secrets`): the masking is `fleetsync.shared.kube.diff`'s (every value `***`, a value that
differs `*** (changed)` on the desired side), so a diff tells that a key changed, never what it
holds.

Used by `fleetsync diff`, the API's diff endpoint and the web view's cluster page; the cluster
is read through `fleetsync.shared.kube`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from fleetsync.shared.kube import Inventory, UnknownKindError, connect, read_cluster_inventory
from fleetsync.shared.kube.crd import defined_kinds
from fleetsync.shared.kube.diff import diff_object, masked_secret, normalize, to_yaml
from fleetsync.shared.kube.health import assess_object
from fleetsync.shared.kube.ownership import owner_of, prune_disabled
from fleetsync.shared.kube.targets import locate
from fleetsync.shared.model import ResourceKey
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.inventory import merge, stale
from fleetsync.shared.model.status import Health

Manifest = Mapping[str, Any]
READ_TIMEOUT = 20.0
MISSING_MESSAGE = "not in the cluster: a sync creates it"


class ObjectState(StrEnum):
    IN_SYNC = "in sync"
    MODIFIED = "modified"
    MISSING = "missing"
    """Declared in Git, not in the cluster: a sync creates it."""
    PRUNE = "prune"
    """In the cluster, tracked as applied by the application, no longer in Git: a sync with
    prune on deletes it."""
    EXTRANEOUS = "extraneous"
    """No longer in Git but kept: prune is off, or the object is protected or not ours."""


@dataclass(frozen=True, slots=True)
class ObjectView:
    key: str
    state: ObjectState
    health: Health | None
    """The live object's health; None for objects a sync would remove."""
    message: str
    diff: str
    """Unified YAML diff, live (-) against desired (+); the whole object for a missing or
    pruned one. Secret values masked."""


@dataclass(frozen=True, slots=True)
class PairDiff:
    application: str
    cluster: str
    objects: list[ObjectView]
    counts: dict[str, int]
    """Objects per state."""

    @property
    def differs(self) -> bool:
        return any(o.state is not ObjectState.IN_SYNC for o in self.objects)

    def summary(self) -> str:
        parts = [f"{n} {state}" for state, n in self.counts.items() if n]
        return ", ".join(parts) or "no objects"


def inspect_pair(
    fleet: Fleet,
    app: AppName,
    cluster: ClusterName,
    bundle: Bundle,
    *,
    stored_inventory: Inventory | None,
    cache_dir: Path,
    show_secrets: bool = False,
) -> PairDiff:
    """Compare `bundle` with the cluster's live objects (nothing is written)."""
    application = fleet.applications[app]
    client = connect(fleet.clusters[cluster], cache_dir=cache_dir, timeout=READ_TIMEOUT)
    bundled = defined_kinds(bundle.objects)
    views: list[ObjectView] = []
    desired_keys: list[Manifest] = []
    for obj in bundle.objects:
        try:
            target = locate(client, obj, app=app, namespace=application.namespace, bundled=bundled)
        except UnknownKindError as exc:
            views.append(_missing(obj, f"kind not served by the cluster: {exc}", show_secrets))
            desired_keys.append(obj)
            continue
        desired_keys.append(target.obj)
        live = (
            None
            if target.deferred
            else client.get(target.resource, name=target.key.name, namespace=target.key.namespace)
        )
        if live is None:
            views.append(_missing(target.obj, MISSING_MESSAGE, show_secrets))
            continue
        views.append(_compare(target.obj, live, show_secrets))
    known = merge(
        read_cluster_inventory(client, app) or Inventory(),
        stored_inventory or Inventory(),
    )
    for entry in stale(known, Inventory.of(desired_keys)):
        try:
            resource = client.resolve(entry.api_version, entry.key.kind, any_version=True)
        except UnknownKindError:
            continue
        live = client.get(resource, name=entry.key.name, namespace=entry.key.namespace)
        if live is None:
            continue
        keep = _keep_reason(live, app=app, prune=application.sync.prune)
        state = ObjectState.EXTRANEOUS if keep else ObjectState.PRUNE
        body = _shown(normalize(live), show_secrets)
        views.append(
            ObjectView(
                key=str(entry.key),
                state=state,
                health=None,
                message=keep or "no longer in Git: a sync deletes it",
                diff=_whole(str(entry.key), body, sign="-"),
            )
        )
    counts = {s.value: sum(1 for v in views if v.state is s) for s in ObjectState}
    return PairDiff(application=app, cluster=cluster, objects=views, counts=counts)


def _keep_reason(live: Manifest, *, app: str, prune: bool) -> str | None:
    owner = owner_of(live)
    if owner is not None and owner != app:
        return f"owned by application {owner!r}; left in place"
    if prune_disabled(live):
        return "prune disabled by annotation; left in place"
    if not prune:
        return "no longer in Git; kept because sync.prune is off"
    return None


def _compare(desired: Manifest, live: Manifest, show_secrets: bool) -> ObjectView:
    health, why = assess_object(live)
    drift = diff_object(desired, live, reveal_secrets=show_secrets)
    key = str(drift.key) if drift else _key(desired)
    if drift is None:
        return ObjectView(key, ObjectState.IN_SYNC, health, why, "")
    return ObjectView(key, ObjectState.MODIFIED, health, why, drift.diff)


def _missing(obj: Manifest, message: str, show_secrets: bool) -> ObjectView:
    body = _shown(normalize(obj), show_secrets)
    key = _key(obj)
    return ObjectView(key, ObjectState.MISSING, Health.MISSING, message, _whole(key, body, "+"))


def _key(obj: Manifest) -> str:
    return str(ResourceKey.of(obj))


def _whole(key: str, obj: Manifest, sign: str) -> str:
    lines = to_yaml(obj).splitlines()
    header = f"--- live/{key}\n+++ desired/{key}\n" + (
        f"@@ -0,0 +1,{len(lines)} @@\n" if sign == "+" else f"@@ -1,{len(lines)} +0,0 @@\n"
    )
    return header + "".join(f"{sign}{line}\n" for line in lines)


def _shown(obj: Manifest, show_secrets: bool) -> Manifest:
    return obj if show_secrets else masked_secret(obj)
