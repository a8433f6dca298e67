"""Fields an update may not change, on kubesim and a real kube-apiserver: the same object created
on both, the same change sent (server-side apply, merge patch or update), the refusal compared
whole (code, reason, message, causes). This is the "sync failed" of real GitOps life that
`sync.replace: onImmutable` answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.kubesim.twin import Answer, Twin, status_view

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
RBAC = "rbac.authorization.k8s.io"


def deployment(app: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app, "tier": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
            **spec,
        },
    }


def statefulset(service: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "s"},
        "spec": {
            "serviceName": service,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def data_object(kind: str, data: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "i"}, "data": data, **extra}


def binding(kind: str, role: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": {"name": "{ns}-b"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "User", "name": "u", "apiGroup": RBAC}],
    }


def go_dump_elided(answer: Answer) -> Any:
    """`status_view` with Go's rendering of a whole struct cut (a pod template with pointer
    addresses, a claim spec's diff), which kubesim does not reproduce."""

    def cut(text: str) -> str:
        text = re.sub(
            r"core\.PodTemplateSpec\{.*\}: field is immutable",
            "core.PodTemplateSpec{...}: field is immutable",
            text,
            flags=re.S,
        )
        return re.sub(r"(bound claims)\n.*", r"\1", text, flags=re.S)

    view = status_view(answer)
    if "message" in view:
        view["message"] = cut(view["message"])
        for cause in view["details"].get("causes", ()):
            cause["message"] = cut(cause["message"])
    return view


@dataclass(frozen=True)
class Case:
    path: str
    created: dict[str, Any]
    method: str
    change: dict[str, Any]
    content_type: str = MERGE
    fields: tuple[str, ...] = ()
    """The fields the refusal names (its causes' fields)."""


