"""Known differences from a real server, pinned: each test states kubesim's answer and why it
does not matter to fleetsync (README, "What kubesim does not emulate"). Others are pinned where
they are compared: the fields the walk over every kind leaves out (test_contract_every_kind's
KNOWN), Go's rendering of whole structs in immutable-field refusals (test_contract_immutable),
the order of a custom resource's failing properties (test_contract_crd_values)."""

from __future__ import annotations

import uuid

from kubesim import Simulator
from tests.kubesim.conftest import CLUSTER
from tests.kubesim.twin import CRDS, Server, crd_manifest

PROTOBUF = "application/vnd.kubernetes.protobuf"
APPLY = "application/apply-patch+yaml"


def server(sim: Simulator) -> Server:
    return Server("kubesim", sim.kubeconfig_path(CLUSTER))


def test_answers_are_json_even_to_a_client_that_asks_only_for_protobuf(
    sim_session: Simulator,
) -> None:
    # fleetsync's client (and kubectl, which accepts JSON too) reads JSON.
    answer = server(sim_session).request("GET", "/api/v1/namespaces/default", accept=PROTOBUF)
    assert answer.code == 200 and answer.content_type == "application/json"
    assert answer.body["metadata"]["name"] == "default"


def test_service_account_tokens_are_not_issued(sim_session: Simulator) -> None:
    # `kubectl create token`: fleetsync reaches clusters with the kubeconfigs it is given.
    answer = server(sim_session).request(
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    assert answer.code == 404


def test_deployments_get_no_replicasets_and_clusters_no_bootstrap_roles(
    sim_session: Simulator,
) -> None:
    # fleetsync reads a Deployment's own status, never its ReplicaSets; nor does it rely on the
    # default ClusterRoles (view, edit, admin) or the system priority classes.
    api = server(sim_session)
    assert api.request("GET", "/apis/apps/v1/replicasets").body["items"] == []
    assert api.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view").code == 404
    classes = api.request("GET", "/apis/scheduling.k8s.io/v1/priorityclasses").body["items"]
    assert [c for c in classes if c["metadata"]["name"].startswith("system-")] == []


def test_a_quota_counts_objects_but_neither_compute_resources_nor_scopes(
    sim_session: Simulator,
) -> None:
    # A real server sums the requests of the pods a quota's scopes select; no pod runs here,
    # and fleetsync deploys quotas as data, never relying on what they count.
    api = server(sim_session)
    ns = f"kd-{uuid.uuid4().hex[:8]}"
    api.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
    )
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "scoped"},
        "spec": {"hard": {"cpu": "1", "pods": "1"}, "scopes": ["NotBestEffort"]},
    }
    answer = api.request("POST", f"/api/v1/namespaces/{ns}/resourcequotas", quota)
    assert answer.code == 201
    shown = api.request("GET", f"/api/v1/namespaces/{ns}/resourcequotas/scoped").body
    assert shown["status"]["used"] == {"pods": "0"}, "cpu is not counted"
    api.request("DELETE", f"/api/v1/namespaces/{ns}")


def test_an_autoscaler_written_as_v2_reads_as_stored_under_v1(sim_session: Simulator) -> None:
    # A real server converts between versions (round-trip annotations and all); fleetsync reads
    # an object at the version its manifest names.
    api = server(sim_session)
    path = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/kd-hpa"
    body = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "kd-hpa"},
        "spec": {
            "maxReplicas": 3,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
        },
    }
    api.request("PATCH", path + "?fieldManager=kd", body, content_type=APPLY)
    as_v1 = api.request("GET", path.replace("/v2/", "/v1/")).body
    assert as_v1["apiVersion"] == "autoscaling/v1" and "metrics" in as_v1["spec"]
    assert "targetCPUUtilizationPercentage" not in as_v1["spec"]
    api.request("DELETE", path)


def test_an_explicit_null_keeps_the_old_value(sim_session: Simulator) -> None:
    # A real server stores Go's zero value of the field's type (`""` here); the applier owns
    # the field on both. fleetsync's manifests spell nulls only where the zero value is null.
    api = server(sim_session)
    path = "/api/v1/namespaces/default/configmaps/kd-null"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kd-null"}}
    api.request("PATCH", path + "?fieldManager=x", {**cm, "data": {"a": "1"}}, content_type=APPLY)
    after = api.request(
        "PATCH",
        path + "?fieldManager=fs&force=true",
        {**cm, "data": {"a": None}},
        content_type=APPLY,
    ).body
    assert after["data"] == {"a": "1"}
    api.request("DELETE", path)


def test_list_pages_are_read_from_the_current_state(sim_session: Simulator) -> None:
    # A real server serves every page from the first page's snapshot; fleetsync lists whole.
    api = server(sim_session)
    ns = f"kd-{uuid.uuid4().hex[:8]}"
    api.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
    )
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    for name in ("a", "c"):
        api.request(
            "POST",
            cms,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"kd": "y"}},
            },
        )
    first = api.request("GET", cms + "?labelSelector=kd%3Dy&limit=1").body
    api.request(
        "POST",
        cms,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "labels": {"kd": "y"}}},
    )
    token = first["metadata"]["continue"]
    rest = api.request("GET", cms + f"?labelSelector=kd%3Dy&continue={token}").body
    assert [i["metadata"]["name"] for i in rest["items"]] == ["b", "c"]
    api.request("DELETE", f"/api/v1/namespaces/{ns}")


def test_crd_validation_rules_are_not_evaluated(sim_session: Simulator) -> None:
    # CEL (`x-kubernetes-validations`) is not evaluated by the 1.25 alpha server CI runs either
    # (its feature gate is off there), but is on current servers; kubesim checks a custom
    # resource's types, structure and validation keywords, not CEL expressions.
    api = server(sim_session)
    group = f"kd{uuid.uuid4().hex[:8]}.example.com"
    spec = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.min <= self.max"}],
        "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
    }
    crd = crd_manifest(
        group=group,
        kind="Rule",
        plural="rules",
        schema={"type": "object", "properties": {"spec": spec}},
    )
    assert api.request("POST", CRDS, crd).code == 201
    rule = {
        "apiVersion": f"{group}/v1",
        "kind": "Rule",
        "metadata": {"name": "r"},
        "spec": {"min": 5, "max": 1},
    }
    assert api.request("POST", f"/apis/{group}/v1/namespaces/default/rules", rule).code == 201
    api.request("DELETE", f"{CRDS}/rules.{group}")
