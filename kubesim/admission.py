"""What the server checks and fills in before it stores a write: identity, names, defaults.

Validation failures raise the `ApiError` the real server gives (400 for a namespace or kind
mismatch, 422 Invalid with causes for a bad name); defaulting fills the few fields that clients
commonly read back (Service clusterIP, Deployment replicas, container port protocol ...).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from typing import Any

from kubesim.catalog import ResourceType
from kubesim.errors import Cause, bad_request, invalid
from kubesim.kinddefaults import fill_defaults

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def name_causes(rtype: ResourceType, name: str) -> list[Cause]:
    if not name:
        return [
            Cause(
                "FieldValueRequired",
                "Required value: name or generateName is required",
                "metadata.name",
            )
        ]
    if rtype.label_name:
        ok, limit, message = bool(_LABEL.match(name)), 63, LABEL_MESSAGE
    else:
        ok, limit, message = bool(_SUBDOMAIN.match(name)), 253, SUBDOMAIN_MESSAGE
    if not ok:
        return [Cause("FieldValueInvalid", f'Invalid value: "{name}": {message}', "metadata.name")]
    if len(name) > limit:
        return [
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be no more than {limit} characters',
                "metadata.name",
            )
        ]
    return []


def check_body(
    rtype: ResourceType, version: str, body: Any, *, namespace: str, name: str | None
) -> dict[str, Any]:
    """Check the identity of a write body against its URL; return it with metadata filled."""
    if not isinstance(body, Mapping):
        raise bad_request("the object provided is unrecognized (must be of type object)")
    api_version = body.get("apiVersion")
    kind = body.get("kind")
    expected = rtype.api_version(version)
    if kind is None or api_version is None:
        raise bad_request(
            "Object 'Kind' is missing in '" + _short(body) + "'"
            if kind is None
            else "Object 'apiVersion' is missing"
        )
    if kind != rtype.kind or api_version != expected:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({expected})"
            if api_version != expected
            else f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
        )
    meta = body.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, Mapping):
        raise bad_request("metadata must be an object")
    meta = dict(meta)
    if rtype.namespaced:
        body_ns = meta.get("namespace")
        if body_ns and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the "
                "namespace sent on the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if name is not None:
        body_name = meta.get("name")
        if body_name and body_name != name:
            raise bad_request(
                "the name of the object (" + str(body_name) + ") does not match "
                "the name on the URL (" + name + ")"
            )
        meta["name"] = name
    causes: list[Cause] = []
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is not None and (
            not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values())
        ):
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    "Invalid value: must be a map of strings",
                    f"metadata.{field}",
                )
            )
    if causes:
        raise invalid(rtype.kind, str(meta.get("name", "")), causes, group=rtype.group)
    return {**body, "metadata": meta}


def _short(body: Mapping[str, Any]) -> str:
    return str(dict(body))[:200]


def validate_name(rtype: ResourceType, name: str) -> None:
    causes = name_causes(rtype, name)
    if causes:
        raise invalid(rtype.kind, name, causes, group=rtype.group)


def _default_ports(ports: Any) -> None:
    if isinstance(ports, list):
        for p in ports:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


def _pull_policy(image: Any) -> str:
    """`Always` for an image without a tag or tagged `latest` (and no digest), else IfNotPresent."""
    text = str(image or "")
    if "@" in text:
        return "IfNotPresent"
    name = text.rsplit("/", 1)[-1]
    tag = name.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


_PROBE_DEFAULTS = {
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}


def _default_container(c: dict[str, Any]) -> None:
    _default_ports(c.get("ports"))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", _pull_policy(c.get("image")))
    c.setdefault("resources", {})
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        spec = c.get(probe)
        if isinstance(spec, dict):
            for k, v in _PROBE_DEFAULTS.items():
                spec.setdefault(k, v)
            if isinstance(spec.get("httpGet"), dict):
                spec["httpGet"].setdefault("scheme", "HTTP")
    for env in c.get("env") or ():
        field_ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")


def _default_volumes(volumes: Any) -> None:
    for v in volumes or ():
        if not isinstance(v, dict):
            continue
        for source in ("configMap", "secret"):
            if isinstance(v.get(source), dict):
                v[source].setdefault("defaultMode", 420)


def _default_pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            if isinstance(c, dict):
                _default_container(c)
    _default_volumes(spec.get("volumes"))
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def _default_template(template: Any) -> None:
    """A pod template: its spec defaulted, its metadata carrying `creationTimestamp: null`."""
    if not isinstance(template, dict):
        return
    meta = template.get("metadata")
    if not isinstance(meta, dict):
        meta = template["metadata"] = {}
    meta.setdefault("creationTimestamp", None)
    _default_pod_spec(template.get("spec"))


def _template_spec(obj: dict[str, Any], *path: str) -> Any:
    node: Any = obj
    for p in path:
        if not isinstance(node, dict):
            return None
        node = node.get(p)
    return node


def _fold_string_data(obj: dict[str, Any]) -> None:
    """A Secret's `stringData` is written into `data` (base64) and not stored."""
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = dict(obj.get("data") or {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj["data"] = data


def _drop_empty(obj: dict[str, Any], *fields: str) -> None:
    """Empty maps Go leaves out (`omitempty`): `data: {}` is not stored, as no data."""
    for field in fields:
        if obj.get(field) == {}:
            del obj[field]


def _job_selector(obj: dict[str, Any], uid: str) -> None:
    """A new Job's generated selector: its uid, on the pod template's labels too."""
    spec = obj["spec"]
    if spec.get("manualSelector") or not isinstance(spec.get("template"), dict):
        return
    generated = {"controller-uid": uid}
    spec["selector"] = {"matchLabels": generated}
    template = spec["template"]
    meta = template["metadata"] = dict(template.get("metadata") or {})
    meta["labels"] = {
        **(meta.get("labels") or {}),
        **generated,
        "job-name": obj["metadata"].get("name", ""),
    }
    if not obj["metadata"].get("labels"):
        obj["metadata"]["labels"] = dict(meta["labels"])


def allocate(rtype: ResourceType, obj: dict[str, Any], *, cluster_ip: str, created: bool) -> None:
    """What the registry fills after ownership is recorded (owned by nobody): a Service's
    cluster IPs and IP families, a new Job's selector."""
    spec = obj.get("spec")
    if rtype.schema is None or not isinstance(spec, dict):
        return
    if rtype.kind == "Job" and created:
        _job_selector(obj, obj["metadata"].setdefault("uid", str(uuid.uuid4())))
    if rtype.kind != "Service":
        return
    if spec.get("type", "ClusterIP") == "ExternalName":
        return
    if spec.get("clusterIP") in (None, ""):
        spec["clusterIP"] = cluster_ip
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")


def apply_defaults(rtype: ResourceType, obj: dict[str, Any], *, cluster_ip: str) -> None:
    """Fill server defaults in place (the fields clients commonly read back)."""
    kind = rtype.kind if rtype.schema is not None else ""
    if kind:
        fill_defaults(rtype.group, kind, obj)
    spec = obj.get("spec")
    if kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        _default_ports(spec.get("ports"))
        for p in spec.get("ports") or ():
            if isinstance(p, dict) and "port" in p:
                p.setdefault("targetPort", p["port"])
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        _fold_string_data(obj)
        _drop_empty(obj, "data")
    elif kind == "ConfigMap":
        _drop_empty(obj, "data", "binaryData")
    elif kind == "Pod":
        _default_pod_spec(spec)
    elif kind in (
        "Deployment",
        "StatefulSet",
        "ReplicaSet",
        "DaemonSet",
        "Job",
        "ReplicationController",
    ) and isinstance(spec, dict):
        _WORKLOAD_DEFAULTS.get(kind, _no_defaults)(spec)
        _default_template(spec.get("template"))
    elif kind == "CronJob" and isinstance(spec, dict):
        for k, v in (
            ("concurrencyPolicy", "Allow"),
            ("suspend", False),
            ("successfulJobsHistoryLimit", 3),
            ("failedJobsHistoryLimit", 1),
        ):
            spec.setdefault(k, v)
        job = spec.get("jobTemplate")
        if isinstance(job, dict):
            meta = job.get("metadata")
            if not isinstance(meta, dict):
                meta = job["metadata"] = {}
            meta.setdefault("creationTimestamp", None)
            _default_template(_template_spec(job, "spec", "template"))
    elif kind == "Namespace":
        meta = obj["metadata"]
        meta["labels"] = {
            **(meta.get("labels") or {}),
            "kubernetes.io/metadata.name": meta.get("name", ""),
        }
    elif kind in ("Role", "ClusterRole"):
        obj.setdefault("rules", None)
    elif kind == "PersistentVolumeClaim" and isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
    elif kind == "HorizontalPodAutoscaler" and isinstance(spec, dict):
        _autoscaler(obj.get("apiVersion"), spec)
    elif kind == "PodTemplate":
        _default_template(obj.get("template"))
    elif kind == "NetworkPolicy" and isinstance(spec, dict):
        spec.setdefault("policyTypes", ["Ingress", *(["Egress"] if spec.get("egress") else [])])


_SCALE_UP = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _cpu_utilization(metric: Any) -> bool:
    resource = metric.get("resource") if isinstance(metric, dict) else None
    return (
        metric.get("type") == "Resource"
        and isinstance(resource, dict)
        and resource.get("name") == "cpu"
        and (resource.get("target") or {}).get("type") == "Utilization"
    )


def _autoscaler(api_version: Any, spec: dict[str, Any]) -> None:
    """An autoscaling/v2 HPA's defaults, and its metrics as a 1.25 server stores them (through
    autoscaling/v1, where a CPU utilization target is a field of its own and the other metrics
    an annotation): the CPU utilization metric comes back last."""
    if api_version == "autoscaling/v1":
        spec.setdefault("minReplicas", 1)
        return
    spec.setdefault("minReplicas", 1)
    metrics = spec.get("metrics")
    if not metrics:
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    elif isinstance(metrics, list):
        cpu = next((m for m in metrics if _cpu_utilization(m)), None)
        if cpu is not None:
            spec["metrics"] = [m for m in metrics if m is not cpu] + [cpu]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for key, defaults in (("scaleUp", _SCALE_UP), ("scaleDown", _SCALE_DOWN)):
            given = behavior.get(key)
            given = given if isinstance(given, dict) else {}
            behavior[key] = {**defaults, **{k: v for k, v in given.items() if v is not None}}


def finalize_namespace(obj: dict[str, Any]) -> None:
    """A namespace's `spec.finalizers`, set after ownership is recorded (nobody owns it)."""
    spec = obj.get("spec")
    obj["spec"] = {"finalizers": ["kubernetes"], **(spec if isinstance(spec, dict) else {})}


def _no_defaults(spec: dict[str, Any]) -> None:
    return


def _deployment(spec: dict[str, Any]) -> None:
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")


def _claim_template(claim: dict[str, Any]) -> None:
    """A volumeClaimTemplates item as stored: a whole PersistentVolumeClaim, defaulted."""
    claim.setdefault("apiVersion", "v1")
    claim.setdefault("kind", "PersistentVolumeClaim")
    meta = claim.get("metadata")
    if not isinstance(meta, dict):
        meta = claim["metadata"] = {}
    meta.setdefault("creationTimestamp", None)
    spec = claim.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
    claim.setdefault("status", {"phase": "Pending"})


def _statefulset(spec: dict[str, Any]) -> None:
    for claim in spec.get("volumeClaimTemplates") or ():
        if isinstance(claim, dict):
            _claim_template(claim)
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("partition", 0)


def _daemonset(spec: dict[str, Any]) -> None:
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", 1)
                rolling.setdefault("maxSurge", 0)


def _replicas(spec: dict[str, Any]) -> None:
    spec.setdefault("replicas", 1)


def _job(spec: dict[str, Any]) -> None:
    for k, v in (
        ("parallelism", 1),
        ("completions", 1),
        ("backoffLimit", 6),
        ("completionMode", "NonIndexed"),
        ("suspend", False),
    ):
        spec.setdefault(k, v)


_WORKLOAD_DEFAULTS = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "ReplicaSet": _replicas,
    "ReplicationController": _replicas,
    "Job": _job,
}


_SELECTED = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})


