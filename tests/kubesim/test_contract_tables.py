"""Table answers (`kubectl get`): kubesim and a real server list the same objects with the same
columns, and the same cells wherever a cell does not depend on time, IP allocation or on
controllers (a real cluster without kubelet never makes a Deployment ready)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from kubesim import Simulator
from tests.kubesim.conftest import CLUSTER, kubectl_runner, real_kubeconfig
from tests.kubesim.twin import CRDS, Answer, Twin, crd_manifest
from tests.support.realk8s import RealClusters

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
VOLATILE = frozenset(
    {
        "Age",
        "Created At",
        "Cluster-IP",
        "Ready",
        "Up-to-date",
        "Available",
        "Current",
        "Duration",
        "Completions",
        "Active",
        "Last Schedule",
    }
)
"""Columns whose cells depend on time, on IP allocation or on controllers."""

OBJECTS: list[tuple[str, dict[str, Any]]] = [
    (
        "/api/v1/namespaces/{ns}/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"a": "1"},
            "binaryData": {"b": "AA=="},
        },
    ),
    (
        "/api/v1/namespaces/{ns}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "type": "kubernetes.io/basic-auth",
            "stringData": {"username": "u", "password": "p"},
        },
    ),
    (
        "/api/v1/namespaces/{ns}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"app": "web", "tier": "fe"},
                "ports": [
                    {"name": "http", "port": 80},
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                ],
            },
        },
    ),
    (
        "/api/v1/namespaces/{ns}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db"},
            "spec": {"type": "ExternalName", "externalName": "db.example.com"},
        },
    ),
    (
        "/apis/apps/v1/namespaces/{ns}/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "nginx:1.27"},
                            {"name": "side", "image": "busybox"},
                        ]
                    },
                },
            },
        },
    ),
    (
        "/apis/batch/v1/namespaces/{ns}/cronjobs",
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "c", "image": "busybox"}],
                            }
                        }
                    }
                },
            },
        },
    ),
    (
        "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "i"},
            "spec": {
                "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
                "tls": [{"hosts": ["a.example.com"], "secretName": "cert"}],
            },
        },
    ),
    (
        "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny"},
            "spec": {
                "podSelector": {
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]
                }
            },
        },
    ),
    (
        "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "p"},
            "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}},
        },
    ),
    (
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "rb"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [
                {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
                {"kind": "ServiceAccount", "name": "default", "namespace": "{ns}"},
            ],
        },
    ),
    (
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
    ),
    (
        "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "l"},
            "spec": {"holderIdentity": "me"},
        },
    ),
]


def without_controllers(partial: dict[str, Any]) -> dict[str, Any]:
    """A row's object metadata without what controllers wrote (their managedFields and the
    resourceVersion their writes moved)."""
    meta = {k: v for k, v in partial["metadata"].items() if k != "resourceVersion"}
    meta["managedFields"] = [
        e for e in meta.get("managedFields", ()) if e["manager"] != "kube-controller-manager"
    ]
    meta["annotations"] = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "deployment.kubernetes.io/revision"
    }
    return {**partial, "metadata": meta}


def table_view(answer: Answer) -> Any:
    body = answer.body
    if body.get("kind") != "Table":
        return {"code": answer.code, "body": body}
    names = [c["name"] for c in body["columnDefinitions"]]
    rows = [
        {
            "cells": [None if n in VOLATILE else c for n, c in zip(names, r["cells"], strict=True)],
            "object": without_controllers(r["object"]),
        }
        for r in body["rows"] or ()
    ]
    return {"code": answer.code, "columns": body["columnDefinitions"], "rows": rows}


@pytest.mark.parametrize(
    ("path", "body"), OBJECTS, ids=[b["kind"] + "/" + b["metadata"]["name"] for _, b in OBJECTS]
)
def test_get_and_list_as_a_table_show_the_real_servers_columns_and_cells(
    twin: Twin, path: str, body: dict[str, Any]
) -> None:
    created = twin.same("POST", path, body, view=lambda a: a.code)
    assert created.code == 201
    one = twin.same("GET", f"{path}/{body['metadata']['name']}", accept=TABLE, view=table_view)
    assert one.body["kind"] == "Table" and len(one.body["rows"]) == 1
    twin.same("GET", f"{path}?labelSelector=!absent", accept=TABLE, view=table_view)


def test_kinds_without_a_printer_list_name_and_creation_time(twin: Twin) -> None:
    twin.same(
        "GET",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
        accept=TABLE,
        view=table_view,
    )
    answer = twin.same("GET", "/api/v1/namespaces/{ns}/limitranges", accept=TABLE, view=table_view)
    assert [c["name"] for c in answer.body["columnDefinitions"]] == ["Name", "Created At"]


def crd(group: str, columns: list[dict[str, Any]] | None) -> dict[str, Any]:
    spec = {
        "type": "object",
        "properties": {"size": {"type": "integer"}, "color": {"type": "string"}},
    }
    return crd_manifest(
        group=group,
        kind="Widget",
        plural="widgets",
        schema={"type": "object", "properties": {"spec": spec}},
        printer_columns=columns,
    )


@pytest.mark.parametrize(
    "columns",
    [
        None,
        [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {
                "name": "Color",
                "type": "string",
                "jsonPath": ".spec.color",
                "priority": 1,
                "description": "the widget's color",
            },
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
        ],
    ],
    ids=["default", "printer-columns"],
)
def test_custom_resources_list_their_printer_columns(
    twin: Twin, columns: list[dict[str, Any]] | None
) -> None:
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    twin.same("POST", CRDS, crd(group, columns), view=lambda a: a.code)
    try:
        path = f"/apis/{group}/v1/namespaces/{{ns}}/widgets"
        widget = {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 3, "color": "blue"},
        }
        deadline = time.monotonic() + 30
        # each server serves the new kind when its CRD is established, not both at once: one
        # that already took the widget answers 409 to the next try
        while any(a.code not in (201, 409) for a in twin.each("POST", path, widget)):
            assert time.monotonic() < deadline, "the CRD was never served"
            time.sleep(0.1)
        answer = twin.same("GET", path, accept=TABLE, view=table_view)
        assert [c["name"] for c in answer.body["columnDefinitions"]] == (
            ["Name", "Age"] if columns is None else ["Name", "Size", "Color", "Missing"]
        )
    finally:
        for server in twin.servers():
            server.request("DELETE", f"{CRDS}/widgets.{group}")


def test_kubectl_get_prints_the_same_header_on_both(
    twin: Twin, sim_session: Simulator, real_clusters: RealClusters, tmp_path: Any
) -> None:
    for path, body in OBJECTS[:5]:
        twin.same("POST", path, body, view=lambda a: a.code)
    outputs = []
    for name, kubeconfig in (
        ("sim", sim_session.kubeconfig_path(CLUSTER)),
        ("real", real_kubeconfig(real_clusters)),
    ):
        run = kubectl_runner(kubeconfig, tmp_path / name)
        out = run(
            "get", "configmaps,secrets,services,deployments", "-o", "wide", "-n", twin.namespace
        ).stdout
        outputs.append(
            [line.split()[0] for line in out.splitlines() if line.strip()]
            + [line for line in out.splitlines() if line.startswith("NAME")]
        )
    assert outputs[0] == outputs[1]
