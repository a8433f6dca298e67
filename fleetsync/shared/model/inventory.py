"""The inventory: which objects one application applied to one cluster.

An `Inventory` is a set of entries, one per object: its `ResourceKey` and the apiVersion it was
applied with (a delete needs a version the cluster serves). The arithmetic is pure: `stale` is
what a previous inventory has that the desired one has not (what prune may delete), `merge` is the
union (on a key in both, the later apiVersion wins), which is also how objects whose deletion
failed are re-tracked so the next run retries them. The store keeps one copy per pair in Redis;
`fleetsync.shared.kube.inventory` keeps its mirror in the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.model.resource import ResourceKey

Manifest = Mapping[str, Any]


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
