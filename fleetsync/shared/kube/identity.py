"""Which declared cluster a Kubernetes cluster belongs to: one claim per real cluster.

Two declared clusters whose kubeconfigs reach the same Kubernetes cluster would both apply, both
write the same inventory mirror and prune each other's view of it. A cluster's identity is the
uid of its `kube-system` namespace (created once with the cluster, never recreated); the claim
is a ConfigMap `fleetsync-system/fleetsync-cluster` naming the declared cluster that owns it and
that uid. It lives in the cluster itself, so it survives a loss of Redis, and the API server
arbitrates who creates it first (a create, not an apply: a second creator gets 409).

`claim_cluster` runs before a reconcile writes anything: a claim by another cluster that the
fleet still declares refuses this one (`DuplicateCluster`, naming both); a missing claim is
created; a claim whose owner is no longer declared (a renamed cluster), or whose uid is not this
cluster's (a `fleetsync-system` restored from another cluster's backup), is taken over.
`verify_claim` is the read-only half, for a reconcile that only looks or a removal: it refuses a
duplicate the same way and writes nothing.

A verified claim is remembered in the process for `VERIFIED_FOR` seconds, so that a reconcile of
every application on a cluster does not read it again each time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Mapping
from typing import Any

from fleetsync.shared.errors import ClusterFailure, PermanentError
from fleetsync.shared.kube.client import ApiResource, ClusterClient, Forbidden, RequestRejected
from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE, ensure_inventory_namespace
from fleetsync.shared.kube.ownership import MANAGED_BY, MANAGED_BY_LABEL
from fleetsync.shared.kube.read_ahead import Read

CLAIM_NAME = "fleetsync-cluster"
VERIFIED_FOR = 60.0

_CONFIGMAP = ApiResource(
    group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True
)
_NAMESPACE = ApiResource(
    group="", version="v1", kind="Namespace", plural="namespaces", namespaced=False
)

_verified: dict[tuple[str, str], float] = {}
_verified_lock = threading.Lock()


class DuplicateCluster(ClusterFailure, PermanentError):
    """Two declared clusters reach the same Kubernetes cluster; this one is refused."""

    def __init__(self, *, cluster: str, owner: str, uid: str) -> None:
        super().__init__(
            f"cluster {cluster}: its kubeconfig reaches the same Kubernetes cluster as cluster "
            f"{owner} (kube-system uid {uid or 'unknown'}); fleetsync manages it as {owner} "
            f"only and writes nothing through {cluster}: remove one of the two from fleet.yaml "
            "or point its kubeconfig at the cluster meant"
        )
        self.cluster = cluster
        self.owner = owner
        self.uid = uid


def cluster_uid(client: ClusterClient) -> str:
    """The uid of the cluster's kube-system namespace; "" when the credentials may not read it
    (the claim alone then tells clusters apart)."""
    try:
        live = client.get(_NAMESPACE, name="kube-system")
    except Forbidden:
        return ""
    return str(((live or {}).get("metadata") or {}).get("uid") or "")


def claim_cluster(client: ClusterClient, *, cluster: str, declared: Collection[str]) -> bool:
    """Make sure `cluster` owns the Kubernetes cluster `client` reaches (see the module
    docstring). Raises DuplicateCluster. True when the cluster held no claim: a new cluster, or
    one wiped since (its fleetsync-system gone), whose mirrors the caller writes again."""
    return _check(client, cluster=cluster, declared=declared, write=True)


def verify_claim(client: ClusterClient, *, cluster: str, declared: Collection[str]) -> bool:
    """Refuse `cluster` when another declared cluster owns what `client` reaches; no write.
    True when the cluster holds no claim (see `claim_cluster`)."""
    return _check(client, cluster=cluster, declared=declared, write=False)


def claim_reads(client: ClusterClient, *, cluster: str) -> tuple[Read, ...]:
    """What `claim_cluster` and `verify_claim` read first: the kube-system namespace and the
    claim, unless the claim was verified lately (see `kube/read_ahead.py`)."""
    with _verified_lock:
        if _verified.get((cluster, client.kubeconfig), 0.0) > time.monotonic():
            return ()
    return (
        Read(_NAMESPACE, name="kube-system"),
        Read(_CONFIGMAP, INVENTORY_NAMESPACE, CLAIM_NAME),
    )


def forget_verified() -> None:
    """Forget every verified claim (tests; a process that wants to look again at once)."""
    with _verified_lock:
        _verified.clear()


def _check(client: ClusterClient, *, cluster: str, declared: Collection[str], write: bool) -> bool:
    memo = (cluster, client.kubeconfig)
    with _verified_lock:
        if _verified.get(memo, 0.0) > time.monotonic():
            return False
    uid = cluster_uid(client)
    missing = False
    for _ in range(3):
        claim = client.get(_CONFIGMAP, name=CLAIM_NAME, namespace=INVENTORY_NAMESPACE)
        missing = missing or claim is None
        owner, claimed_uid = _owner(claim)
        same_cluster = not uid or not claimed_uid or claimed_uid == uid
        if owner and owner != cluster and owner in declared and same_cluster:
            raise DuplicateCluster(cluster=cluster, owner=owner, uid=uid or claimed_uid)
        if owner == cluster and claimed_uid == uid:
            break  # owned, and verified
        if not write:
            return missing  # nobody else owns it; the next apply claims it
        try:
            _write_claim(client, cluster, uid, exists=claim is not None)
        except RequestRejected as e:
            if e.code != 409:
                raise
            continue  # created meanwhile by another: read who
        break
    with _verified_lock:
        _verified[memo] = time.monotonic() + VERIFIED_FOR
    return missing


def _write_claim(client: ClusterClient, cluster: str, uid: str, *, exists: bool) -> None:
    """Create the claim (409 when another creates it first) or take it over."""
    body = _claim_body(cluster, uid)
    if exists:
        client.apply(_CONFIGMAP, body, force=True)
        return
    ensure_inventory_namespace(client)
    client.create(_CONFIGMAP, body)


def _owner(claim: Mapping[str, Any] | None) -> tuple[str, str]:
    data = (claim or {}).get("data") or {}
    return str(data.get("cluster") or ""), str(data.get("uid") or "")


def _claim_body(cluster: str, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CLAIM_NAME,
            "namespace": INVENTORY_NAMESPACE,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
        },
        "data": {"cluster": cluster, "uid": uid},
    }
