"""Table answers for `kubectl get` (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).

The columns of every built-in resource are the real server's (`data/builtin-api.json`, made by
`apigen`); custom resources show Name and their CRD's `additionalPrinterColumns` (Age when it
has none). Cells are computed the way the server's printers compute them for the kinds a GitOps
engine deploys; a column kubesim has no printer for reads `<unknown>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kubesim.catalog import ResourceType
from kubesim.schema import table as api_table

MEDIA = "application/json;as=Table;v=v1;g=meta.k8s.io"
NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "priority": 0,
    "description": "Name must be unique within a namespace. Is required when "
    "creating resources, although some resources may allow a client to request the "
    "generation of an appropriate name automatically. Name is primarily intended for "
    "creation idempotence and configuration definition. Cannot be updated. More "
    "info: http://kubernetes.io/docs/user-guide/identifiers#names",
}
AGE_PATH = ".metadata.creationTimestamp"
UNKNOWN = "<unknown>"
Obj = Mapping[str, Any]
Printer = Callable[[Obj], dict[str, Any]]


def wants_table(accept: str) -> bool:
    """Whether the client asked for a Table (kubectl get does, with JSON as a fallback)."""
    first = accept.split(",", 1)[0].replace(" ", "")
    return "as=Table" in first and "g=meta.k8s.io" in first


def human_duration(seconds: float) -> str:
    """The age the server prints (`45s`, `5m10s`, `3h`, `2d5h`, `400d`, `3y10d`)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = hours // (24 * 365), (hours // 24) % 365
    if hours < 24 * 365 * 8:
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{years}y"


def age(obj: Obj) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return UNKNOWN
    then = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((datetime.now(UTC) - then).total_seconds())


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(obj, Mapping):
            return default
        obj = obj.get(p)
    return default if obj is None else obj


def selector_text(selector: Any) -> str:
    """A label selector as the server prints it (`app=web,tier in (a,b)`), `<none>` if empty."""
    if not isinstance(selector, Mapping):
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or ():
        op, key, values = e.get("operator"), e.get("key"), ",".join(e.get("values") or ())
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": str(key),
                "DoesNotExist": f"!{key}",
            }.get(op, str(key))
        )
    return ",".join(parts) or "<none>"


def _labels_text(labels: Any) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def _containers(spec: Any) -> dict[str, Any]:
    containers = _get(spec, "containers", default=[])
    return {
        "Containers": ",".join(c.get("name", "") for c in containers),
        "Images": ",".join(c.get("image", "") for c in containers),
    }


def _workload(obj: Obj) -> dict[str, Any]:
    return {
        **_containers(_get(obj, "spec", "template", "spec")),
        "Selector": selector_text(_get(obj, "spec", "selector")),
    }


def _status(obj: Obj, key: str) -> int:
    return int(_get(obj, "status", key, default=0))


def _deployment(obj: Obj) -> dict[str, Any]:
    want = int(_get(obj, "spec", "replicas", default=1))
    return {
        "Ready": f"{_status(obj, 'readyReplicas')}/{want}",
        "Up-to-date": _status(obj, "updatedReplicas"),
        "Available": _status(obj, "availableReplicas"),
        **_workload(obj),
    }


def _replicaset(obj: Obj) -> dict[str, Any]:
    return {
        "Desired": int(_get(obj, "spec", "replicas", default=1)),
        "Current": _status(obj, "replicas"),
        "Ready": _status(obj, "readyReplicas"),
        **_workload(obj),
    }


def _statefulset(obj: Obj) -> dict[str, Any]:
    want = int(_get(obj, "spec", "replicas", default=1))
    return {"Ready": f"{_status(obj, 'readyReplicas')}/{want}", **_workload(obj)}


def _daemonset(obj: Obj) -> dict[str, Any]:
    return {
        "Desired": _status(obj, "desiredNumberScheduled"),
        "Current": _status(obj, "currentNumberScheduled"),
        "Ready": _status(obj, "numberReady"),
        "Up-to-date": _status(obj, "updatedNumberScheduled"),
        "Available": _status(obj, "numberAvailable"),
        "Node Selector": _labels_text(_get(obj, "spec", "template", "spec", "nodeSelector")),
        **_workload(obj),
    }


def _job(obj: Obj) -> dict[str, Any]:
    completions = _get(obj, "spec", "completions")
    done = _status(obj, "succeeded")
    text = (
        f"{done}/{completions}"
        if completions is not None
        else f"{done}/1 of " + str(_get(obj, "spec", "parallelism", default=1))
    )
    return {"Completions": text, "Duration": "", **_workload(obj)}


