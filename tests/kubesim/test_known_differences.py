"""Known differences from a real server, pinned: each test states kubesim's answer and why it
does not matter to fleetsync (README, "What kubesim does not emulate")."""

from __future__ import annotations

from kubesim import Simulator
from tests.kubesim.conftest import CLUSTER
from tests.kubesim.twin import Server

PROTOBUF = "application/vnd.kubernetes.protobuf"


def server(sim: Simulator) -> Server:
    return Server("kubesim", sim.kubeconfig_path(CLUSTER))


def test_answers_are_json_even_to_a_client_that_asks_only_for_protobuf(
        sim_session: Simulator) -> None:
    # fleetsync's client (and kubectl, which accepts JSON too) reads JSON.
    answer = server(sim_session).request("GET", "/api/v1/namespaces/default", accept=PROTOBUF)
    assert answer.code == 200 and answer.content_type == "application/json"
    assert answer.body["metadata"]["name"] == "default"


def test_service_account_tokens_are_not_issued(sim_session: Simulator) -> None:
    # `kubectl create token`: fleetsync reaches clusters with the kubeconfigs it is given.
    answer = server(sim_session).request(
        "POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    assert answer.code == 404


def test_deployments_get_no_replicasets_and_clusters_no_bootstrap_roles(
        sim_session: Simulator) -> None:
    # fleetsync reads a Deployment's own status, never its ReplicaSets; nor does it rely on the
    # default ClusterRoles (view, edit, admin) or the system priority classes.
    api = server(sim_session)
    assert api.request("GET", "/apis/apps/v1/replicasets").body["items"] == []
    assert api.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view").code == 404
    classes = api.request("GET", "/apis/scheduling.k8s.io/v1/priorityclasses").body["items"]
    assert [c for c in classes if c["metadata"]["name"].startswith("system-")] == []
