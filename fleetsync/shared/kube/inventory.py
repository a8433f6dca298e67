"""The inventory: which objects one application applied to one cluster, and its mirror there.

The value and its pure arithmetic (`Inventory`, `stale`, `merge`) live in
`fleetsync.shared.model.inventory` and are re-exported here.

The engine keeps two copies. The caller passes the Redis copy in and stores the one a sync returns;
the cluster copy is a ConfigMap `fleetsync-inventory-<app>` in namespace `fleetsync-system` of the
target cluster, read and written here. A sync works from the UNION of both copies, so losing
Redis (or a stale Redis copy) never orphans an object: when Redis has none, the cluster copy alone
is the previous inventory. The union never causes a wrong delete, because prune deletes only objects
whose live annotation names the application (see `prune`). The same ConfigMap records, while a
sync waits before a wave, since when it has been waiting (`waves.WaveProgress`), and where the
hooks of the last bundle synced with hooks stand (`hookrun.HookRun`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetsync.shared.kube.client import ApiResource, ClusterClient
from fleetsync.shared.kube.hookrun import HookRun
from fleetsync.shared.kube.ownership import (
    APPLICATION_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    RECORDS_NAMESPACE,
)
from fleetsync.shared.kube.read_ahead import Read
from fleetsync.shared.kube.waves import WaveProgress
from fleetsync.shared.model.inventory import EMPTY, Inventory, InventoryEntry, merge, stale

log = logging.getLogger(__name__)

Manifest = Mapping[str, Any]

INVENTORY_NAMESPACE = RECORDS_NAMESPACE
INVENTORY_PREFIX = "fleetsync-inventory-"
INVENTORY_DATA_KEY = "inventory.json"
WAVES_DATA_KEY = "waves.json"
HOOKS_DATA_KEY = "hooks.json"

_CONFIGMAP = ApiResource(
    group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True
)
INVENTORY_CONFIGMAPS = _CONFIGMAP
_NAMESPACE = ApiResource(
    group="", version="v1", kind="Namespace", plural="namespaces", namespaced=False
)
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

__all__ = [
    "EMPTY",
    "ClusterRecord",
    "Inventory",
    "InventoryEntry",
    "ensure_inventory_namespace",
    "inventory_text",
    "merge",
    "mirror_name",
    "read_cluster_inventory",
    "read_cluster_record",
    "record_read",
    "stale",
    "write_cluster_inventory",
]

# -- the cluster copy ------------------------------------------------------------------------


def mirror_name(app: str, *, prefix: str = INVENTORY_PREFIX) -> str:
    """`fleetsync-inventory-<app>` (or another prefix), made a valid object name when the app
    name is not one."""
    name = prefix + app
    if len(name) <= 253 and _DNS_NAME.match(name):
        return name
    digest = hashlib.sha256(app.encode()).hexdigest()[:10]
    cleaned = re.sub(r"[^a-z0-9-]+", "-", app.lower()).strip("-")[:200]
    return f"{prefix}{cleaned}-{digest}" if cleaned else prefix + digest


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    """What the cluster's ConfigMap holds for an application."""

    inventory: Inventory | None = None
    """None when the cluster has no copy (or an unreadable one, logged)."""
    waves: WaveProgress | None = field(default=None)
    hooks: HookRun | None = field(default=None)
    """The hooks' run of the last bundle synced with hooks (see `hookrun`)."""


def read_cluster_inventory(client: ClusterClient, app: str) -> Inventory | None:
    """The cluster copy, or None when the cluster has none (or an unreadable one, logged)."""
    return read_cluster_record(client, app).inventory


def record_read(app: str) -> Read:
    """The request `read_cluster_record` makes (see `kube/read_ahead.py`)."""
    return Read(_CONFIGMAP, INVENTORY_NAMESPACE, mirror_name(app))


def read_cluster_record(client: ClusterClient, app: str) -> ClusterRecord:
    live = client.get(_CONFIGMAP, name=mirror_name(app), namespace=INVENTORY_NAMESPACE)
    if live is None:
        return ClusterRecord()
    data = live.get("data") or {}
    text = data.get(INVENTORY_DATA_KEY, "{}")
    try:
        inventory: Inventory | None = Inventory.from_mapping(json.loads(text))
    except ValueError as e:
        log.warning(
            "%s/%s on cluster %s is not a fleetsync inventory (%s); using the Redis copy alone",
            INVENTORY_NAMESPACE,
            mirror_name(app),
            client.name,
            e,
        )
        inventory = None
    try:
        waves = WaveProgress.from_json(json.loads(data[WAVES_DATA_KEY]))
    except (KeyError, ValueError):
        waves = None
    try:
        hooks = HookRun.from_json(json.loads(data[HOOKS_DATA_KEY]))
    except (KeyError, ValueError):
        hooks = None
    return ClusterRecord(inventory=inventory, waves=waves, hooks=hooks)


def write_cluster_inventory(
    client: ClusterClient,
    app: str,
    inventory: Inventory,
    *,
    waves: WaveProgress | None = None,
    hooks: HookRun | None = None,
) -> None:
    """Store the cluster copy (server-side apply), creating namespace fleetsync-system if needed;
    with `waves`, the wave a sync waits before, which a write without it clears; with `hooks`,
    the hooks' run, which a write without it clears."""
    ensure_inventory_namespace(client)
    body = dict(_managed(_CONFIGMAP, mirror_name(app), INVENTORY_NAMESPACE))
    body["metadata"]["annotations"] = {APPLICATION_ANNOTATION: app}
    body["data"] = {INVENTORY_DATA_KEY: inventory_text(inventory)}
    if waves is not None:
        body["data"][WAVES_DATA_KEY] = json.dumps(waves.to_json(), sort_keys=True)
    if hooks is not None:
        body["data"][HOOKS_DATA_KEY] = json.dumps(hooks.to_json(), sort_keys=True)
    client.apply(_CONFIGMAP, body, force=True)


def ensure_inventory_namespace(client: ClusterClient) -> None:
    """Create namespace fleetsync-system when the cluster has none (a new or wiped cluster)."""
    if client.get(_NAMESPACE, name=INVENTORY_NAMESPACE) is None:
        client.apply(_NAMESPACE, _managed(_NAMESPACE, INVENTORY_NAMESPACE, ""), force=True)


def inventory_text(inventory: Inventory) -> str:
    """One entry per line, so `kubectl get configmap -o yaml` stays readable."""
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in inventory.to_mapping().items()]
    return "{\n" + ",\n".join(lines) + "\n}\n" if lines else "{}\n"


def _managed(resource: ApiResource, name: str, namespace: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY}}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": metadata}