def _cronjob(obj: Obj) -> dict[str, Any]:
    spec = _get(obj, "spec", default={})
    last = _get(obj, "status", "lastScheduleTime")
    suspend = spec.get("suspend")
    return {
        "Schedule": spec.get("schedule", ""),
        "Suspend": "<unset>" if suspend is None else str(bool(suspend)),
        "Active": len(_get(obj, "status", "active", default=[])),
        "Last Schedule": "<none>" if not last else age({"metadata": {"creationTimestamp": last}}),
        **_containers(_get(spec, "jobTemplate", "spec", "template", "spec")),
        "Selector": selector_text(_get(spec, "jobTemplate", "spec", "selector")),
    }


def _pod(obj: Obj) -> dict[str, Any]:
    containers = _get(obj, "spec", "containers", default=[])
    statuses = _get(obj, "status", "containerStatuses", default=[])
    ready = sum(1 for s in statuses if s.get("ready"))
    return {
        "Ready": f"{ready}/{len(containers)}",
        "Status": _get(obj, "status", "reason") or _get(obj, "status", "phase", default=""),
        "Restarts": str(sum(int(s.get("restartCount", 0)) for s in statuses)),
        "IP": _get(obj, "status", "podIP", default="<none>"),
        "Node": _get(obj, "spec", "nodeName", default="<none>"),
        "Nominated Node": _get(obj, "status", "nominatedNodeName", default="<none>"),
        "Readiness Gates": "<none>",
    }


def _service_ports(spec: Mapping[str, Any]) -> str:
    out = []
    for p in spec.get("ports") or ():
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        out.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _service(obj: Obj) -> dict[str, Any]:
    spec = _get(obj, "spec", default={})
    kind = spec.get("type", "ClusterIP")
    external = "<none>"
    if kind == "ExternalName":
        external = spec.get("externalName", "<none>")
    elif kind == "LoadBalancer":
        ips = [
            i.get("ip") or i.get("hostname")
            for i in _get(obj, "status", "loadBalancer", "ingress", default=[])
        ]
        external = ",".join(ips) or "<pending>"
    if spec.get("externalIPs") and kind != "ExternalName":
        external = ",".join(spec["externalIPs"])
    return {
        "Type": kind,
        "Cluster-IP": spec.get("clusterIP") or "<none>",
        "External-IP": external,
        "Port(s)": _service_ports(spec),
        "Selector": _labels_text(spec.get("selector")),
    }


def _ingress(obj: Obj) -> dict[str, Any]:
    spec = _get(obj, "spec", default={})
    hosts = [r.get("host") for r in spec.get("rules") or () if r.get("host")]
    return {
        "Class": spec.get("ingressClassName", "<none>"),
        "Hosts": ",".join(hosts) or "*",
        "Address": "",
        "Ports": "80, 443" if spec.get("tls") else "80",
    }


def _binding(obj: Obj) -> dict[str, Any]:
    subjects = obj.get("subjects") or []

    def names(kind: str) -> str:
        return ", ".join(
            (f"{s.get('namespace', '')}/{s['name']}" if kind == "ServiceAccount" else s["name"])
            for s in subjects
            if s.get("kind") == kind
        )

    ref = obj.get("roleRef") or {}
    return {
        "Role": f"{ref.get('kind', '')}/{ref.get('name', '')}",
        "Users": names("User"),
        "Groups": names("Group"),
        "ServiceAccounts": names("ServiceAccount"),
    }


def _pdb(obj: Obj) -> dict[str, Any]:
    spec = _get(obj, "spec", default={})
    return {
        "Min Available": str(spec.get("minAvailable", "N/A")),
        "Max Unavailable": str(spec.get("maxUnavailable", "N/A")),
        "Allowed Disruptions": _status(obj, "disruptionsAllowed"),
    }


def _pvc(obj: Obj) -> dict[str, Any]:
    spec = _get(obj, "spec", default={})
    modes = {
        "ReadWriteOnce": "RWO",
        "ReadOnlyMany": "ROX",
        "ReadWriteMany": "RWX",
        "ReadWriteOncePod": "RWOP",
    }
    return {
        "Status": _get(obj, "status", "phase", default=""),
        "Volume": spec.get("volumeName", ""),
        "Capacity": _get(obj, "status", "capacity", "storage", default=""),
        "Access Modes": ",".join(
            modes.get(m, m) for m in _get(obj, "status", "accessModes", default=[])
        ),
        "StorageClass": spec.get("storageClassName", ""),
        "VolumeMode": spec.get("volumeMode", "<unset>"),
    }


def _hpa(obj: Obj) -> dict[str, Any]:
    spec = _get(obj, "spec", default={})
    ref = spec.get("scaleTargetRef") or {}
    return {
        "Reference": f"{ref.get('kind', '')}/{ref.get('name', '')}",
        "Targets": "<unknown>",
        "MinPods": str(spec.get("minReplicas", 1)),
        "MaxPods": str(spec.get("maxReplicas", "")),
        "Replicas": str(_status(obj, "currentReplicas")),
    }


PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "ConfigMap"): lambda o: {
        "Data": len(o.get("data") or {}) + len(o.get("binaryData") or {})
    },
    ("", "Secret"): lambda o: {"Type": o.get("type", ""), "Data": len(o.get("data") or {})},
    ("", "Namespace"): lambda o: {"Status": _get(o, "status", "phase", default="")},
    ("", "ServiceAccount"): lambda o: {"Secrets": len(o.get("secrets") or [])},
    ("", "Service"): _service,
    ("", "Pod"): _pod,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "ReplicationController"): _replicaset,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("networking.k8s.io", "Ingress"): _ingress,
    ("networking.k8s.io", "IngressClass"): lambda o: {
        "Controller": _get(o, "spec", "controller", default=""),
        "Parameters": "<none>",
    },
    ("networking.k8s.io", "NetworkPolicy"): lambda o: {
        "Pod-Selector": selector_text(_get(o, "spec", "podSelector"))
    },
    ("policy", "PodDisruptionBudget"): _pdb,
    ("rbac.authorization.k8s.io", "RoleBinding"): _binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _binding,
    ("scheduling.k8s.io", "PriorityClass"): lambda o: {
        "Value": o.get("value", 0),
        "Global-Default": bool(o.get("globalDefault", False)),
    },
    ("coordination.k8s.io", "Lease"): lambda o: {
        "Holder": _get(o, "spec", "holderIdentity", default="")
    },
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("storage.k8s.io", "StorageClass"): lambda o: {
        "Provisioner": o.get("provisioner", ""),
        "ReclaimPolicy": o.get("reclaimPolicy", "Delete"),
        "VolumeBindingMode": o.get("volumeBindingMode", "Immediate"),
        "AllowVolumeExpansion": str(bool(o.get("allowVolumeExpansion", False))).lower(),
    },
}


CREATED_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def builtin_columns(rtype: ResourceType) -> list[dict[str, Any]]:
    columns: list[dict[str, Any]] = api_table().get("columns", {}).get(
        f"{rtype.group}/{rtype.resource}"
    ) or [
        NAME_COLUMN,
        {
            "name": "Created At",
            "type": "date",
            "format": "",
            "priority": 0,
            "description": CREATED_DESCRIPTION,
        },
    ]
    return columns


def _json_path(obj: Any, path: str) -> Any:
    """A CRD printer column's simple JSONPath (`.spec.replicas`, `.status.conditions[0].type`)."""
    node = obj
    for part in path.strip().lstrip(".").replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("[") and part.endswith("]"):
            index = part[1:-1]
            node = (
                node[int(index)]
                if isinstance(node, list)
                and index.lstrip("-").isdigit()
                and -len(node) <= int(index) < len(node)
                else None
            )
        else:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            return None
    return node


def crd_columns(crd: Mapping[str, Any], version: str) -> list[dict[str, Any]]:
    """Name, then the version's additionalPrinterColumns (or Age when it has none)."""
    served: Mapping[str, Any] = next(
        (v for v in crd["spec"]["versions"] if v.get("name") == version), {}
    )
    extra = served.get("additionalPrinterColumns") or [
        {"name": "Age", "type": "date", "jsonPath": AGE_PATH, "description": CREATED_DESCRIPTION}
    ]
    return [
        NAME_COLUMN,
        *(
            {
                "name": c["name"],
                "type": c.get("type", "string"),
                "format": c.get("format", ""),
                "description": c.get("description")
                or (f"Custom resource definition column (in JSONPath format): {c['jsonPath']}"),
                "priority": c.get("priority", 0),
                "jsonPath": c["jsonPath"],
            }
            for c in extra
        ),
    ]


def _cell(column: Mapping[str, Any], obj: Obj, printed: Mapping[str, Any]) -> Any:
    name = column["name"]
    if "jsonPath" in column:
        value = _json_path(obj, column["jsonPath"])
        if value is None:
            return None
        if column["type"] == "string" and not isinstance(value, str):
            return str(value).lower() if isinstance(value, bool) else str(value)
        return value
    if column.get("format") == "name":
        return obj["metadata"]["name"]
    if name == "Age":
        return age(obj)
    if name == "Created At":
        return obj["metadata"].get("creationTimestamp")
    return printed.get(name, UNKNOWN)


def row(columns: list[dict[str, Any]], rtype: ResourceType, obj: Obj) -> dict[str, Any]:
    printer = PRINTERS.get((rtype.group, rtype.kind)) if rtype.schema else None
    printed = printer(obj) if printer else {}
    return {
        "cells": [_cell(c, obj, printed) for c in columns],
        "object": {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        },
    }


def table(
    columns: list[dict[str, Any]],
    rtype: ResourceType,
    objects: list[Obj],
    list_meta: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta),
        "columnDefinitions": [{k: v for k, v in c.items() if k != "jsonPath"} for c in columns],
        "rows": [row(columns, rtype, o) for o in objects] or None,
    }
