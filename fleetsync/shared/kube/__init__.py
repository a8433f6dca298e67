"""The apply side: converge one application on one cluster (the only kubernetes-client importer).

The flow, one module per concept: `client` connects to a cluster and resolves kinds; `plan`
orders a bundle into stages and waves; `apply` reads live objects with one LIST per kind, lets
`unchanged` decide locally what applying would not change, validates the rest with a server
dry-run and writes with server-side apply; `wait` waits for CRDs and waves; `prune` deletes what
the inventory tracks and the bundle dropped; `inventory` is the arithmetic of what was applied
and its mirror in the cluster; `health` and `diff` judge live objects; `sync` is the one entry
point tying them together; `read_ahead` and `first_round` send a reconcile's reads before its
first write together.
"""

from fleetsync.shared.kube.changeset import Change, ChangeSet
from fleetsync.shared.kube.client import (
    ApiResource,
    ClusterClient,
    ObjectForbidden,
    RequestRejected,
    UnknownKindError,
    clients_built,
    connect,
    fit_clients,
    keep_clients,
    keep_connections,
    kept_clients,
)
from fleetsync.shared.kube.diff import DriftReport, DriftState, ObjectDrift
from fleetsync.shared.kube.health import (
    ObjectHealth,
    assess_health,
    assess_object,
    describe_unhealthy,
)
from fleetsync.shared.kube.hooks import split_hooks
from fleetsync.shared.kube.hooksync import start_post_delete
from fleetsync.shared.kube.inventory import (
    Inventory,
    InventoryEntry,
    read_cluster_inventory,
    write_cluster_inventory,
)
from fleetsync.shared.kube.shared_reads import SharedReads, share_reads
from fleetsync.shared.kube.sync import (
    SyncError,
    SyncResult,
    assess_live_health,
    check_drift,
    sync_application,
)

__all__ = [
    "ApiResource",
    "Change",
    "ChangeSet",
    "ClusterClient",
    "DriftReport",
    "DriftState",
    "Inventory",
    "InventoryEntry",
    "ObjectDrift",
    "ObjectForbidden",
    "ObjectHealth",
    "RequestRejected",
    "SharedReads",
    "SyncError",
    "SyncResult",
    "UnknownKindError",
    "assess_health",
    "assess_live_health",
    "assess_object",
    "check_drift",
    "clients_built",
    "connect",
    "describe_unhealthy",
    "fit_clients",
    "keep_clients",
    "keep_connections",
    "kept_clients",
    "read_cluster_inventory",
    "share_reads",
    "split_hooks",
    "start_post_delete",
    "sync_application",
    "write_cluster_inventory",
]
