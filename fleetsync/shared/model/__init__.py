"""Pure values of the fleetsync domain: no I/O, no external systems."""

from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.resource import ResourceKey
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import ChangeAction, Health, SyncState

__all__ = [
    "AppName",
    "ChangeAction",
    "ClusterName",
    "Digest",
    "Health",
    "RepoName",
    "ResourceKey",
    "Revision",
    "SyncState",
]