def _go_labels(labels: Any) -> str:
    if not labels:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


def validate(
    rtype: ResourceType, obj: Mapping[str, Any], more: list[Cause], *, more_first: bool = False
) -> None:
    """The object's own validation errors and `more` (an update's: after them, or before them
    with `more_first`, as the kind's validation orders them), as one 422 Invalid."""
    own = [*workload_causes(rtype, obj), *secret_causes(rtype, obj)]
    causes = [*more, *own] if more_first else [*own, *more]
    if causes:
        raise invalid(rtype.kind, str(obj["metadata"].get("name", "")), causes, group=rtype.group)


def workload_causes(rtype: ResourceType, obj: Mapping[str, Any]) -> list[Cause]:
    """A workload's selector and pod template, checked as the real server does."""
    if rtype.group != "apps" or rtype.kind not in _SELECTED:
        return []
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    selector = spec.get("selector")
    causes: list[Cause] = []
    if not selector:
        causes.append(Cause("FieldValueRequired", "Required value", "spec.selector"))
    wanted = (selector or {}).get("matchLabels") or {}
    if not selector or any(labels.get(k) != v for k, v in wanted.items()):
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_go_labels(labels)}: `selector` does not match template `labels`",
                "spec.template.metadata.labels",
            )
        )
    if not (template.get("spec") or {}).get("containers"):
        causes.append(
            Cause("FieldValueRequired", "Required value", "spec.template.spec.containers")
        )
    return causes


