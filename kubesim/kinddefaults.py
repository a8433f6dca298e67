"""Server defaults of the kinds beyond workloads and Services (see `admission` for those): what a
real server fills into admission webhooks, storage and scheduling objects, endpoints, limit
ranges, events, bare Pods and replication controllers, and what its admission plugins add to a
new PersistentVolume or claim (a protection finalizer). Found by the contract walk
over every served kind (tests/kubesim/test_contract_every_kind.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Obj = dict[str, Any]


def _set(target: Any, defaults: Mapping[str, Any]) -> None:
    if isinstance(target, dict):
        for k, v in defaults.items():
            target.setdefault(k, v)


def _webhooks(mutating: bool) -> Callable[[Obj], None]:
    def fill(obj: Obj) -> None:
        for hook in obj.get("webhooks") or ():
            if not isinstance(hook, dict):
                continue
            _set(
                hook,
                {
                    "failurePolicy": "Fail",
                    "matchPolicy": "Equivalent",
                    "namespaceSelector": {},
                    "objectSelector": {},
                    "timeoutSeconds": 10,
                },
            )
            if mutating:
                hook.setdefault("reinvocationPolicy", "Never")
            for rule in hook.get("rules") or ():
                _set(rule, {"scope": "*"})

    return fill


def _ports(ports: Any, **more: Any) -> None:
    for port in ports or ():
        _set(port, {**more, "protocol": "TCP"})


def _endpoints(obj: Obj) -> None:
    for subset in obj.get("subsets") or ():
        if isinstance(subset, dict):
            _ports(subset.get("ports"))


def _endpoint_slice(obj: Obj) -> None:
    _ports(obj.get("ports"), name="")
    for endpoint in obj.get("endpoints") or ():
        _set(endpoint, {"conditions": {}})


def _limit_range(obj: Obj) -> None:
    for item in (obj.get("spec") or {}).get("limits") or ():
        if not isinstance(item, dict) or item.get("type") not in ("Container", "Pod", None):
            continue
        if item.get("type") == "Container" or item.get("type") is None:
            if "default" not in item and isinstance(item.get("max"), dict):
                item["default"] = dict(item["max"])
            if "defaultRequest" not in item and isinstance(item.get("default"), dict):
                item["defaultRequest"] = dict(item["default"])


def _csi_driver(obj: Obj) -> None:
    _set(
        obj.get("spec"),
        {
            "attachRequired": True,
            "fsGroupPolicy": "ReadWriteOnceWithFSType",
            "podInfoOnMount": False,
            "requiresRepublish": False,
            "storageCapacity": False,
            "volumeLifecycleModes": ["Persistent"],
        },
    )


def _persistent_volume(obj: Obj) -> None:
    spec = obj.get("spec")
    _set(spec, {"persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"})
    if isinstance(spec, dict):
        _set(spec.get("hostPath"), {"type": ""})


def _storage_class(obj: Obj) -> None:
    _set(obj, {"reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"})


def _priority_class(obj: Obj) -> None:
    _set(obj, {"preemptionPolicy": "PreemptLowerPriority"})


def _autoscaler_v1(obj: Obj) -> None:
    if obj.get("apiVersion") == "autoscaling/v1":
        _set(obj.get("spec"), {"minReplicas": 1, "targetCPUUtilizationPercentage": 80})


def _replication_controller(obj: Obj) -> None:
    """Selector and labels default to the pod template's labels."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if labels and not spec.get("selector"):
        spec["selector"] = dict(labels)
    meta = obj["metadata"]
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)


def _core_event(obj: Obj) -> None:
    """Fields Go writes even when unset (no `omitempty`)."""
    _set(
        obj,
        {
            "eventTime": None,
            "firstTimestamp": None,
            "lastTimestamp": None,
            "reportingComponent": "",
            "reportingInstance": "",
            "source": {},
        },
    )


def _event(obj: Obj) -> None:
    _set(
        obj,
        {"deprecatedFirstTimestamp": None, "deprecatedLastTimestamp": None, "deprecatedSource": {}},
    )


UNREACHABLE_TOLERATIONS = [
    {
        "key": f"node.kubernetes.io/{condition}",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }
    for condition in ("not-ready", "unreachable")
]


def _pod(obj: Obj) -> None:
    """A bare Pod's admission defaults: service account, priority, service links, and the
    tolerations of unreachable nodes (the service account's token volume is not added)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    _set(
        spec,
        {
            "serviceAccountName": account,
            "serviceAccount": account,
            "enableServiceLinks": True,
            "priority": 0,
            "preemptionPolicy": "PreemptLowerPriority",
        },
    )
    tolerations = list(spec.get("tolerations") or [])
    for toleration in UNREACHABLE_TOLERATIONS:
        if not any(isinstance(t, dict) and t.get("key") == toleration["key"] for t in tolerations):
            tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations


DEFAULTS: Mapping[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Event"): _core_event,
    ("events.k8s.io", "Event"): _event,
    ("", "Pod"): _pod,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _webhooks(True),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _webhooks(False),
    ("", "Endpoints"): _endpoints,
    ("discovery.k8s.io", "EndpointSlice"): _endpoint_slice,
    ("", "LimitRange"): _limit_range,
    ("storage.k8s.io", "CSIDriver"): _csi_driver,
    ("", "PersistentVolume"): _persistent_volume,
    ("storage.k8s.io", "StorageClass"): _storage_class,
    ("scheduling.k8s.io", "PriorityClass"): _priority_class,
    ("autoscaling", "HorizontalPodAutoscaler"): _autoscaler_v1,
    ("", "ReplicationController"): _replication_controller,
}
"""Kinds whose defaults this module fills, by (group, kind)."""


def fill_defaults(group: str, kind: str, obj: Obj) -> None:
    fill = DEFAULTS.get((group, kind))
    if fill is not None:
        fill(obj)


PROTECTION_FINALIZERS = {
    "PersistentVolume": "kubernetes.io/pv-protection",
    "PersistentVolumeClaim": "kubernetes.io/pvc-protection",
}


def on_create(group: str, kind: str, obj: Obj) -> None:
    """What admission plugins add to a new object (owned by nobody): a volume's or claim's
    protection finalizer, a DaemonSet's template generation."""
    if group:
        if (group, kind) == ("apps", "DaemonSet"):
            meta = obj["metadata"]
            meta["annotations"] = {
                "deprecated.daemonset.template.generation": "1",
                **(meta.get("annotations") or {}),
            }
        return
    finalizer = PROTECTION_FINALIZERS.get(kind)
    if finalizer is not None:
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if finalizer not in finalizers:
            meta["finalizers"] = [*finalizers, finalizer]


def on_update(group: str, kind: str, old: Mapping[str, Any], new: Obj) -> None:
    """A DaemonSet whose pod template changed counts one more template generation."""
    if (group, kind) != ("apps", "DaemonSet"):
        return
    key = "deprecated.daemonset.template.generation"
    old_meta = old.get("metadata") or {}
    generation = (old_meta.get("annotations") or {}).get(key)
    if generation is None:
        return
    was = (old.get("spec") or {}).get("template")
    now = (new.get("spec") or {}).get("template")
    meta = new["metadata"]
    value = str(int(generation) + 1) if was != now else generation
    meta["annotations"] = {**(meta.get("annotations") or {}), key: value}
