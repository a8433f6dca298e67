"""Deletion, termination, watches and pagination, answer by answer on kubesim and a real server:
finalizers holding a deleted object, orphan and foreground deletion of a Deployment's
dependents, a Terminating namespace, a watch seeing objects enter and leave its label selector,
and list pagination (with a continuation older than the compacted history)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubesim import Simulator
from tests.kubesim.conftest import CLUSTER
from tests.kubesim.twin import Answer, Server, Twin, status_view
from tests.support.realk8s import RealClusters, compact_etcd

CMS = "/api/v1/namespaces/{ns}/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/{ns}/deployments"
MERGE = "application/merge-patch+json"


def wait_until(server: Server, check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{server.name}: {what} within {timeout}s"
        time.sleep(0.05)


def gone(server: Server, path: str) -> Callable[[], bool]:
    return lambda: server.request("GET", path).code == 404


def configmap(name: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": {"k": "v"},
    }


def test_a_finalizer_holds_a_deleted_object_until_it_is_removed(twin: Twin) -> None:
    twin.same("POST", CMS, configmap("held", finalizers=["example.com/hold"]))
    deleted = twin.same("DELETE", f"{CMS}/held")
    assert deleted.body["metadata"]["deletionTimestamp"] == "<time>"
    twin.same("GET", f"{CMS}/held")
    twin.same("PATCH", f"{CMS}/held", {"data": {"k": "changed"}}, content_type=MERGE)
    twin.same(
        "PATCH",
        f"{CMS}/held",
        {"metadata": {"finalizers": None}},
        content_type=MERGE,
        view=lambda a: a.code,
    )
    answer = twin.same("GET", f"{CMS}/held", view=status_view)
    assert answer.code == 404


def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def with_dependent(twin: Twin, name: str) -> dict[str, Answer]:
    """A Deployment and, on each server, a ConfigMap it owns (blocking its deletion)."""
    owners = {}
    for server in twin.servers():
        owner = server.request("POST", twin.path(DEPLOYS), deployment(name))
        assert owner.code == 201, owner
        dependent = configmap(
            f"{name}-dep",
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": name,
                    "uid": owner.body["metadata"]["uid"],
                    "blockOwnerDeletion": True,
                }
            ],
            finalizers=["example.com/hold"],
        )
        assert server.request("POST", twin.path(CMS), dependent).code == 201
        owners[server.name] = owner
    return owners


def without_version(answer: Answer) -> Any:
    body = dict(answer.body)
    body["metadata"] = {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
    return {"code": answer.code, "body": body}


def test_orphan_deletion_leaves_the_dependents_without_their_owner_reference(twin: Twin) -> None:
    with_dependent(twin, "orphaner")
    twin.same("DELETE", f"{DEPLOYS}/orphaner?propagationPolicy=Orphan", view=lambda a: a.code)
    for server in twin.servers():
        wait_until(server, gone(server, twin.path(f"{DEPLOYS}/orphaner")), "owner deleted")
    dependent = twin.same("GET", f"{CMS}/orphaner-dep", view=without_version)
    assert "ownerReferences" not in dependent.body["metadata"]
    twin.same(
        "PATCH",
        f"{CMS}/orphaner-dep",
        {"metadata": {"finalizers": None}},
        content_type=MERGE,
        view=lambda a: a.code,
    )


def test_foreground_deletion_waits_for_the_dependents(twin: Twin) -> None:
    with_dependent(twin, "fg")
    marked = twin.same(
        "DELETE",
        f"{DEPLOYS}/fg?propagationPolicy=Foreground",
        view=lambda a: (
            a.code,
            a.body["metadata"].get("finalizers"),
            "deletionTimestamp" in a.body["metadata"],
        ),
    )
    assert marked.body["metadata"]["finalizers"] == ["foregroundDeletion"]
    for server in twin.servers():
        path = twin.path(f"{CMS}/fg-dep")
        wait_until(
            server,
            lambda s=server, p=path: bool(  # type: ignore[misc]
                s.request("GET", p).body["metadata"].get("deletionTimestamp")
            ),
            "the dependent marked for deletion",
        )
        assert server.request("GET", twin.path(f"{DEPLOYS}/fg")).code == 200, server.name
        server.request("PATCH", path, {"metadata": {"finalizers": None}}, content_type=MERGE)
        wait_until(server, gone(server, twin.path(f"{DEPLOYS}/fg")), "owner deleted")


def test_a_terminating_namespace_refuses_new_objects_and_keeps_its_contents(twin: Twin) -> None:
    twin.same(
        "POST", CMS, configmap("held", finalizers=["example.com/hold"]), view=lambda a: a.code
    )
    twin.same(
        "DELETE", "/api/v1/namespaces/{ns}", view=lambda a: (a.code, a.body["status"]["phase"])
    )
    for server in twin.servers():
        ns = server.request("GET", twin.path("/api/v1/namespaces/{ns}")).body
        assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    refused = twin.same("POST", CMS, configmap("late"), view=status_view)
    assert refused.code == 403
    twin.same(
        "PATCH",
        f"{CMS}/held",
        {"data": {"k": "updated"}},
        content_type=MERGE,
        view=lambda a: (a.code, a.body.get("data")),
    )
    twin.same(
        "PATCH",
        f"{CMS}/held",
        {"metadata": {"finalizers": None}},
        content_type=MERGE,
        view=lambda a: a.code,
    )


def events(answer: Answer) -> list[tuple[str, str, str]]:
    return [
        (
            e["type"],
            e["object"]["metadata"]["name"],
            e["object"]["metadata"].get("labels", {}).get("tier", ""),
        )
        for e in answer.body
    ]


def test_a_watch_sees_objects_enter_and_leave_its_label_selector(twin: Twin) -> None:
    start = {
        s.name: s.request("GET", twin.path(CMS)).body["metadata"]["resourceVersion"]
        for s in twin.servers()
    }
    twin.same("POST", CMS, configmap("w", labels={"tier": "web"}), view=lambda a: a.code)
    for labels in ({"tier": "db"}, {"tier": "web"}, {"tier": "web", "more": "x"}):
        twin.same(
            "PATCH",
            f"{CMS}/w",
            {"metadata": {"labels": labels}},
            content_type=MERGE,
            view=lambda a: a.code,
        )
    twin.same("DELETE", f"{CMS}/w", view=lambda a: a.code)
    seen = []
    for server in twin.servers():
        answer = server.request(
            "GET",
            twin.path(CMS) + f"?watch=1&labelSelector=tier%3Dweb&timeoutSeconds=1"
            f"&resourceVersion={start[server.name]}",
            stream=True,
        )
        seen.append(events(answer))
    assert (
        seen[0]
        == seen[1]
        == [
            ("ADDED", "w", "web"),
            ("DELETED", "w", "web"),
            ("ADDED", "w", "web"),
            ("MODIFIED", "w", "web"),
            ("DELETED", "w", "web"),
        ]
    )


def test_lists_page_with_limit_and_continue(twin: Twin) -> None:
    for i in range(5):
        twin.same("POST", CMS, configmap(f"p{i}", labels={"page": "yes"}), view=lambda a: a.code)

    def page(answer: Answer) -> Any:
        meta = answer.body["metadata"]
        return {
            "names": [i["metadata"]["name"] for i in answer.body["items"]],
            "more": "continue" in meta,
            "remaining": meta.get("remainingItemCount"),
        }

    first = twin.same("GET", f"{CMS}?labelSelector=page%3Dyes&limit=2", view=page)
    assert page(first) == {"names": ["p0", "p1"], "more": True, "remaining": None}
    unfiltered = twin.same("GET", f"{CMS}?limit=2", view=page)
    assert page(unfiltered)["remaining"] == 4  # kube-root-ca.crt and p0..p4
    pages = []
    for server in twin.servers():
        names, token = [], ""
        while True:
            query = "?labelSelector=page%3Dyes&limit=2" + (f"&continue={token}" if token else "")
            body = server.request("GET", twin.path(CMS) + query).body
            names.append([i["metadata"]["name"] for i in body["items"]])
            token = body["metadata"].get("continue", "")
            if not token:
                break
        pages.append(names)
    assert pages[0] == pages[1] == [["p0", "p1"], ["p2", "p3"], ["p4"]]
    # the wording after "continue key is not valid: " is Go's JSON decoder's (not emulated)
    bad = twin.same(
        "GET",
        f"{CMS}?limit=2&continue=not-a-token",
        view=lambda a: (a.code, a.reason, a.message.split(":")[0]),
    )
    assert bad.code == 400


def test_a_continuation_older_than_the_compacted_history_is_gone_with_a_fresh_token(
    twin: Twin, sim_session: Simulator, real_clusters: RealClusters
) -> None:
    """A real server compacts etcd every five minutes; here both compact now (kubesim's knob,
    etcd's own compaction), and a page asked for with an older token is a 410 that hands back a
    token to go on from (inconsistently: at the latest revision)."""
    for i in range(3):
        twin.same("POST", CMS, configmap(f"c{i}", labels={"old": "yes"}), view=lambda a: a.code)
    query = f"{CMS}?labelSelector=old%3Dyes&limit=1"
    tokens = [answer.body["metadata"]["continue"] for answer in twin.each("GET", query)]
    twin.same("POST", CMS, configmap("later"), view=lambda a: a.code)  # history moves on
    sim_session.cluster(CLUSTER).compact()
    compact_etcd(real_clusters, len(real_clusters.names) - 1)

    expired = []
    for server, token in zip(twin.servers(), tokens, strict=True):
        answer = server.request("GET", twin.path(f"{query}&continue={token}"))
        expired.append(answer)
        assert answer.body["metadata"]["continue"], server.name
    assert status_view(expired[0]) == status_view(expired[1])
    assert (expired[1].code, expired[1].reason) == (410, "Expired")
    rest = []
    for server, answer in zip(twin.servers(), expired, strict=True):
        token = answer.body["metadata"]["continue"]
        page = server.request(
            "GET", twin.path(f"{query.replace('limit=1', 'limit=5')}&continue={token}")
        )
        rest.append([i["metadata"]["name"] for i in page.body["items"]])
    assert rest[0] == rest[1] == ["c1", "c2"]
