"""The inventory: which objects one application applied to one cluster, and its mirror there.

An `Inventory` is a set of entries, one per object: its `ResourceKey` and the apiVersion it was
applied with (a delete needs a version the cluster serves). The arithmetic is pure: `stale` is
what a previous inventory has that the desired one has not (what prune may delete), `merge` is the
union (on a key in both, the later apiVersion wins), which is also how objects whose deletion
failed are re-tracked so the next run retries them.

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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.kube.client import ApiResource, ClusterClient
from fleetsync.shared.kube.ownership import APPLICATION_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL
from fleetsync.shared.model import ResourceKey

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


@dataclass(frozen=True, slots=True, order=True)
class InventoryEntry:
    key: ResourceKey
    api_version: str

    def __str__(self) -> str:
        return f"{self.key} ({self.api_version})"


@dataclass(frozen=True, slots=True)
class Inventory:
    """A set of entries with at most one entry per key."""

    entries: frozenset[InventoryEntry] = frozenset()

    def __post_init__(self) -> None:
        keys = [e.key for e in self.entries]
        if len(keys) != len(set(keys)):
            twice = sorted({str(k) for k in keys if keys.count(k) > 1})
            raise ValueError(f"inventory lists {', '.join(twice)} with two apiVersions")

    @classmethod
    def of(cls, objects: Iterable[Manifest]) -> Inventory:
        """The inventory of manifests (apiVersion as written in each)."""
        return cls.from_entries(
            InventoryEntry(ResourceKey.of(o), str(o.get("apiVersion", ""))) for o in objects
        )

    @classmethod
    def from_entries(cls, entries: Iterable[InventoryEntry]) -> Inventory:
        """An inventory of the entries; on a repeated key the last entry wins."""
        by_key = {e.key: e for e in entries}
        return cls(frozenset(by_key.values()))

    @property
    def keys(self) -> frozenset[ResourceKey]:
        return frozenset(e.key for e in self.entries)

    def api_version(self, key: ResourceKey) -> str:
        for entry in self.entries:
            if entry.key == key:
                return entry.api_version
        raise KeyError(str(key))

    def without(self, keys: Iterable[ResourceKey]) -> Inventory:
        gone = set(keys)
        return Inventory(frozenset(e for e in self.entries if e.key not in gone))

    def __iter__(self) -> Iterator[InventoryEntry]:
        return iter(sorted(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __contains__(self, key: object) -> bool:
        return any(e.key == key for e in self.entries)

    def to_mapping(self) -> dict[str, str]:
        """`{key: apiVersion}` sorted by key: the form both copies are stored in."""
        return dict(sorted((str(e.key), e.api_version) for e in self.entries))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Inventory:
        """Parse `to_mapping`'s form; ValueError naming the bad entry otherwise."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{data!r}: not an inventory; expected {{key: apiVersion}}")
        return cls.from_entries(
            InventoryEntry(ResourceKey.parse(str(k)), str(v)) for k, v in data.items()
        )


EMPTY = Inventory()


def stale(previous: Inventory, desired: Inventory) -> Inventory:
    """What `previous` tracks that `desired` no longer declares: the prune candidates."""
    return previous.without(desired.keys)


def merge(*inventories: Inventory) -> Inventory:
    """The union; on a key in several, the apiVersion of the last one wins."""
    return Inventory.from_entries(e for inv in inventories for e in sorted(inv.entries))


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
