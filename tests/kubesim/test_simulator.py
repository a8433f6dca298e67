"""kubesim's own features: many clusters, credentials, faults, controllers, request counters."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ApiException

from kubesim import Simulator
from tests.kubesim.conftest import dynamic_client
from tests.kubesim.manifests import configmap, deployment, eventually
from tests.support.waiting import wait_for


def client_for(sim: Simulator, name: str, tmp_path: Path, retries: bool = True) -> DynamicClient:
    api = config.new_client_from_config(config_file=str(sim.kubeconfig_path(name)))
    if not retries:
        api.rest_client.pool_manager.connection_pool_kw["retries"] = False
    return dynamic_client(api, tmp_path)


def admin(sim: Simulator, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{sim.url}/_kubesim/{path}", data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def cms(dyn: DynamicClient):  # type: ignore[no-untyped-def]
    return dyn.resources.get(api_version="v1", kind="ConfigMap")


def test_clusters_are_independent(sim: Simulator, tmp_path: Path) -> None:
    cms(client_for(sim, "c1", tmp_path)).create(body=configmap("only-in-c1"), namespace="default")
    names = lambda c: {o["metadata"]["name"] for o in sim.cluster(c).objects()}  # noqa: E731
    assert "only-in-c1" in names("c1") and "only-in-c1" not in names("c2")


def test_combined_kubeconfig_has_a_context_per_cluster(sim: Simulator) -> None:
    contexts, _ = config.list_kube_config_contexts(str(sim.combined_kubeconfig_path()))
    assert sorted(c["name"] for c in contexts) == ["c1", "c2"]


def test_added_cluster_serves_and_removed_cluster_is_gone(sim: Simulator, tmp_path: Path) -> None:
    sim.add_cluster("c3")
    listed = cms(client_for(sim, "c3", tmp_path)).get(namespace="default").items
    assert [i.metadata.name for i in listed] == ["kube-root-ca.crt"]
    sim.remove_cluster("c3")
    assert not (sim.kubeconfig_dir / "c3.kubeconfig").exists()
    with pytest.raises(KeyError):
        sim.cluster("c3")


def test_wrong_token_is_unauthorized(sim: Simulator, tmp_path: Path) -> None:
    kubeconfig = json.loads(sim.kubeconfig_path("c1").read_text())
    kubeconfig["users"][0]["user"]["token"] = "wrong"
    (tmp_path / "wrong.kubeconfig").write_text(json.dumps(kubeconfig))
    api = config.new_client_from_config(config_file=str(tmp_path / "wrong.kubeconfig"))
    with pytest.raises(ApiException) as err:
        dynamic_client(api, tmp_path)
    assert err.value.status == 401


def test_forbidden_fault_answers_403_and_clears(sim: Simulator, tmp_path: Path) -> None:
    dyn = client_for(sim, "c1", tmp_path)
    sim.cluster("c1").set_fault(forbidden=True)
    with pytest.raises(ApiException) as err:
        cms(dyn).get(namespace="default")
    assert err.value.status == 403
    sim.cluster("c1").clear_faults()
    assert cms(dyn).get(namespace="default").kind == "ConfigMapList"


def test_error_rate_one_fails_every_request_with_retry_after(sim: Simulator) -> None:
    sim.cluster("c1").set_fault(error_rate=1.0, error_code=429)
    token = sim.cluster("c1").token
    req = urllib.request.Request(
        f"{sim.url}/clusters/c1/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 429 and err.value.headers["Retry-After"] == "1"
    assert json.loads(err.value.read())["reason"] == "TooManyRequests"


def test_latency_slows_only_the_faulty_cluster(sim: Simulator) -> None:
    sim.cluster("c1").set_fault(latency=0.3)

    def timed(name: str) -> float:
        start = time.monotonic()
        urllib.request.urlopen(f"{sim.url}/clusters/{name}/version", timeout=5).read()
        return time.monotonic() - start

    assert timed("c1") >= 0.3
    assert timed("c2") < 0.2


def test_down_cluster_closes_connections_or_hangs(sim: Simulator) -> None:
    http = urllib3.PoolManager(retries=False)
    sim.cluster("c1").set_fault(down=True)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        http.request("GET", f"{sim.url}/clusters/c1/version", timeout=2)
    sim.cluster("c1").set_fault(down=True, down_mode="hang")
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        http.request("GET", f"{sim.url}/clusters/c1/version", timeout=0.5)
    assert http.request("GET", f"{sim.url}/clusters/c2/version", timeout=2).status == 200


def test_held_requests_wait_unanswered_until_the_hold_is_lifted(sim: Simulator) -> None:
    http = urllib3.PoolManager(retries=False)
    sim.cluster("c1").set_fault(hold=True)
    with ThreadPoolExecutor(3) as pool:
        answers = [
            pool.submit(http.request, "GET", f"{sim.url}/clusters/{name}/version", timeout=30)
            for name in ("c1", "c1", "c2")
        ]
        assert answers[2].result().status == 200, "another cluster is served meanwhile"
        wait_for(lambda: sim.cluster("c1").held() == 2, what="both requests held together")
        assert not answers[0].done() and not answers[1].done()
        sim.cluster("c1").clear_faults()
        assert [a.result().status for a in answers[:2]] == [200, 200]
    assert sim.cluster("c1").held() == 0


def test_request_counts_by_verb_and_resource(sim: Simulator, tmp_path: Path) -> None:
    dyn = client_for(sim, "c1", tmp_path)
    handle = sim.cluster("c1")
    handle.reset_request_counts()
    cms(dyn).server_side_apply(
        body=configmap("a"), name="a", namespace="default", field_manager="t"
    )
    cms(dyn).get(name="a", namespace="default")
    cms(dyn).get(namespace="default")
    counts = handle.request_counts()
    assert counts[("apply", "configmaps")] == 1
    assert counts[("get", "configmaps")] == 1
    assert counts[("list", "configmaps")] == 1
    assert handle.request_log()[-1].verb == "list"


def test_dry_run_writes_are_counted_apart_from_writes(sim: Simulator, tmp_path: Path) -> None:
    dyn = client_for(sim, "c1", tmp_path)
    handle = sim.cluster("c1")
    cms(dyn).server_side_apply(
        body=configmap("kept"), name="kept", namespace="default", field_manager="t"
    )
    handle.reset_request_counts()
    apply = {"namespace": "default", "field_manager": "t"}
    cms(dyn).server_side_apply(body=configmap("d"), name="d", dry_run="All", **apply)
    cms(dyn).server_side_apply(body=configmap("d"), name="d", **apply)
    cms(dyn).create(body=configmap("c"), namespace="default", dry_run="All")
    cms(dyn).patch(
        body={"data": {"k": "x"}},
        name="kept",
        namespace="default",
        content_type="application/merge-patch+json",
        dry_run="All",
    )
    cms(dyn).replace(body=configmap("kept"), name="kept", namespace="default", dry_run="All")
    cms(dyn).delete(name="kept", namespace="default", dry_run="All")

    assert handle.request_counts() == {
        ("apply-dry-run", "configmaps"): 1,
        ("apply", "configmaps"): 1,
        ("create-dry-run", "configmaps"): 1,
        ("patch-dry-run", "configmaps"): 1,
        ("update-dry-run", "configmaps"): 1,
        ("delete-dry-run", "configmaps"): 1,
    }
    log = [(r.verb, r.name, r.dry_run) for r in handle.request_log()]
    assert log[:2] == [("apply", "d", True), ("apply", "d", False)]
    assert all(dry for _, _, dry in log[2:])
    names = {o["metadata"]["name"] for o in handle.objects()}
    assert {"kept", "d"} <= names and "c" not in names, "a dry-run persists nothing"
    counts = admin(sim, "GET", "clusters/c1/requests")
    assert {"verb": "apply-dry-run", "resource": "configmaps", "count": 1} in counts["counts"]
    assert counts["log"][0]["dry_run"] is True


def test_controllers_make_a_deployment_available_after_the_delay(
    sim: Simulator, tmp_path: Path
) -> None:
    sim.cluster("c1").set_controllers(ready_delay=0.3)
    deploys = client_for(sim, "c1", tmp_path).resources.get(
        api_version="apps/v1", kind="Deployment"
    )
    deploys.create(body=deployment("web", replicas=3), namespace="default")
    progressing = eventually(
        lambda: (
            deploys.get(name="web", namespace="default")
            .to_dict()
            .get("status", {})
            .get("observedGeneration")
        )
    )
    assert progressing == 1
    status = eventually(
        lambda: (lambda s: s if s.get("readyReplicas") == 3 else None)(
            deploys.get(name="web", namespace="default").to_dict()["status"]
        )
    )
    assert status["availableReplicas"] == 3
    assert {"type": "Available", "status": "True"}.items() <= status["conditions"][0].items()


def test_never_ready_keeps_a_deployment_unavailable(sim: Simulator, tmp_path: Path) -> None:
    sim.cluster("c1").set_controllers(ready_delay=0.05, never_ready=True)
    sim.cluster("c2").set_controllers(ready_delay=0.05)
    deploys, witness = (
        client_for(sim, c, tmp_path).resources.get(api_version="apps/v1", kind="Deployment")
        for c in ("c1", "c2")
    )
    deploys.create(body=deployment("stuck"), namespace="default")
    witness.create(body=deployment("ready"), namespace="default")
    # The same delay made the other cluster's deployment ready: this one had its chance.
    eventually(
        lambda: (
            witness.get(name="ready", namespace="default")
            .to_dict()
            .get("status", {})
            .get("readyReplicas")
        )
    )
    status = deploys.get(name="stuck", namespace="default").to_dict()["status"]
    assert "readyReplicas" not in status
    assert status["conditions"][0] == {
        **status["conditions"][0],
        "type": "Available",
        "status": "False",
    }


def test_jobs_complete(sim: Simulator, tmp_path: Path) -> None:
    sim.cluster("c1").set_controllers(ready_delay=0.05)
    jobs = client_for(sim, "c1", tmp_path).resources.get(api_version="batch/v1", kind="Job")
    jobs.create(
        namespace="default",
        body={
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                }
            },
        },
    )
    done = eventually(
        lambda: [
            c
            for c in jobs.get(name="once", namespace="default")
            .to_dict()
            .get("status", {})
            .get("conditions", [])
            if c["type"] == "Complete"
        ]
    )
    assert done[0]["status"] == "True"


def one_shot_pod(name: str, restart: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "busybox"}]},
    }


@pytest.mark.parametrize(
    ("result", "restart", "phase", "container_state"),
    [
        ("complete", "Never", "Succeeded", {"terminated": "Completed"}),
        ("complete", "OnFailure", "Succeeded", {"terminated": "Completed"}),
        ("fail", "Never", "Failed", {"terminated": "Error"}),
        ("fail", "OnFailure", "Running", {"waiting": "CrashLoopBackOff"}),
        ("run", "Never", "Running", None),
        ("complete", "Always", "Running", None),
    ],
)
def test_pods_that_run_to_completion_end_as_the_job_result_knob_says(
    sim: Simulator,
    tmp_path: Path,
    result: str,
    restart: str,
    phase: str,
    container_state: dict[str, str] | None,
) -> None:
    sim.cluster("c1").set_controllers(ready_delay=0.05, job_result=result)
    pods = client_for(sim, "c1", tmp_path).resources.get(api_version="v1", kind="Pod")
    pods.create(namespace="default", body=one_shot_pod("once", restart))

    status = eventually(
        lambda: (
            s
            if (s := pods.get(name="once", namespace="default").to_dict().get("status", {})).get(
                "phase"
            )
            not in (None, "Pending")
            else None
        )
    )

    assert status["phase"] == phase
    if container_state is None:
        assert "state" not in (status.get("containerStatuses") or [{}])[0]
    else:
        ((state, reason),) = container_state.items()
        assert status["containerStatuses"][0]["state"][state]["reason"] == reason


def test_disabled_controllers_leave_status_empty(sim: Simulator, tmp_path: Path) -> None:
    sim.cluster("c1").set_controllers(enabled=False)
    sim.cluster("c2").set_controllers(enabled=True, ready_delay=0.05)
    deploys, witness = (
        client_for(sim, c, tmp_path).resources.get(api_version="apps/v1", kind="Deployment")
        for c in ("c1", "c2")
    )
    deploys.create(body=deployment("idle"), namespace="default")
    witness.create(body=deployment("busy"), namespace="default")
    # Enabled controllers gave the other cluster's deployment a status: these had their chance.
    eventually(lambda: witness.get(name="busy", namespace="default").to_dict().get("status"))
    assert not deploys.get(name="idle", namespace="default").to_dict().get("status")


def test_admin_endpoint_sets_faults_and_reads_counters(sim: Simulator) -> None:
    listed = admin(sim, "GET", "clusters")
    assert [c["name"] for c in listed["clusters"]] == ["c1", "c2"]
    admin(sim, "PUT", "clusters/c2/faults", {"forbidden": True})
    assert sim.cluster("c2").faults.forbidden
    admin(sim, "DELETE", "clusters/c2/faults")
    assert not sim.cluster("c2").faults.active
    admin(sim, "PUT", "clusters/c2/controllers", {"ready_delay": 2.0})
    assert admin(sim, "GET", "clusters/c2/controllers")["ready_delay"] == 2.0
    urllib.request.urlopen(f"{sim.url}/clusters/c2/version", timeout=5).read()
    counts = admin(sim, "GET", "requests")
    assert {"verb": "get", "resource": "version", "count": 1} in counts["counts"]
    admin(sim, "POST", "clusters", {"name": "c9"})
    assert (sim.kubeconfig_dir / "c9.kubeconfig").exists()


def test_client_connections_are_counted_as_accepted_and_open(sim: Simulator) -> None:
    assert sim.connections() == (0, 0)
    clients = [socket.create_connection(("127.0.0.1", sim.port)) for _ in range(3)]
    wait_for(lambda: sim.connections() == (3, 3), what="three connections accepted")
    for c in clients[:2]:
        c.close()
    wait_for(lambda: sim.connections() == (3, 1), what="two of them closed")
    clients[2].close()
    wait_for(lambda: sim.connections() == (3, 0), what="all closed")
    assert admin(sim, "DELETE", "connections") == {"accepted": 0, "open": 1}  # its own
    assert admin(sim, "GET", "connections")["accepted"] == 1


def test_watch_from_a_compacted_resource_version_is_expired(tmp_path: Path) -> None:
    with Simulator(clusters=["c1"], event_log_size=5) as sim:
        api = config.new_client_from_config(config_file=str(sim.kubeconfig_path("c1")))
        dyn = dynamic_client(api, tmp_path)
        first = cms(dyn).create(body=configmap("a"), namespace="default")
        for i in range(8):
            cms(dyn).create(body=configmap(f"b{i}"), namespace="default")
        token = sim.cluster("c1").token
        http = urllib3.PoolManager()
        resp = http.request(
            "GET",
            f"{sim.url}/clusters/c1/api/v1/namespaces/default/configmaps?watch=1"
            f"&resourceVersion={first.metadata.resourceVersion}&timeoutSeconds=2",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        event = json.loads(resp.data.splitlines()[0])
        assert event["type"] == "ERROR"
        assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")


def test_forbidden_lists_refuse_a_list_across_namespaces_or_in_chosen_ones(
    sim: Simulator, tmp_path: Path
) -> None:
    dyn = client_for(sim, "c1", tmp_path)
    cms(dyn).create(body=configmap("seen"), namespace="default")
    sim.cluster("c1").forbid_lists("configmaps")
    with pytest.raises(ApiException) as err:
        cms(dyn).get()
    status = json.loads(err.value.body)
    assert (err.value.status, status["reason"]) == (403, "Forbidden")
    assert (
        'cannot list resource "configmaps" in API group "" at the cluster scope'
        in (status["message"])
    )
    assert "seen" in [i.metadata.name for i in cms(dyn).get(namespace="default").items]
    assert cms(dyn).get(name="seen", namespace="default").metadata.name == "seen"
    assert dyn.resources.get(api_version="v1", kind="Secret").get().kind == "SecretList"

    sim.cluster("c1").forbid_lists("configmaps", namespaces=["default"])
    with pytest.raises(ApiException) as err:
        cms(dyn).get(namespace="default")
    assert 'in the namespace "default"' in json.loads(err.value.body)["message"]
    assert cms(dyn).get(namespace="kube-system").kind == "ConfigMapList"
    sim.cluster("c1").clear_faults()
    assert cms(dyn).get().kind == "ConfigMapList"


def test_forbidden_lists_are_set_through_the_admin_endpoint(sim: Simulator, tmp_path: Path) -> None:
    admin(sim, "PUT", "clusters/c2/faults", {"forbidden_lists": [["secrets", "default"]]})
    assert sim.cluster("c2").faults.forbidden_lists == (("secrets", "default"),)
    secrets = client_for(sim, "c2", tmp_path).resources.get(api_version="v1", kind="Secret")
    with pytest.raises(ApiException) as err:
        secrets.get(namespace="default")
    assert err.value.status == 403
    assert secrets.get().kind == "SecretList"
    assert admin(sim, "GET", "clusters/c2/faults")["forbidden_lists"] == [["secrets", "default"]]


def test_forbidden_deletes_refuse_a_delete_of_what_can_still_be_read_and_written(
    sim: Simulator, tmp_path: Path
) -> None:
    dyn = client_for(sim, "c1", tmp_path)
    for ns in ("default", "kube-system"):
        cms(dyn).create(body=configmap("kept"), namespace=ns)
    sim.cluster("c1").forbid_deletes("configmaps", namespaces=["default"])
    with pytest.raises(ApiException) as err:
        cms(dyn).delete(name="kept", namespace="default")
    status = json.loads(err.value.body)
    assert (err.value.status, status["reason"]) == (403, "Forbidden")
    assert status["details"]["name"] == "kept"
    assert status["message"] == (
        'configmaps "kept" is forbidden: User "system:serviceaccount:fleetsync:fleetsync" cannot '
        'delete resource "configmaps" in API group "" in the namespace "default"'
    )
    assert cms(dyn).get(name="kept", namespace="default").metadata.name == "kept"
    cms(dyn).patch(
        body={"data": {"still": "writable"}},
        name="kept",
        namespace="default",
        content_type="application/merge-patch+json",
    )
    cms(dyn).delete(name="kept", namespace="kube-system")  # another namespace: served
    codes = [(r.verb, r.namespace, r.code) for r in sim.cluster("c1").request_log()]
    assert [c for c in codes if c[0] == "delete"][-2:] == [
        ("delete", "default", 403),
        ("delete", "kube-system", 200),
    ]

    sim.cluster("c1").forbid_deletes("namespaces")  # "": everywhere, the cluster scope included
    with pytest.raises(ApiException) as err:
        dyn.resources.get(api_version="v1", kind="Namespace").delete(name="kube-system")
    assert "at the cluster scope" in json.loads(err.value.body)["message"]
    sim.cluster("c1").clear_faults()
    cms(dyn).delete(name="kept", namespace="default")


def test_forbidden_writes_refuse_creates_and_patches_of_what_can_still_be_read(
    sim: Simulator, tmp_path: Path
) -> None:
    dyn = client_for(sim, "c1", tmp_path)
    cms(dyn).create(body=configmap("kept"), namespace="default")
    sim.cluster("c1").forbid_writes("configmaps", namespaces=["default"])
    with pytest.raises(ApiException) as err:
        cms(dyn).patch(
            body={"data": {"not": "written"}},
            name="kept",
            namespace="default",
            content_type="application/merge-patch+json",
        )
    status = json.loads(err.value.body)
    assert (err.value.status, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'configmaps "kept" is forbidden: User "system:serviceaccount:fleetsync:fleetsync" cannot '
        'patch resource "configmaps" in API group "" in the namespace "default"'
    )
    with pytest.raises(ApiException) as err:
        cms(dyn).create(body=configmap("new"), namespace="default")
    assert 'cannot create resource "configmaps"' in json.loads(err.value.body)["message"]
    kept = cms(dyn).get(name="kept", namespace="default").to_dict()
    assert "not" not in (kept.get("data") or {}), "read, not written"
    cms(dyn).create(body=configmap("new"), namespace="kube-system")  # another namespace: served
    cms(dyn).delete(name="kept", namespace="default")  # deletes are another verb: served
    admin(sim, "PUT", "clusters/c1/faults", {"forbidden_writes": [["configmaps", ""]]})
    assert admin(sim, "GET", "clusters/c1/faults")["forbidden_writes"] == [["configmaps", ""]]
    with pytest.raises(ApiException) as err:
        cms(dyn).create(body=configmap("new2"), namespace="kube-system")
    assert err.value.status == 403
    sim.cluster("c1").clear_faults()


def test_forbidden_deletes_are_set_through_the_admin_endpoint(
    sim: Simulator, tmp_path: Path
) -> None:
    admin(sim, "PUT", "clusters/c2/faults", {"forbidden_deletes": [["secrets", ""]]})
    assert sim.cluster("c2").faults.forbidden_deletes == (("secrets", ""),)
    secrets = client_for(sim, "c2", tmp_path).resources.get(api_version="v1", kind="Secret")
    secrets.create(
        body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}, namespace="default"
    )
    with pytest.raises(ApiException) as err:
        secrets.delete(name="s", namespace="default")
    assert err.value.status == 403
    assert admin(sim, "GET", "clusters/c2/faults")["forbidden_deletes"] == [["secrets", ""]]
    with pytest.raises(urllib.error.HTTPError) as refused:
        admin(sim, "PUT", "clusters/c2/faults", {"forbidden_deletes": [["", "default"]]})
    assert refused.value.code == 400
    admin(sim, "DELETE", "clusters/c2/faults")
    secrets.delete(name="s", namespace="default")


def test_crd_established_delay_keeps_a_new_kind_unserved_until_it_passes(
    sim: Simulator, tmp_path: Path
) -> None:
    from tests.kubesim.test_contract_crds import crd, established

    sim.cluster("c1").set_controllers(crd_established_delay=0.6)
    dyn = client_for(sim, "c1", tmp_path)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    created = crds.create(body=crd("delayed.kubesim.example.com")).to_dict()
    conditions = {c["type"]: c["status"] for c in created["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "False"}
    token = sim.cluster("c1").token
    path = f"{sim.url}/clusters/c1/apis/delayed.kubesim.example.com/v1/widgets"
    http = urllib3.PoolManager()
    headers = {"Authorization": f"Bearer {token}"}
    assert http.request("GET", path, headers=headers, timeout=5).status == 404
    eventually(lambda: established(dyn, "widgets.delayed.kubesim.example.com"), timeout=10)
    assert http.request("GET", path, headers=headers, timeout=5).status == 200
    assert admin(sim, "GET", "clusters/c1/controllers")["crd_established_delay"] == 0.6


def _watch_lines(sim: Simulator, cluster: str, query: str) -> tuple[int, list[dict[str, Any]]]:
    token = sim.cluster(cluster).token
    resp = urllib3.PoolManager().request(
        "GET",
        f"{sim.cluster(cluster).server}/api/v1/configmaps?watch=true&{query}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return resp.status, [json.loads(line) for line in resp.data.splitlines() if line]


def test_watches_can_be_refused_or_closed_at_once_while_other_requests_are_served(
    sim: Simulator, tmp_path: Path
) -> None:
    sim.cluster("c1").set_fault(watches="forbid")
    status, lines = _watch_lines(sim, "c1", "timeoutSeconds=5")
    assert status == 403
    assert 'cannot watch resource "configmaps"' in lines[0]["message"]
    assert cms(client_for(sim, "c1", tmp_path)).get().kind == "ConfigMapList"
    sim.cluster("c1").set_fault(watches="close")
    started = time.monotonic()
    assert _watch_lines(sim, "c1", "timeoutSeconds=30") == (200, [])
    assert time.monotonic() - started < 10
    admin(sim, "PUT", "clusters/c2/faults", {"watches": "forbid"})
    assert _watch_lines(sim, "c2", "timeoutSeconds=5")[0] == 403
    with pytest.raises(ValueError, match="watches must be one of"):
        sim.cluster("c1").set_fault(watches="sometimes")


def test_compaction_makes_a_watch_from_an_older_revision_expire(
    sim: Simulator, tmp_path: Path
) -> None:
    dyn = client_for(sim, "c1", tmp_path)
    before = cms(dyn).create(body=configmap("old"), namespace="default").metadata.resourceVersion
    cms(dyn).create(body=configmap("newer"), namespace="default")
    status, lines = _watch_lines(sim, "c1", f"resourceVersion={before}&timeoutSeconds=1")
    assert [e["object"]["metadata"]["name"] for e in lines] == ["newer"]
    now = sim.cluster("c1").compact()
    status, lines = _watch_lines(sim, "c1", f"resourceVersion={before}&timeoutSeconds=1")
    assert (lines[0]["type"], lines[0]["object"]["code"]) == ("ERROR", 410)
    status, lines = _watch_lines(sim, "c1", f"resourceVersion={now}&timeoutSeconds=1")
    assert (status, lines) == (200, [])
