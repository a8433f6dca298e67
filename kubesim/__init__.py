"""kubesim: a Kubernetes API emulator serving many simulated clusters from one process.

It speaks enough of the Kubernetes API (discovery, CRUD, server-side apply, patches, watch,
deletion and garbage collection, CRDs) that the official client and kubectl cannot tell it from
a real server for what a GitOps engine does, and adds per-cluster fault injection, simulated
controllers and request counters. It imports nothing from fleetsync.
"""

from kubesim.faults import ControllerSettings, DownMode, FaultSettings, RequestRecord
from kubesim.simulator import ClusterHandle, Simulator, cluster_names

__all__ = [
    "ClusterHandle",
    "ControllerSettings",
    "DownMode",
    "FaultSettings",
    "RequestRecord",
    "Simulator",
    "cluster_names",
]
