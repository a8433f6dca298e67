"""Deletion: finalizers, propagation policies, garbage collection, namespace and CRD cleanup.

`delete_object` marks or removes one object; `collect_garbage` then plays the garbage collector,
the namespace controller and the CRD cleanup controller until nothing changes. Everything runs
synchronously inside the request, so dependents are gone by the time the DELETE returns unless
a finalizer holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from kubesim.catalog import ResourceType
from kubesim.cluster import CRD_KEY, NAMESPACE_KEY, Cluster, now_rfc3339
from kubesim.crds import CLEANUP_FINALIZER
from kubesim.errors import bad_request
from kubesim.kinddefaults import PROTECTION_FINALIZERS
from kubesim.managedfields import decode_entries, encode_entries, record_update

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
NAMESPACE_FINALIZER = "kubernetes"
GC_MANAGER = "kube-controller-manager"
_MAX_PASSES = 50


class Propagation(StrEnum):
    BACKGROUND = "Background"
    FOREGROUND = "Foreground"
    ORPHAN = "Orphan"


def parse_propagation(value: str | None, orphan_dependents: str | None) -> Propagation:
    if value:
        try:
            return Propagation(value)
        except ValueError:
            raise bad_request(
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported '
                f'value: "{value}": supported values: "Foreground", "Background", '
                f'"Orphan", "nil"'
            ) from None
    if orphan_dependents == "true":
        return Propagation.ORPHAN
    return Propagation.BACKGROUND


def _finalizers(obj: Mapping[str, Any]) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


def _with_meta(obj: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    meta = dict(obj["metadata"])
    for k, v in changes.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    return {**obj, "metadata": meta}


def success_status(rtype: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {
        "name": obj["metadata"]["name"],
        "kind": rtype.resource,
        "uid": obj["metadata"].get("uid", ""),
    }
    if rtype.group:
        details["group"] = rtype.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def delete_object(
    cluster: Cluster,
    rtype: ResourceType,
    obj: dict[str, Any],
    *,
    propagation: Propagation,
    dry_run: bool,
) -> tuple[dict[str, Any], bool]:
    """Delete `obj`; return (the object as it now is, whether it is gone for good)."""
    meta = obj["metadata"]
    if meta.get("deletionTimestamp"):
        return obj, False
    finalizers = _finalizers(obj)
    if propagation is Propagation.FOREGROUND and FOREGROUND not in finalizers:
        finalizers.append(FOREGROUND)
    if propagation is Propagation.ORPHAN and not dry_run:
        _orphan_dependents(cluster, meta.get("uid", ""))
    is_namespace = (rtype.group, rtype.resource) == NAMESPACE_KEY
    if finalizers or is_namespace:
        marked = _with_meta(
            obj,
            deletionTimestamp=now_rfc3339(),
            deletionGracePeriodSeconds=0,
            finalizers=finalizers or None,
        )
        if is_namespace:
            marked["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
        stored = cluster.commit(rtype, obj, marked, dry_run=dry_run)
        if not dry_run:
            collect_garbage(cluster)
            current = (
                cluster.store.get((rtype.group, rtype.resource), "", meta["name"])
                if (is_namespace)
                else stored
            )
            if current is None:
                return stored, True
        return stored, False
    if dry_run:
        return obj, True
    gone = cluster.remove(rtype, obj) or obj
    collect_garbage(cluster)
    return gone, True


def _orphan_dependents(cluster: Cluster, uid: str) -> None:
    for key, dep in list(cluster.store.items()):
        refs = dep["metadata"].get("ownerReferences") or []
        if any(r.get("uid") == uid for r in refs):
            rtype = cluster.types.by_key(*key)
            if rtype is None:
                continue
            kept = [r for r in refs if r.get("uid") != uid]
            orphaned = _with_meta(dep, ownerReferences=kept or None)
            entries = record_update(
                dep,
                orphaned,
                manager=GC_MANAGER,
                api_version=rtype.api_version(),
                subresource="",
                schema=cluster.list_schema(rtype),
                ignore_status=rtype.has_status,
                now=now_rfc3339(),
                entries=decode_entries(dep),
            )
            orphaned["metadata"]["managedFields"] = encode_entries(entries)
            cluster.commit(rtype, dep, orphaned, dry_run=False)


def finish_if_finalized(cluster: Cluster, rtype: ResourceType, obj: dict[str, Any]) -> bool:
    """Remove an object whose deletion was pending and whose last finalizer just went."""
    if obj["metadata"].get("deletionTimestamp") and not _finalizers(obj):
        if (rtype.group, rtype.resource) == NAMESPACE_KEY and (
            (obj.get("spec") or {}).get("finalizers")
        ):
            return False
        cluster.remove(rtype, obj)
        collect_garbage(cluster)
        return True
    return False


def collect_garbage(cluster: Cluster) -> None:
    """Run GC, namespace and CRD cleanup until a fixed point."""
    for _ in range(_MAX_PASSES):
        if not _one_pass(cluster):
            return


def _one_pass(cluster: Cluster) -> bool:
    changed = False
    entries = list(cluster.store.items())
    uids = {obj["metadata"].get("uid") for _, obj in entries}
    dependents: dict[str, list[tuple[ResourceType, dict[str, Any]]]] = {}
    for key, obj in entries:
        rtype = cluster.types.by_key(*key)
        if rtype is None:
            continue
        refs = obj["metadata"].get("ownerReferences") or []
        for r in refs:
            dependents.setdefault(r.get("uid", ""), []).append((rtype, obj))
        if refs and not any(r.get("uid") in uids for r in refs):
            delete_object(cluster, rtype, obj, propagation=Propagation.BACKGROUND, dry_run=False)
            return True
    for key, obj in entries:
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp"):
            continue
        rtype = cluster.types.by_key(*key)
        if rtype is None:
            continue
        finalizers = _finalizers(obj)
        protection = PROTECTION_FINALIZERS.get(rtype.kind) if not rtype.group else None
        if key == NAMESPACE_KEY:
            changed |= _finish_namespace(cluster, rtype, obj)
        elif key == CRD_KEY and CLEANUP_FINALIZER in finalizers:
            changed |= _finish_crd(cluster, rtype, obj)
        elif FOREGROUND in finalizers:
            waiting = [
                d
                for d in dependents.get(meta.get("uid", ""), [])
                if cluster.store.get(
                    (d[0].group, d[0].resource),
                    d[1]["metadata"].get("namespace", ""),
                    d[1]["metadata"]["name"],
                )
                is not None
            ]
            for dtype, dep in waiting:
                if not dep["metadata"].get("deletionTimestamp"):
                    delete_object(
                        cluster, dtype, dep, propagation=Propagation.FOREGROUND, dry_run=False
                    )
                    return True
            if not waiting:
                _drop_finalizer(cluster, rtype, obj, FOREGROUND)
                return True
        elif protection in finalizers:  # no pod uses a claim here, no claim binds a volume
            _drop_finalizer(cluster, rtype, obj, str(protection))
            return True
        elif not finalizers:
            cluster.remove(rtype, obj)
            changed = True
    return changed


def _drop_finalizer(
    cluster: Cluster, rtype: ResourceType, obj: dict[str, Any], finalizer: str
) -> None:
    remaining = [f for f in _finalizers(obj) if f != finalizer]
    updated = cluster.commit(
        rtype, obj, _with_meta(obj, finalizers=remaining or None), dry_run=False
    )
    if not remaining:
        cluster.remove(rtype, updated)


def _finish_namespace(cluster: Cluster, rtype: ResourceType, ns: dict[str, Any]) -> bool:
    name = ns["metadata"]["name"]
    changed = False
    for key, obj in list(cluster.store.items()):
        if obj["metadata"].get("namespace") != name or key == NAMESPACE_KEY:
            continue
        otype = cluster.types.by_key(*key)
        if otype is not None and not obj["metadata"].get("deletionTimestamp"):
            delete_object(cluster, otype, obj, propagation=Propagation.BACKGROUND, dry_run=False)
            changed = True
    if any(obj["metadata"].get("namespace") == name for _, obj in cluster.store.items()):
        return changed
    if (ns.get("spec") or {}).get("finalizers") or _finalizers(ns):
        if _finalizers(ns):
            return False
        cleared = {
            **ns,
            "metadata": dict(ns["metadata"]),
            "spec": {**ns.get("spec", {}), "finalizers": []},
        }
        ns = cluster.commit(rtype, ns, cleared, dry_run=False)
    cluster.remove(rtype, ns)
    return True


def _finish_crd(cluster: Cluster, rtype: ResourceType, crd: dict[str, Any]) -> bool:
    spec = crd.get("spec") or {}
    key = (str(spec.get("group", "")), str((spec.get("names") or {}).get("plural", "")))
    crtype = cluster.crd_type(key)
    if crtype is not None:
        objects = cluster.store.list(key)
        for obj in objects:
            if not obj["metadata"].get("deletionTimestamp"):
                delete_object(
                    cluster, crtype, obj, propagation=Propagation.BACKGROUND, dry_run=False
                )
        if cluster.store.list(key):
            return False
        cluster.unregister_crd(key)
    _drop_finalizer(cluster, rtype, crd, CLEANUP_FINALIZER)
    return True
