"""Server defaults and the stored form of kinds whose stored form is not what was written, on
kubesim and a real server: an HPA's defaults and metric order, a StatefulSet's claim templates.
These decide whether an object fleetsync applied reads back as drifted."""

from __future__ import annotations

from typing import Any

from tests.kubesim.twin import Answer, Twin, status_view

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
HPAS = "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
SETS = "/apis/apps/v1/namespaces/{ns}/statefulsets"
CPU = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
}
MEMORY = {
    "type": "Resource",
    "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "0.5Gi"}},
}
PODS = {
    "type": "Pods",
    "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}},
}


def spec_view(answer: Answer) -> Any:
    """The answer without status, resourceVersion and the controllers' managedFields."""
    if not isinstance(answer.body, dict) or answer.body.get("kind") == "Status":
        return status_view(answer)
    body = {k: v for k, v in answer.body.items() if k != "status"}
    meta = {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
    meta["managedFields"] = [
        e for e in meta.get("managedFields", ()) if e["manager"] != "kube-controller-manager"
    ]
    return {
        "code": answer.code,
        "body": {**body, "metadata": meta},
        "warnings": list(answer.warnings),
    }


def autoscaler(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
            "maxReplicas": 5,
            **spec,
        },
    }


def test_an_autoscaler_keeps_its_cpu_utilization_metric_last_and_has_no_generation(
    twin: Twin,
) -> None:
    body = autoscaler("a", metrics=[CPU, MEMORY, PODS])
    created = twin.same(
        "PATCH", f"{HPAS}/a?fieldManager=fs", body, content_type=APPLY, view=spec_view
    )
    assert [m["type"] for m in created.body["spec"]["metrics"]] == ["Resource", "Pods", "Resource"]
    assert created.body["spec"]["metrics"][-1] == CPU
    assert "generation" not in created.body["metadata"]
    twin.same("PATCH", f"{HPAS}/a?fieldManager=fs", body, content_type=APPLY, view=spec_view)
    twin.same(
        "PATCH", f"{HPAS}/a", {"spec": {"maxReplicas": 7}}, content_type=MERGE, view=spec_view
    )


def test_an_autoscaler_gets_its_default_metric_replicas_and_behavior(twin: Twin) -> None:
    bare = twin.same(
        "PATCH", f"{HPAS}/b?fieldManager=fs", autoscaler("b"), content_type=APPLY, view=spec_view
    )
    assert bare.body["spec"]["minReplicas"] == 1
    assert bare.body["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    tuned = twin.same(
        "PATCH",
        f"{HPAS}/c?fieldManager=fs",
        autoscaler(
            "c", metrics=[MEMORY], behavior={"scaleDown": {"stabilizationWindowSeconds": 60}}
        ),
        content_type=APPLY,
        view=spec_view,
    )
    assert tuned.body["spec"]["behavior"]["scaleUp"]["selectPolicy"] == "Max"


def test_a_statefulset_stores_whole_defaulted_claims_in_its_templates(twin: Twin) -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "pg"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    created = twin.same(
        "PATCH", f"{SETS}/db?fieldManager=fs", body, content_type=APPLY, view=spec_view
    )
    claim = created.body["spec"]["volumeClaimTemplates"][0]
    assert (claim["kind"], claim["spec"]["volumeMode"], claim["status"]) == (
        "PersistentVolumeClaim",
        "Filesystem",
        {"phase": "Pending"},
    )
    twin.same("PATCH", f"{SETS}/db?fieldManager=fs", body, content_type=APPLY, view=spec_view)
    twin.same(
        "PATCH", f"{SETS}/db?fieldManager=fs&dryRun=All", body, content_type=APPLY, view=spec_view
    )


def test_empty_data_maps_of_a_config_map_and_a_secret_are_not_stored(twin: Twin) -> None:
    maps = "/api/v1/namespaces/{ns}/configmaps"
    secrets = "/api/v1/namespaces/{ns}/secrets"
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "e"}}
    for path, body in (
        (maps, {**config, "data": {}, "binaryData": {}}),
        (secrets, {**secret, "data": {}, "stringData": {}}),
    ):
        stored = twin.same(
            "PATCH", f"{path}/e?fieldManager=fs", body, content_type=APPLY, view=spec_view
        )
        assert not {"data", "binaryData", "stringData"} & set(stored.body)
        twin.same("PATCH", f"{path}/e?fieldManager=fs", body, content_type=APPLY, view=spec_view)


def test_a_query_flag_is_true_unless_it_says_false(twin: Twin) -> None:
    """`force=None` (a client sending a value it did not mean as a bool) forces, as do `f`
    and an empty value; `0` and `false` in any case do not."""
    maps = "/api/v1/namespaces/{ns}/configmaps"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f"}}
    twin.same("PATCH", f"{maps}/f?fieldManager=a", {**body, "data": {"k": "a"}}, content_type=APPLY)
    for flag in ("0", "False", "FALSE"):
        refused = twin.same(
            "PATCH",
            f"{maps}/f?fieldManager=b&force={flag}",
            {**body, "data": {"k": "b"}},
            content_type=APPLY,
            view=spec_view,
        )
        assert refused.code == 409
    for flag in ("None", "f", ""):
        forced = twin.same(
            "PATCH",
            f"{maps}/f?fieldManager=b&force={flag}",
            {**body, "data": {"k": f"b{flag}"}},
            content_type=APPLY,
            view=spec_view,
        )
        assert forced.code == 200 and forced.body["data"] == {"k": f"b{flag}"}
