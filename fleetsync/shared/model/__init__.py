"""Pure values of the fleetsync domain: no I/O, no external systems, standard library only."""

from fleetsync.shared.model.desired import DesiredState, Pin
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.inventory import Inventory, InventoryEntry
from fleetsync.shared.model.report import ObjectChange, PairStatus
from fleetsync.shared.model.resource import ResourceKey
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import ChangeAction, Health, SyncState
from fleetsync.shared.model.trigger import Trigger

__all__ = [
    "AppName",
    "ChangeAction",
    "ClusterName",
    "DesiredState",
    "Digest",
    "Health",
    "Inventory",
    "InventoryEntry",
    "ObjectChange",
    "PairStatus",
    "Pin",
    "RepoName",
    "ResourceKey",
    "Revision",
    "SyncState",
    "Trigger",
]
