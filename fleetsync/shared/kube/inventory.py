"""The inventory: which objects one application applied to one cluster, and its mirror there.

The value and its pure arithmetic (`Inventory`, `stale`, `merge`) live in
`fleetsync.shared.model.inventory` and are re-exported here.

The engine keeps two copies. The caller passes the Redis copy in and stores the one a sync returns;
the cluster copy is a ConfigMap `fleetsync-inventory-<app>` in namespace `fleetsync-system` of the
target cluster, read and written here. A sync works from the UNION of both copies, so losing Redis
(or a stale Redis copy) never orphans an object: when Redis has none, the cluster copy alone is
the previous inventory. The union never causes a wrong delete, because prune deletes only objects
whose live annotation names the application (see `prune`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from fleetsync.shared.kube.client import ApiResource, ClusterClient
from fleetsync.shared.kube.ownership import APPLICATION_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL
from fleetsync.shared.model.inventory import EMPTY, Inventory, InventoryEntry, merge, stale

log = logging.getLogger(__name__)

Manifest = Mapping[str, Any]

INVENTORY_NAMESPACE = "fleetsync-system"
INVENTORY_PREFIX = "fleetsync-inventory-"
INVENTORY_DATA_KEY = "inventory.json"

_CONFIGMAP = ApiResource(
    group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True
)
_NAMESPACE = ApiResource(
    group="", version="v1", kind="Namespace", plural="namespaces", namespaced=False
)
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

__all__ = [
    "EMPTY",
    "Inventory",
    "InventoryEntry",
    "inventory_text",
    "merge",
    "mirror_name",
    "read_cluster_inventory",
    "stale",
    "write_cluster_inventory",
]

# -- the cluster copy ------------------------------------------------------------------------


def mirror_name(app: str) -> str:
    """`fleetsync-inventory-<app>`, made a valid ConfigMap name when the app name is not one."""
    name = INVENTORY_PREFIX + app
    if len(name) <= 253 and _DNS_NAME.match(name):
        return name
    digest = hashlib.sha256(app.encode()).hexdigest()[:10]
    cleaned = re.sub(r"[^a-z0-9-]+", "-", app.lower()).strip("-")[:200]
    return f"{INVENTORY_PREFIX}{cleaned}-{digest}" if cleaned else INVENTORY_PREFIX + digest


def read_cluster_inventory(client: ClusterClient, app: str) -> Inventory | None:
    """The cluster copy, or None when the cluster has none (or an unreadable one, logged)."""
    live = client.get(_CONFIGMAP, name=mirror_name(app), namespace=INVENTORY_NAMESPACE)
    if live is None:
        return None
    text = (live.get("data") or {}).get(INVENTORY_DATA_KEY, "{}")
    try:
        return Inventory.from_mapping(json.loads(text))
    except ValueError as e:
        log.warning(
            "%s/%s on cluster %s is not a fleetsync inventory (%s); using the Redis copy alone",
            INVENTORY_NAMESPACE,
            mirror_name(app),
            client.name,
            e,
        )
        return None


def write_cluster_inventory(client: ClusterClient, app: str, inventory: Inventory) -> None:
    """Store the cluster copy (server-side apply), creating namespace fleetsync-system if needed."""
    if client.get(_NAMESPACE, name=INVENTORY_NAMESPACE) is None:
        client.apply(_NAMESPACE, _managed(_NAMESPACE, INVENTORY_NAMESPACE, ""), force=True)
    body = dict(_managed(_CONFIGMAP, mirror_name(app), INVENTORY_NAMESPACE))
    body["metadata"]["annotations"] = {APPLICATION_ANNOTATION: app}
    body["data"] = {INVENTORY_DATA_KEY: inventory_text(inventory)}
    client.apply(_CONFIGMAP, body, force=True)


def inventory_text(inventory: Inventory) -> str:
    """One entry per line, so `kubectl get configmap -o yaml` stays readable."""
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in inventory.to_mapping().items()]
    return "{\n" + ",\n".join(lines) + "\n}\n" if lines else "{}\n"


def _managed(resource: ApiResource, name: str, namespace: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY}}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": metadata}