DEPLOYS = "/apis/apps/v1/namespaces/{ns}/deployments"
CASES = {
    "deployment-selector-by-apply": Case(
        DEPLOYS, deployment("a"), "PATCH", deployment("b"), APPLY, ("spec.selector",)
    ),
    "deployment-selector-by-merge-patch": Case(
        DEPLOYS,
        deployment("a"),
        "PATCH",
        {
            "spec": {
                "selector": {
                    "matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]
                }
            }
        },
        MERGE,
        ("spec.selector",),
    ),
    "deployment-selector-and-template": Case(
        DEPLOYS,
        deployment("a"),
        "PATCH",
        {"spec": {"selector": {"matchLabels": {"app": "c"}}}},
        MERGE,
        ("spec.selector", "spec.template.metadata.labels"),
    ),
    "replicaset-selector": Case(
        "/apis/apps/v1/namespaces/{ns}/replicasets",
        {**deployment("a", replicas=0), "kind": "ReplicaSet"},
        "PATCH",
        {
            **deployment("a", replicas=0),
            "kind": "ReplicaSet",
            "spec": {
                **deployment("a")["spec"],
                "replicas": 0,
                "selector": {"matchLabels": {"tier": "web"}},
            },
        },
        APPLY,
        ("spec.selector",),
    ),
    "daemonset-selector": Case(
        "/apis/apps/v1/namespaces/{ns}/daemonsets",
        {**deployment("a"), "kind": "DaemonSet"},
        "PATCH",
        {"spec": {"selector": {"matchLabels": {"tier": "web"}}}},
        MERGE,
        ("spec.selector",),
    ),
    "statefulset-service-name": Case(
        "/apis/apps/v1/namespaces/{ns}/statefulsets",
        statefulset("s"),
        "PATCH",
        statefulset("t"),
        APPLY,
        ("spec",),
    ),
    "configmap-data": Case(
        "/api/v1/namespaces/{ns}/configmaps",
        data_object("ConfigMap", {"a": "1"}, immutable=True),
        "PATCH",
        {"data": {"a": "2"}, "binaryData": {"b": "AA=="}},
        MERGE,
        ("binaryData", "data"),
    ),
    "configmap-immutable-flag": Case(
        "/api/v1/namespaces/{ns}/configmaps",
        data_object("ConfigMap", {"a": "1"}, immutable=True),
        "PATCH",
        {"immutable": False},
        MERGE,
        ("immutable",),
    ),
    "secret-data": Case(
        "/api/v1/namespaces/{ns}/secrets",
        data_object("Secret", {"a": "MQ=="}, immutable=True),
        "PATCH",
        {"data": {"a": "Mg=="}},
        STRATEGIC,
        ("data",),
    ),
    "secret-type": Case(
        "/api/v1/namespaces/{ns}/secrets",
        data_object("Secret", {"a": "MQ=="}),
        "PATCH",
        {"type": "kubernetes.io/tls"},
        MERGE,
        ("data[tls.crt]", "data[tls.key]", "type"),
    ),
    "service-cluster-ip": Case(
        "/api/v1/namespaces/{ns}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}]},
        },
        "PATCH",
        {"spec": {"clusterIP": "10.0.0.250"}},
        MERGE,
        ("spec.clusterIPs[0]",),
    ),
    "rolebinding-role": Case(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        {**binding("RoleBinding", "view"), "metadata": {"name": "b"}},
        "PATCH",
        {"roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edit"}},
        MERGE,
        ("roleRef",),
    ),
    "clusterrolebinding-role": Case(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        binding("ClusterRoleBinding", "view"),
        "PATCH",
        binding("ClusterRoleBinding", "edit"),
        APPLY,
        ("roleRef",),
    ),
    "job-template-and-completions": Case(
        "/apis/batch/v1/namespaces/{ns}/jobs",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                }
            },
        },
        "PATCH",
        {
            "spec": {
                "completions": 3,
                "template": {"spec": {"containers": [{"name": "c", "image": "alpine"}]}},
            }
        },
        STRATEGIC,
        ("spec.completions", "spec.template"),
    ),
    "claim-access-modes": Case(
        "/api/v1/namespaces/{ns}/persistentvolumeclaims",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "p"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        "PATCH",
        {"spec": {"accessModes": ["ReadWriteMany"]}},
        MERGE,
        ("spec",),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_an_immutable_field_change_is_refused_with_the_servers_causes(
    twin: Twin, name: str
) -> None:
    case = CASES[name]
    created = twin.same("POST", case.path, case.created, view=lambda a: a.code)
    assert created.code == 201, created.body
    item = created.body["metadata"]["name"]
    force = "&force=true" if case.content_type == APPLY else ""
    refused = twin.same(
        case.method,
        f"{case.path}/{item}?fieldManager=fs{force}",
        case.change,
        content_type=case.content_type,
        view=go_dump_elided,
    )
    assert (refused.code, refused.reason) == (422, "Invalid")
    assert tuple(sorted(c["field"] for c in refused.body["details"]["causes"])) == case.fields
    if case.path.endswith("clusterrolebindings"):
        twin.same("DELETE", f"{case.path}/{item}", view=lambda a: a.code)


def test_a_change_the_rules_allow_goes_through(twin: Twin) -> None:
    """Same selector, new image and replicas; an immutable ConfigMap's labels; a StatefulSet's
    replicas and template: accepted by both."""
    twin.same("POST", DEPLOYS, deployment("a"), view=lambda a: a.code)
    changed = deployment("a", replicas=3)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert (
        twin.same(
            "PATCH",
            f"{DEPLOYS}/d?fieldManager=fs&force=true",
            changed,
            content_type=APPLY,
            view=lambda a: a.code,
        ).code
        == 200
    )
    cms = "/api/v1/namespaces/{ns}/configmaps"
    twin.same(
        "POST", cms, data_object("ConfigMap", {"a": "1"}, immutable=True), view=lambda a: a.code
    )
    assert (
        twin.same(
            "PATCH",
            f"{cms}/i",
            {"metadata": {"labels": {"x": "y"}}},
            content_type=MERGE,
            view=lambda a: a.code,
        ).code
        == 200
    )
    sets = "/apis/apps/v1/namespaces/{ns}/statefulsets"
    twin.same("POST", sets, statefulset("s"), view=lambda a: a.code)
    assert (
        twin.same(
            "PATCH",
            f"{sets}/s",
            {"spec": {"replicas": 2, "minReadySeconds": 5}},
            content_type=MERGE,
            view=lambda a: a.code,
        ).code
        == 200
    )


@pytest.mark.parametrize(
    "kind,data,annotations",
    [
        ("kubernetes.io/tls", {"tls.crt": "eA=="}, {}),
        ("kubernetes.io/dockerconfigjson", {}, {}),
        ("kubernetes.io/basic-auth", {}, {}),
        ("kubernetes.io/ssh-auth", {}, {}),
        ("kubernetes.io/service-account-token", {}, {}),
    ],
)
def test_a_typed_secret_without_its_keys_is_invalid(
    twin: Twin, kind: str, data: dict[str, str], annotations: dict[str, str]
) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": kind,
        "metadata": {"name": "t", "annotations": annotations},
        "data": data,
    }
    refused = twin.same("POST", "/api/v1/namespaces/{ns}/secrets", body, view=status_view)
    assert refused.code == 422
