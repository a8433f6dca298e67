"""Every built-in kind kubesim serves, applied on kubesim and on a real server: the same minimal
object created by a server-side apply (fleetsync's way), re-applied unchanged, and listed; the
stored object compared whole (defaults, generation, managedFields), apart from status and what
controllers write afterwards."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kubesim.catalog import BUILTIN_TYPES
from tests.kubesim.twin import Answer, Twin, status_view

APPLY = "application/apply-patch+yaml"
LABELS = {"app": "walk"}
CONTAINERS = [{"name": "c", "image": "nginx:1"}]
POD_TEMPLATE = {
    "metadata": {"labels": LABELS},
    "spec": {"containers": CONTAINERS, "restartPolicy": "Always"},
}
JOB_TEMPLATE = {"spec": {"restartPolicy": "Never", "containers": CONTAINERS}}
NOTHING_RULE = [
    {
        "operations": ["CREATE"],
        "apiGroups": ["nothing.invalid"],
        "apiVersions": ["v1"],
        "resources": ["nothing"],
    }
]
WEBHOOK = {
    "name": "w.example.com",
    "clientConfig": {"url": "https://example.com/hook"},
    "admissionReviewVersions": ["v1"],
    "sideEffects": "None",
    "rules": NOTHING_RULE,
}
REF = {"apiVersion": "v1", "kind": "Pod", "name": "p", "namespace": "{ns}"}
RBAC = "rbac.authorization.k8s.io"

BODIES: dict[str, dict[str, Any]] = {
    "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": {"webhooks": [WEBHOOK]},
    "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration": {"webhooks": [WEBHOOK]},
    "apps/v1/ControllerRevision": {"revision": 1, "data": {"spec": {}}},
    "apps/v1/DaemonSet": {"spec": {"selector": {"matchLabels": LABELS}, "template": POD_TEMPLATE}},
    "apps/v1/Deployment": {
        "spec": {"replicas": 0, "selector": {"matchLabels": LABELS}, "template": POD_TEMPLATE}
    },
    "apps/v1/ReplicaSet": {
        "spec": {"replicas": 0, "selector": {"matchLabels": LABELS}, "template": POD_TEMPLATE}
    },
    "apps/v1/StatefulSet": {
        "spec": {
            "replicas": 0,
            "serviceName": "s",
            "selector": {"matchLabels": LABELS},
            "template": POD_TEMPLATE,
        }
    },
    "autoscaling/v1/HorizontalPodAutoscaler": {
        "spec": {
            "maxReplicas": 3,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
        }
    },
    "autoscaling/v2/HorizontalPodAutoscaler": {
        "spec": {
            "maxReplicas": 3,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
        }
    },
    "batch/v1/CronJob": {
        "spec": {
            "schedule": "0 0 1 1 *",
            "suspend": True,
            "jobTemplate": {"spec": {"template": JOB_TEMPLATE}},
        }
    },
    "batch/v1/Job": {"spec": {"suspend": True, "template": JOB_TEMPLATE}},
    "coordination.k8s.io/v1/Lease": {"spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}},
    "v1/ConfigMap": {"data": {"k": "v"}},
    "v1/Endpoints": {"subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}]},
    "v1/Event": {"involvedObject": REF, "reason": "Walk", "message": "m", "type": "Normal"},
    "v1/LimitRange": {"spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]}},
    "v1/Node": {"metadata": {"labels": LABELS}},
    "v1/PersistentVolume": {
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/tmp/walk"},
        }
    },
    "v1/PersistentVolumeClaim": {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    },
    "v1/Pod": {"spec": {"containers": CONTAINERS}},
    "v1/PodTemplate": {"template": POD_TEMPLATE},
    "v1/ReplicationController": {
        "spec": {"replicas": 0, "selector": LABELS, "template": POD_TEMPLATE}
    },
    "v1/ResourceQuota": {"spec": {"hard": {"pods": "10"}}},
    "v1/Secret": {"stringData": {"k": "v"}},
    "v1/ServiceAccount": {},
    "v1/Service": {"spec": {"selector": LABELS, "ports": [{"port": 80}]}},
    "discovery.k8s.io/v1/EndpointSlice": {
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.2.3"]}],
        "ports": [{"port": 80}],
    },
    "events.k8s.io/v1/Event": {
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "example.com/walk",
        "reportingInstance": "i",
        "action": "Walk",
        "reason": "Walk",
        "regarding": REF,
        "type": "Normal",
    },
    "networking.k8s.io/v1/IngressClass": {"spec": {"controller": "example.com/walk"}},
    "networking.k8s.io/v1/Ingress": {
        "spec": {"defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}}
    },
    "networking.k8s.io/v1/NetworkPolicy": {"spec": {"podSelector": {}}},
    "node.k8s.io/v1/RuntimeClass": {"handler": "runc"},
    "policy/v1/PodDisruptionBudget": {
        "spec": {"minAvailable": 1, "selector": {"matchLabels": LABELS}}
    },
    f"{RBAC}/v1/ClusterRole": {
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    },
    f"{RBAC}/v1/ClusterRoleBinding": {
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "u", "apiGroup": RBAC}],
    },
    f"{RBAC}/v1/Role": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    f"{RBAC}/v1/RoleBinding": {
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "default"}],
    },
    "scheduling.k8s.io/v1/PriorityClass": {"value": 1000},
    "storage.k8s.io/v1/CSIDriver": {"spec": {}},
    "storage.k8s.io/v1/CSINode": {"spec": {"drivers": []}},
    "storage.k8s.io/v1/CSIStorageCapacity": {"storageClassName": "walk"},
    "storage.k8s.io/v1/StorageClass": {"provisioner": "example.com/walk"},
    "storage.k8s.io/v1/VolumeAttachment": {
        "spec": {
            "attacher": "walk.example.com",
            "nodeName": "n",
            "source": {"persistentVolumeName": "p"},
        }
    },
}
"""A minimal valid object of each kind (by group/version/kind)."""

NOT_WALKED = {
    "v1/Namespace": "every twin test creates one",
    "apiextensions.k8s.io/v1/CustomResourceDefinition": "test_contract_crds and "
    "test_contract_crd_schemas",
    "certificates.k8s.io/v1/CertificateSigningRequest": "its request must be a signed PEM "
    "certificate request; fleetsync deploys none",
}


KNOWN: dict[str, tuple[tuple[str, ...], str]] = {
    "v1/Node": (
        ("metadata.annotations", "spec"),
        "the node controllers edit a new Node at once "
        "(a TTL annotation, a not-ready taint, in a race with the answer); fleetsync "
        "deploys no Nodes",
    ),
    "v1/Pod": (
        ("spec.volumes", "spec.containers[*].volumeMounts"),
        "the service account "
        "admission's token volume (under a generated name) is not added: no pod runs on "
        "kubesim",
    ),
    "apps/v1/ControllerRevision": (
        ("metadata.managedFields",),
        "a RawExtension (`data`) is owned field by field, not whole; controllers write these",
    ),
    "autoscaling/v1/HorizontalPodAutoscaler": (
        ("metadata.managedFields",),
        "ownership follows autoscaling/v2's schema at every version",
    ),
    "storage.k8s.io/v1/CSINode": (
        ("metadata.managedFields", "spec.drivers"),
        "an empty `drivers` list is stored as given, not as null; the kubelet writes these",
    ),
}
"""Kinds stored alike but for the named fields, and why that does not matter to fleetsync."""


def without(value: Any, path: str) -> Any:
    """`value` without the field at a dotted path (`a[*].b` for every item of a list)."""
    head, _, rest = path.partition(".")
    each = head.endswith("[*]")
    key = head.removesuffix("[*]")
    if not isinstance(value, dict) or key not in value:
        return value
    out = dict(value)
    if not rest:
        del out[key]
    elif each and isinstance(out[key], list):
        out[key] = [without(item, rest) for item in out[key]]
    else:
        out[key] = without(out[key], rest)
    return out


def served() -> list[tuple[str, str, bool]]:
    """(group/version/kind, resource, namespaced) of every built-in kind kubesim serves."""
    out = []
    for t in BUILTIN_TYPES:
        for version in t.versions:
            out.append((f"{t.api_version(version)}/{t.kind}", t.resource, t.namespaced))
    return sorted(out)


def test_every_served_kind_is_walked_or_said_why_not() -> None:
    assert {gvk for gvk, _, _ in served()} == set(BODIES) | set(NOT_WALKED)


def stored_view(answer: Answer) -> Any:
    """The object without status, resourceVersion and what controllers write after it."""
    if not isinstance(answer.body, dict) or answer.body.get("kind") == "Status":
        return status_view(answer)
    body = {k: v for k, v in answer.body.items() if k != "status"}
    meta = {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
    meta["managedFields"] = [e for e in meta.get("managedFields", ()) if e["manager"] == "fs"]
    annotations = {
        k: v
        for k, v in (meta.pop("annotations", None) or {}).items()
        if k != "deployment.kubernetes.io/revision"
    }
    if annotations:
        meta["annotations"] = annotations
    if body.get("kind") == "ServiceAccount":
        body.pop("secrets", None)
    return {
        "code": answer.code,
        "body": {**body, "metadata": meta},
        "warnings": list(answer.warnings),
    }


@pytest.mark.parametrize(
    "gvk,resource,namespaced", [s for s in served() if s[0] in BODIES], ids=lambda v: str(v)
)
def test_a_minimal_object_of_every_kind_is_stored_alike(
    twin: Twin, gvk: str, resource: str, namespaced: bool
) -> None:
    api_version, _, kind = gvk.rpartition("/")
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    collection = f"{base}/namespaces/{{ns}}/{resource}" if namespaced else f"{base}/{resource}"
    name = "walk" if namespaced else "{ns}-walk"
    spec = dict(BODIES[gvk])
    body = {
        "apiVersion": api_version,
        "kind": kind,
        **{k: v for k, v in spec.items() if k != "metadata"},
        "metadata": {"name": name, **spec.get("metadata", {})},
    }
    path = f"{collection}/{name}?fieldManager=fs"
    dropped = KNOWN.get(gvk, ((), ""))[0]

    def view(answer: Answer) -> Any:
        out = stored_view(answer)
        if "body" in out:
            for field in dropped:
                out["body"] = without(out["body"], field)
        return out

    try:
        created = twin.same("PATCH", path, body, content_type=APPLY, view=view)
        assert created.code == 201, created.body
        twin.same("PATCH", path, body, content_type=APPLY, view=view)
        listed = twin.same(
            "GET",
            collection + "?limit=500",
            view=lambda a: (a.code, a.body.get("kind"), a.body.get("apiVersion")),
        )
        assert listed.code == 200
    finally:
        if not namespaced:
            for server in twin.servers():
                server.request("DELETE", twin.path(f"{collection}/{name}"))


def test_a_claim_and_a_volume_go_once_their_protection_finalizers_are_lifted(twin: Twin) -> None:
    """Nothing uses them: the protection controllers lift the finalizer and the delete ends."""
    paths = []
    for gvk, collection, name in (
        ("v1/PersistentVolumeClaim", "/api/v1/namespaces/{ns}/persistentvolumeclaims", "walk"),
        ("v1/PersistentVolume", "/api/v1/persistentvolumes", "{ns}-walk"),
    ):
        body = {
            "apiVersion": "v1",
            "kind": gvk.split("/")[1],
            "metadata": {"name": name},
            **BODIES[gvk],
        }
        created = twin.same("POST", collection, body, view=lambda a: a.code)
        assert created.body["metadata"]["finalizers"] == [
            f"kubernetes.io/{'pvc' if 'Claim' in gvk else 'pv'}-protection"
        ]
        paths.append(f"{collection}/{name}")
    for path in paths:
        twin.same("DELETE", path, view=lambda a: a.code)
        for server in twin.servers():
            deadline = time.monotonic() + 30
            while server.request("GET", twin.path(path)).code != 404:
                assert time.monotonic() < deadline, f"{server.name}: {path} never went"
                time.sleep(0.05)
