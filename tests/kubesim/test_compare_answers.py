"""kubesim and a real kube-apiserver, answer by answer: the same requests sent to both, the
normalized answers (code, Status, returned object with its managedFields, Warning headers)
compared whole. Each test fails as soon as kubesim answers differently from the real server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kubesim.twin import Answer, Twin, status_view

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
CMS = "/api/v1/namespaces/{ns}/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/{ns}/deployments"


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"k": "v"},
        **extra,
    }


def deployment(name: str, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx", **container}]},
            },
        },
    }


def spec_view(answer: Answer) -> Any:
    """A workload's answer without what controllers write meanwhile (status, the rollout's
    revision annotation, kube-controller-manager's managedFields entries, and the
    resourceVersion, which moves with each of their writes whenever they land)."""
    body = dict(answer.body)
    body.pop("status", None)
    meta = dict(body["metadata"])
    meta.pop("resourceVersion", None)
    annotations = {
        k: v
        for k, v in (meta.pop("annotations", None) or {}).items()
        if k != "deployment.kubernetes.io/revision"
    }
    if annotations:
        meta["annotations"] = annotations
    meta["managedFields"] = [
        e for e in meta.get("managedFields", ()) if e["manager"] != "kube-controller-manager"
    ]
    body["metadata"] = meta
    return {"code": answer.code, "body": body, "warnings": list(answer.warnings)}


def test_create_records_the_update_manager_with_owned_maps(twin: Twin) -> None:
    created = twin.same("POST", CMS, configmap("a"))
    assert created.code == 201
    assert created.body["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:data": {".": {}, "f:k": {}}
    }


@pytest.mark.parametrize("validation", ["", "Warn", "Ignore", "Strict"])
def test_unknown_fields_on_create_warn_vanish_or_are_refused(twin: Twin, validation: str) -> None:
    query = f"?fieldValidation={validation}" if validation else ""
    body = configmap("u", extra=1)
    body["metadata"]["bogus"] = True
    answer = twin.same("POST", CMS + query, body, view=status_view)
    assert answer.code == (400 if validation == "Strict" else 201)


def test_wrong_type_on_create_is_a_decoding_error(twin: Twin) -> None:
    answer = twin.same(
        "POST", DEPLOYS, {**deployment("w"), "spec": {"replicas": "two"}}, view=status_view
    )
    assert answer.code == 400 and "cannot unmarshal string" in answer.message


@pytest.mark.parametrize("validation", ["Strict", "Warn", "Ignore"])
def test_apply_of_an_object_that_breaks_the_schema_is_a_500(twin: Twin, validation: str) -> None:
    for body in (configmap("t", data={"k": 1}), configmap("t", extra=1)):
        answer = twin.same(
            "PATCH",
            f"{CMS}/t?fieldManager=fs&fieldValidation={validation}",
            body,
            content_type=APPLY,
            view=status_view,
        )
        assert answer.code == 500
        assert answer.message.startswith("failed to create typed patch object (/t; /v1, ")


def test_apply_fills_server_defaults_and_canonical_quantities(twin: Twin) -> None:
    body = deployment(
        "d",
        ports=[{"containerPort": 80}],
        resources={"requests": {"cpu": "2000m", "memory": "1Gi"}},
    )
    answer = twin.same(
        "PATCH", f"{DEPLOYS}/d?fieldManager=fs", body, content_type=APPLY, view=spec_view
    )
    container = answer.body["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["cpu"] == "2"
    assert container["imagePullPolicy"] == "Always"
    twin.same("PATCH", f"{DEPLOYS}/d?fieldManager=fs", body, content_type=APPLY, view=spec_view)


def test_generation_moves_with_the_spec_only(twin: Twin) -> None:
    twin.same(
        "PATCH", f"{DEPLOYS}/g?fieldManager=fs", deployment("g"), content_type=APPLY, view=spec_view
    )
    labelled = twin.same(
        "PATCH",
        f"{DEPLOYS}/g",
        {"metadata": {"labels": {"x": "y"}}},
        content_type=MERGE,
        view=spec_view,
    )
    scaled = twin.same(
        "PATCH", f"{DEPLOYS}/g", {"spec": {"replicas": 3}}, content_type=MERGE, view=spec_view
    )
    assert (labelled.body["metadata"]["generation"], scaled.body["metadata"]["generation"]) == (
        1,
        2,
    )


def test_services_get_their_defaults_and_no_generation(twin: Twin) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"selector": {"app": "s"}, "ports": [{"port": 80}]},
    }
    answer = twin.same(
        "PATCH", "/api/v1/namespaces/{ns}/services/s?fieldManager=fs", body, content_type=APPLY
    )
    assert "generation" not in answer.body["metadata"]
    assert answer.body["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}


def test_secret_string_data_is_folded_into_data(twin: Twin) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"password": "hunter2"},
    }
    answer = twin.same(
        "PATCH", "/api/v1/namespaces/{ns}/secrets/s?fieldManager=fs", body, content_type=APPLY
    )
    assert answer.body["data"] == {"password": "aHVudGVyMg=="}
    assert "stringData" not in answer.body
    twin.same(
        "PATCH", "/api/v1/namespaces/{ns}/secrets/s?fieldManager=fs", body, content_type=APPLY
    )


def test_workload_without_selector_or_containers_is_invalid(twin: Twin) -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bad"},
        "spec": {"replicas": 1},
    }
    answer = twin.same("POST", DEPLOYS, body, view=status_view)
    assert answer.code == 422


def test_conflict_names_the_manager_and_the_field(twin: Twin) -> None:
    twin.same(
        "PATCH",
        f"{DEPLOYS}/c?fieldManager=fleetsync",
        deployment("c"),
        content_type=APPLY,
        view=spec_view,
    )
    body = deployment("c")
    body["spec"]["replicas"] = 4
    twin.same(
        "PATCH",
        f"{DEPLOYS}/c?fieldManager=other&force=true",
        body,
        content_type=APPLY,
        view=spec_view,
    )
    body["spec"]["replicas"] = 5
    answer = twin.same(
        "PATCH", f"{DEPLOYS}/c?fieldManager=fleetsync", body, content_type=APPLY, view=status_view
    )
    assert answer.code == 409


def test_conflicts_name_each_owner_the_way_the_server_does(twin: Twin) -> None:
    # an Update manager is named with the API version it wrote through; owners sorted
    twin.same("POST", CMS, configmap("o", data={"a": "1", "b": "1"}), view=lambda a: a.code)
    twin.same(
        "PATCH",
        f"{CMS}/o?fieldManager=zed",
        {"data": {"c": "1"}},
        content_type=MERGE,
        view=lambda a: a.code,
    )
    twin.same(
        "PATCH",
        f"{CMS}/o?fieldManager=alpha&force=true",
        configmap("o", data={"e": "1"}),
        content_type=APPLY,
        view=lambda a: a.code,
    )
    one = twin.same(
        "PATCH",
        f"{CMS}/o?fieldManager=fs",
        configmap("o", data={"a": "2"}),
        content_type=APPLY,
        view=status_view,
    )
    assert one.message == (
        'Apply failed with 1 conflict: conflict with "kubesim-contract" using v1: .data.a'
    )
    many = twin.same(
        "PATCH",
        f"{CMS}/o?fieldManager=fs",
        configmap("o", data={k: "2" for k in "abce"}),
        content_type=APPLY,
        view=status_view,
    )
    assert many.message.startswith('Apply failed with 4 conflicts: conflicts with "alpha":\n')


def test_an_explicit_null_in_an_applied_configuration_is_owned(twin: Twin) -> None:
    """`creationTimestamp: null` in a pod template (as rendered manifests spell it) is owned by
    the applier; a null map value takes the field over and lets a later apply remove it. The
    value a null leaves behind is Go's zero value on a real server (`""` for a ConfigMap's
    data), which kubesim does not know: compared here are the owners."""
    body = deployment("n")
    body["spec"]["template"]["metadata"]["creationTimestamp"] = None
    created = twin.same(
        "PATCH", f"{DEPLOYS}/n?fieldManager=fs", body, content_type=APPLY, view=spec_view
    )
    mine = next(e for e in created.body["metadata"]["managedFields"] if e["manager"] == "fs")
    assert "f:creationTimestamp" in mine["fieldsV1"]["f:spec"]["f:template"]["f:metadata"]

    def owners(answer: Answer) -> Any:
        return (answer.code, answer.body["metadata"]["managedFields"])

    twin.same(
        "PATCH",
        f"{CMS}/m?fieldManager=x",
        configmap("m", data={"a": "1", "b": "2"}),
        content_type=APPLY,
        view=owners,
    )
    twin.same(
        "PATCH",
        f"{CMS}/m?fieldManager=fs&force=true",
        configmap("m", data={"a": None, "c": "3"}),
        content_type=APPLY,
        view=owners,
    )
    last = twin.same(
        "PATCH", f"{CMS}/m?fieldManager=fs", configmap("m", data={"c": "3"}), content_type=APPLY
    )
    assert last.body["data"] == {"b": "2", "c": "3"}


def test_stale_resource_version_is_a_conflict(twin: Twin) -> None:
    created = twin.same("POST", CMS, configmap("r"))
    stale = {**configmap("r"), "metadata": {"name": "r", "resourceVersion": "1"}}
    sim, real = twin.each("PUT", f"{CMS}/r", stale)
    assert (sim.code, sim.reason, sim.message) == (real.code, real.reason, real.message)
    assert created.code == 201 and real.code == 409


def test_namespaces_carry_their_name_label(twin: Twin) -> None:
    answer = twin.same("GET", "/api/v1/namespaces/{ns}")
    assert answer.body["metadata"]["labels"] == {"kubernetes.io/metadata.name": twin.namespace}


def test_a_new_namespace_holds_the_root_ca_and_the_default_service_account(twin: Twin) -> None:
    def names(answer: Answer) -> list[str]:
        return sorted(i["metadata"]["name"] for i in answer.body["items"])

    sim, real = twin.each("GET", CMS)
    assert names(sim) == names(real) == ["kube-root-ca.crt"]
    sim, real = twin.each("GET", "/api/v1/namespaces/{ns}/serviceaccounts")
    assert names(sim) == names(real) == ["default"]


def test_discovery_serves_the_real_servers_stable_groups_and_resources(twin: Twin) -> None:
    def resources(answer: Answer) -> dict[str, Any]:
        return {
            r["name"]: (
                r["kind"],
                r["namespaced"],
                sorted(r["verbs"]),
                sorted(r.get("shortNames", [])),
            )
            for r in answer.body["resources"]
            if "/" not in r["name"]
        }

    for gv in (
        "/api/v1",
        "/apis/apps/v1",
        "/apis/coordination.k8s.io/v1",
        "/apis/storage.k8s.io/v1",
        "/apis/admissionregistration.k8s.io/v1",
        "/apis/networking.k8s.io/v1",
        "/apis/scheduling.k8s.io/v1",
    ):
        sim, real = twin.each("GET", gv)
        served = resources(sim)
        expected = {
            k: v for k, v in resources(real).items() if k not in ("bindings", "componentstatuses")
        }
        assert served == expected, gv


PROTOBUF = "application/vnd.kubernetes.protobuf"


ENVELOPE = b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap"


@pytest.mark.parametrize(
    "body",
    [b"garbage", ENVELOPE + b"\x12\x03\xff", ENVELOPE + b"\x12\x03\x0a\x05\xff"],
    ids=["no-magic", "truncated-envelope", "truncated-object"],
)
def test_a_protobuf_body_that_cannot_be_decoded_is_a_bad_request(twin: Twin, body: bytes) -> None:
    answer = twin.same("POST", CMS, body, content_type=PROTOBUF, view=status_view)
    assert answer.code == 400
