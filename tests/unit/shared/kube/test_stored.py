"""A manifest respelled as the API server stores it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fleetsync.shared.kube.stored import (
    both_data_and_string_data,
    fold_string_data_fields,
    stored_form,
)


def pod_template(**resources: Any) -> dict[str, Any]:
    return {
        "spec": {
            "containers": [{"name": "c", "image": "i", "resources": resources}],
            "volumes": [
                {"name": "v", "emptyDir": {"sizeLimit": "1024Mi"}},
                {
                    "name": "scratch",
                    "ephemeral": {
                        "volumeClaimTemplate": {
                            "spec": {"resources": {"requests": {"storage": "2048Mi"}}}
                        }
                    },
                },
            ],
        }
    }


def test_quantities_in_a_workload_s_pod_template_are_respelled() -> None:
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "n"},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": pod_template(
                        requests={"cpu": "2000m", "memory": "1Gi"},
                        limits={"cpu": 4, "memory": "1u"},
                    )
                }
            }
        },
    }
    pod = stored_form(cronjob)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": "2", "memory": "1Gi"},
        "limits": {"cpu": "4", "memory": "1m"},
    }
    assert pod["volumes"][0]["emptyDir"]["sizeLimit"] == "1Gi"
    claim = pod["volumes"][1]["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"] == {"requests": {"storage": "2Gi"}}
    assert (
        cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["resources"][
            "requests"
        ]["cpu"]
        == "2000m"
    ), "the manifest itself is left alone"


def test_quantities_of_quotas_limit_ranges_claims_and_autoscalers_are_respelled() -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "spec": {"hard": {"requests.cpu": "4000m", "pods": 10}},
    }
    assert stored_form(quota)["spec"]["hard"] == {"requests.cpu": "4", "pods": "10"}
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "spec": {
            "metrics": [
                {"type": "Pods", "pods": {"target": {"type": "AverageValue", "averageValue": "1u"}}}
            ]
        },
    }
    assert stored_form(hpa)["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "1u"
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "spec": {
            "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "1024Mi"}}}}]
        },
    }
    assert stored_form(sts)["spec"]["volumeClaimTemplates"][0]["spec"]["resources"] == {
        "requests": {"storage": "1Gi"}
    }


def test_a_pod_s_overhead_is_respelled_only_where_its_rounding_cannot_matter() -> None:
    # A RuntimeClass's overhead, copied into the pod spec: whether the server rounds it to a
    # milli is not known, so a value that rounding would change is left as written (a doubt,
    # settled by the server's dry-run), and one both ways spell alike is respelled.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"overhead": {"memory": "1024Mi", "cpu": "0.5", "tiny": "1u"}},
    }
    assert stored_form(pod)["spec"]["overhead"] == {"memory": "1Gi", "cpu": "500m", "tiny": "1u"}


def test_custom_resources_and_other_fields_are_stored_as_written() -> None:
    gadget = {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "spec": {"resources": {"requests": {"cpu": "2000m"}}},
    }
    assert stored_form(gadget) == gadget
    config = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"cpu": "2000m"}}
    assert stored_form(config) == config


def test_a_secret_s_string_data_is_stored_as_base64_data() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"a": "YQ=="},
        "stringData": {"b": "bé"},
    }
    assert stored_form(secret) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"a": "YQ==", "b": "YsOp"},
    }


def test_a_null_data_map_is_left_out_as_the_server_stores_none() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "data": None, "stringData": None}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "data": None, "binaryData": None}
    assert stored_form(secret) == {"apiVersion": "v1", "kind": "Secret"}
    assert stored_form(config) == {"apiVersion": "v1", "kind": "ConfigMap"}


def test_base64_is_reencoded_without_line_breaks() -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "binaryData": {"b": "AAEC\nAwQF\n", "bad": "%%"},
    }
    assert stored_form(config)["binaryData"] == {"b": "AAECAwQF", "bad": "%%"}


def test_keys_in_both_data_and_string_data_are_named() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"a": "YQ==", "b": "Yg=="},
        "stringData": {"b": "c", "d": "e"},
    }
    assert both_data_and_string_data(secret) == ("b",)
    assert both_data_and_string_data({**secret, "kind": "ConfigMap"}) == ()


def test_fields_owned_under_string_data_are_owned_under_data() -> None:
    fields = {"f:data": {"f:a": {}}, "f:stringData": {".": {}, "f:b": {}}, "f:type": {}}
    assert fold_string_data_fields(fields) == {"f:data": {"f:a": {}, "f:b": {}}, "f:type": {}}
    assert fold_string_data_fields({"f:data": {"f:a": {}}, "f:stringData": {"f:a": {}}}) is None


@pytest.mark.parametrize(
    "manifest",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "binaryData": {"b": "AAEC\nAwQF\n"}},
        {"apiVersion": "v1", "kind": "Secret", "data": {"a": "YQ=\n="}},
        {"apiVersion": "v1", "kind": "Secret", "data": {"a": "YQ=="}, "stringData": {"b": "b"}},
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q"},
            "spec": {"hard": {"requests.cpu": "4000m"}},
        },
    ],
    ids=["configmap-binary", "secret-data", "secret-string-data", "quota"],
)
def test_the_stored_form_leaves_the_manifest_as_it_was(manifest: dict[str, Any]) -> None:
    before = copy.deepcopy(manifest)
    assert stored_form(manifest) != before
    assert manifest == before


def test_quantity_paths_through_values_of_another_shape_are_left_as_written() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {
            "containers": None,
            "initContainers": [None, {"name": "i", "resources": {"requests": ["2000m"]}}],
            "ephemeralContainers": {"name": "e"},
            "overhead": "2000m",
            "volumes": [{"name": "v", "emptyDir": None}, {"name": "w", "emptyDir": "1024Mi"}],
        },
    }
    assert stored_form(pod) == pod
    assert stored_form({"apiVersion": "v1", "kind": "Pod", "spec": None}) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": None,
    }


def test_each_quantity_field_rounds_as_the_server_does_there() -> None:
    def quota(**hard: Any) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ResourceQuota", "spec": {"hard": hard}}

    assert stored_form(quota(cpu="1u", memory="0.5"))["spec"]["hard"] == {
        "cpu": "1m",
        "memory": "500m",
    }
    runtime = {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "overhead": {"podFixed": {"cpu": "1u", "memory": "1024Mi"}},
    }
    assert stored_form(runtime)["overhead"]["podFixed"] == {"cpu": "1u", "memory": "1Gi"}


def test_a_secret_with_only_string_data_stores_it_as_data() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "data": None, "stringData": {"b": "b"}}
    assert stored_form(secret) == {"apiVersion": "v1", "kind": "Secret", "data": {"b": "Yg=="}}
    assert stored_form({**secret, "stringData": {"b": "b", "n": 5}}) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "data": {"b": "Yg=="},
    }, "a value that is not a string (the server refuses it) is not folded"
    not_a_map = {"apiVersion": "v1", "kind": "Secret", "data": {"a": "YQ=="}, "stringData": "b"}
    assert stored_form(not_a_map) == {"apiVersion": "v1", "kind": "Secret", "data": {"a": "YQ=="}}


def test_every_base64_value_is_reencoded_past_values_that_are_not() -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "binaryData": {"n": 5, "bad": "%%", "accent": "é", "b": "AAEC\r\nAwQF\r\n"},
    }
    assert stored_form(config)["binaryData"] == {
        "n": 5,
        "bad": "%%",
        "accent": "é",
        "b": "AAECAwQF",
    }
    secret = {"apiVersion": "v1", "kind": "Secret", "data": {"bad": "%%", "a": "YQ=\n="}}
    assert stored_form(secret)["data"] == {"bad": "%%", "a": "YQ=="}
    assert stored_form({**secret, "data": "YQ=="})["data"] == "YQ==", "not a map: as written"


def test_fields_owned_under_string_data_alone_are_owned_under_data() -> None:
    fields = {"f:stringData": {".": {}, "f:b": {}}, "f:type": {}}
    assert fold_string_data_fields(fields) == {"f:data": {"f:b": {}}, "f:type": {}}
    plain = {"f:data": {"f:a": {}}, "f:type": {}}
    assert fold_string_data_fields(plain) == plain
    assert fold_string_data_fields(plain) is not plain, "a copy"