_SECRET_KEYS: Mapping[str, tuple[str, ...]] = {
    "kubernetes.io/dockercfg": ("data[.dockercfg]",),
    "kubernetes.io/dockerconfigjson": ("data[.dockerconfigjson]",),
    "kubernetes.io/ssh-auth": ("data[ssh-privatekey]",),
    "kubernetes.io/tls": ("data[tls.crt]", "data[tls.key]"),
}
"""The data keys a Secret of each type must hold (their paths in a cause)."""


def secret_causes(rtype: ResourceType, obj: Mapping[str, Any]) -> list[Cause]:
    """A typed Secret's required keys and annotation, checked as the real server does (the
    well-formedness of a docker config's JSON is not checked)."""
    if rtype.schema is None or (rtype.group, rtype.kind) != ("", "Secret"):
        return []
    kind = obj.get("type")
    data = obj.get("data") or {}
    if kind == "kubernetes.io/service-account-token":
        annotations = obj["metadata"].get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            return [
                Cause(
                    "FieldValueRequired",
                    "Required value",
                    "metadata.annotations[kubernetes.io/service-account.name]",
                )
            ]
        return []
    if kind == "kubernetes.io/basic-auth":
        if "username" in data or "password" in data:
            return []
        return [
            Cause("FieldValueRequired", "Required value", f"data[{k}]")
            for k in ("username", "password")
        ]
    if kind == "kubernetes.io/ssh-auth":
        return (
            []
            if data.get("ssh-privatekey")
            else [Cause("FieldValueRequired", "Required value", "data[ssh-privatekey]")]
        )
    return [
        Cause("FieldValueRequired", "Required value", path)
        for path in _SECRET_KEYS.get(str(kind), ())
        if path[len("data[") : -1] not in data
    ]
