"""The `scale` subresource: an autoscaling/v1 Scale view of a workload's replicas."""

from __future__ import annotations

import json
from typing import Any

from kubesim import verbs
from kubesim.cluster import Cluster
from kubesim.errors import bad_request, method_not_allowed
from kubesim.patches import PatchError, merge_patch
from kubesim.verbs import Target, WriteOptions


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": spec.get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in selector.items()),
        },
    }


def scale_verb(
    cluster: Cluster,
    t: Target,
    verb: str,
    body: bytes,
    content_type: str,
    opts: WriteOptions,
    user_agent: str,
) -> tuple[int, dict[str, Any]]:
    main = Target(t.rtype, t.version, t.namespace, t.name)
    _, obj = verbs.get(cluster, main)
    if verb == "get":
        return 200, scale_of(obj)
    if verb not in ("update", "patch"):
        raise method_not_allowed(verb, f"{t.rtype.resource}/scale")
    try:
        document = json.loads(body)
        wanted = document if verb == "update" else merge_patch(scale_of(obj), document)
        replicas = int(wanted["spec"]["replicas"])
    except (ValueError, KeyError, TypeError, PatchError):
        raise bad_request("a Scale with spec.replicas is required") from None
    new = {**obj, "spec": {**(obj.get("spec") or {}), "replicas": replicas}}
    _, updated = verbs.update(cluster, main, new, opts, user_agent)
    return 200, scale_of(updated)
