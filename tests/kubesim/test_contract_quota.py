"""ResourceQuota on kubesim and a real server: the quota's status (hard limits, counts used), a
create beyond a limit refused with the same 403, and room made by a deletion."""

from __future__ import annotations

import time
from typing import Any

from tests.kubesim.twin import Answer, Twin, status_view

QUOTAS = "/api/v1/namespaces/{ns}/resourcequotas"
CMS = "/api/v1/namespaces/{ns}/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/{ns}/deployments"
HARD = {
    "count/configmaps": "3",
    "configmaps": "4",
    "secrets": "10",
    "count/deployments.apps": "1",
    "services.nodeports": "0",
}


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
            },
        },
    }


def used(answer: Answer) -> Any:
    return (answer.body.get("status") or {}).get("used")


def settle(twin: Twin, expected: dict[str, str]) -> None:
    """Wait until both quotas count what is expected (a real controller counts moments later,
    minutes on a loaded machine: its informers see the new objects late)."""
    for server in twin.servers():
        deadline = time.monotonic() + 180
        while (seen := used(server.request("GET", twin.path(f"{QUOTAS}/q")))) != expected:
            assert time.monotonic() < deadline, (
                f"{server.name}: quota never counted {expected}; last counted {seen}"
            )
            time.sleep(0.1)


def test_a_quota_counts_refuses_beyond_its_limits_and_makes_room_on_delete(twin: Twin) -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q"},
        "spec": {"hard": HARD},
    }
    twin.same("POST", QUOTAS, quota, view=lambda a: a.code)
    counts = {
        "configmaps": "1",
        "count/configmaps": "1",
        "count/deployments.apps": "0",
        "secrets": "0",
        "services.nodeports": "0",
    }
    settle(twin, counts)  # kube-root-ca.crt is there already
    shown = twin.same("GET", f"{QUOTAS}/q", view=lambda a: (a.code, a.body["status"]))
    assert shown.body["status"]["hard"] == HARD

    for name in ("a", "b"):
        assert twin.same("POST", CMS, configmap(name), view=lambda a: a.code).code == 201
        settle(
            twin,
            {
                **counts,
                "configmaps": str(int(name == "b") + 2),
                "count/configmaps": str(int(name == "b") + 2),
            },
        )
    refused = twin.same("POST", CMS, configmap("c"), view=status_view)
    assert (refused.code, refused.reason) == (403, "Forbidden")
    assert refused.message == (
        'configmaps "c" is forbidden: exceeded quota: q, requested: count/configmaps=1, used: '
        "count/configmaps=3, limited: count/configmaps=3"
    )
    applied = twin.same(
        "PATCH",
        f"{CMS}/c?fieldManager=fs",
        configmap("c"),
        content_type="application/apply-patch+yaml",
        view=status_view,
    )
    assert applied.code == 403

    twin.same("POST", DEPLOYS, deployment("d1"), view=lambda a: a.code)
    refused = twin.same("POST", DEPLOYS, deployment("d2"), view=status_view)
    assert refused.message.startswith('deployments.apps "d2" is forbidden: exceeded quota: q')
    nodeport = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "np"},
        "spec": {"type": "NodePort", "ports": [{"port": 80}]},
    }
    assert (
        twin.same("POST", "/api/v1/namespaces/{ns}/services", nodeport, view=status_view).code
        == 403
    )

    twin.same("DELETE", f"{CMS}/a", view=lambda a: a.code)
    settle(
        twin, {**counts, "configmaps": "2", "count/configmaps": "2", "count/deployments.apps": "1"}
    )
    assert twin.same("POST", CMS, configmap("c"), view=lambda a: a.code).code == 201


def test_a_quota_whose_scopes_do_not_fit_its_resources_is_invalid(twin: Twin) -> None:
    def quota(name: str, hard: dict[str, str], scopes: list[str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": name},
            "spec": {"hard": hard, "scopes": scopes},
        }

    refused = twin.same(
        "POST", QUOTAS, quota("bad", {"cpu": "1", "pods": "2"}, ["BestEffort"]), view=status_view
    )
    assert refused.code == 422
    refused = twin.same(
        "POST",
        QUOTAS,
        quota("bad", {"configmaps": "1"}, ["NotTerminating", "Terminating"]),
        view=status_view,
    )
    assert refused.code == 422
    fits = twin.same(
        "POST",
        QUOTAS,
        quota("good", {"cpu": "1", "pods": "2"}, ["NotBestEffort"]),
        view=lambda a: a.code,
    )
    assert fits.code == 201
