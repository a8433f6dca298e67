"""Drift compares what the manifest declares; 'unchanged' compares whole objects."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fleetsync.shared.kube.diff import (
    DriftState,
    diff_object,
    diff_objects,
    drifted,
    masked_secret,
    masked_secret_pair,
    normalize,
    same_live_state,
)
from fleetsync.shared.model import ResourceKey

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "web", "labels": {"app": "api"}},
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {"name": "api", "image": "api:1", "ports": [{"containerPort": 80}]},
                ]
            }
        },
    },
}


def live_of(desired: dict[str, Any]) -> dict[str, Any]:
    """What a server returns for the desired object: defaults, server metadata and status."""
    live = copy.deepcopy(desired)
    live["metadata"].update(
        uid="u-1",
        resourceVersion="42",
        generation=1,
        creationTimestamp="2026-01-01T00:00:00Z",
        managedFields=[{"manager": "fleetsync", "operation": "Apply"}],
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"},
    )
    live["spec"]["strategy"] = {"type": "RollingUpdate"}
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicy"] = "IfNotPresent"
    container["ports"][0]["protocol"] = "TCP"
    live["status"] = {"replicas": 2}
    return live


def edited(**changes: Any) -> dict[str, Any]:
    live = live_of(DESIRED)
    for path, value in changes.items():
        node: Any = live
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    return live


@pytest.mark.parametrize(
    ("live", "drifted"),
    [
        pytest.param(live_of(DESIRED), False, id="server-defaults-and-metadata-are-not-drift"),
        pytest.param(edited(spec__replicas=3), True, id="declared-field-changed"),
        pytest.param(edited(spec__replicas="2"), False, id="scalar-rendering-is-not-drift"),
        pytest.param(
            edited(metadata__labels={"app": "api", "extra": "x"}),
            False,
            id="undeclared-label-is-not-drift",
        ),
        pytest.param(edited(metadata__labels={}), True, id="declared-label-removed"),
        pytest.param(
            edited(spec__template__spec__containers__0__image="api:2"), True, id="image-changed"
        ),
        pytest.param(
            edited(
                spec__template__spec__containers=[
                    {"name": "sidecar", "image": "s"},
                    {"name": "api", "image": "api:1", "ports": [{"containerPort": 80}]},
                ]
            ),
            False,
            id="named-list-items-match-by-name",
        ),
        pytest.param(
            edited(
                spec__template__spec__containers__0__ports=[
                    {"containerPort": 80},
                    {"containerPort": 81},
                ]
            ),
            True,
            id="unnamed-list-is-atomic",
        ),
    ],
)
def test_diff_object(live: dict[str, Any], drifted: bool) -> None:
    drift = diff_object(DESIRED, live)
    assert (drift is not None) is drifted
    if drift is not None:
        assert drift.state is DriftState.MODIFIED
        assert drift.key == ResourceKey.parse("apps/Deployment/web/api")


def test_a_deleted_object_is_missing() -> None:
    drift = diff_object(DESIRED, None)
    assert drift is not None and drift.state is DriftState.MISSING


def test_the_diff_is_unified_yaml_live_against_desired() -> None:
    drift = diff_object(DESIRED, edited(spec__replicas=5))
    assert drift is not None
    assert "--- live/apps/Deployment/web/api" in drift.diff
    assert "+++ desired/apps/Deployment/web/api" in drift.diff
    assert "-  replicas: 5" in drift.diff
    assert "+  replicas: 2" in drift.diff
    assert "resourceVersion" not in drift.diff


def test_diff_objects_reports_drifted_and_in_sync_objects() -> None:
    other = copy.deepcopy(DESIRED)
    other["metadata"]["name"] = "worker"
    report = diff_objects(
        [
            (DESIRED, edited(spec__replicas=1)),
            (other, live_of(other)),
            ({**other, "kind": "StatefulSet"}, None),
        ]
    )
    assert report.drifted
    assert report.of(DriftState.MODIFIED) == (ResourceKey.parse("apps/Deployment/web/api"),)
    assert report.of(DriftState.MISSING) == (ResourceKey.parse("apps/StatefulSet/web/worker"),)
    assert report.in_sync == (ResourceKey.parse("apps/Deployment/web/worker"),)
    modified, missing = report.drifts
    assert "-  replicas: 1\n+  replicas: 2" in modified.diff
    assert missing.diff == ""


def test_same_live_state_ignores_what_every_write_and_every_controller_changes() -> None:
    live = live_of(DESIRED)
    after = copy.deepcopy(live)
    after["metadata"]["managedFields"] = [{"manager": "fleetsync", "time": "later"}]
    after["metadata"]["resourceVersion"] = "43"
    after["status"] = {"replicas": 2, "readyReplicas": 2}
    assert same_live_state(after, live)


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o["spec"].update(replicas=3),
        lambda o: o["metadata"]["labels"].pop("app"),
        lambda o: o["metadata"]["annotations"].update(new="x"),
        lambda o: o["spec"]["strategy"].update(type="Recreate"),
    ],
    ids=["spec", "label-removed", "annotation-added", "undeclared-field"],
)
def test_same_live_state_sees_any_other_difference(change: Any) -> None:
    live = live_of(DESIRED)
    after = copy.deepcopy(live)
    change(after)
    assert not same_live_state(after, live)


def resources(**requests: Any) -> dict[str, Any]:
    desired = copy.deepcopy(DESIRED)
    desired["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": requests}
    return desired


def test_a_quantity_the_server_respells_is_not_drift() -> None:
    live = live_of(resources(cpu="2", memory="1Gi"))
    assert diff_object(resources(cpu="2000m", memory="1Gi"), live) is None
    assert (
        diff_object(
            resources(cpu="0.5", memory="1024Mi"), live_of(resources(cpu="500m", memory="1Gi"))
        )
        is None
    )


def test_a_quantity_that_differs_in_value_is_drift() -> None:
    live = live_of(resources(cpu="2"))
    drift = diff_object(resources(cpu="1500m"), live)
    assert drift is not None
    assert "-            cpu: '2'\n+            cpu: 1500m" in drift.diff


def test_a_custom_resource_is_compared_as_written() -> None:
    desired = {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": {"limits": {"cpu": "2000m"}},
    }
    live = copy.deepcopy(desired)
    live["spec"]["limits"]["cpu"] = "2"
    assert diff_object(desired, live) is not None


def test_secret_string_data_is_compared_as_the_base64_data_the_server_stores() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "web"},
        "stringData": {"password": "s3cr3t"},
        "data": {"user": "YWRt\naW4="},
    }
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "web"},
        "type": "Opaque",
        "data": {"password": "czNjcjN0", "user": "YWRtaW4="},
    }
    assert diff_object(desired, live) is None
    live["data"]["password"] = "b3RoZXI="
    assert diff_object(desired, live) is not None


def test_empty_fields_the_server_does_not_store_are_not_drift() -> None:
    desired = copy.deepcopy(DESIRED)
    desired["metadata"]["annotations"] = {}
    desired["spec"]["template"]["metadata"] = {"creationTimestamp": None, "labels": {}}
    desired["spec"]["template"]["spec"]["containers"][0]["env"] = []
    assert diff_object(desired, live_of(DESIRED)) is None


def test_the_order_of_an_hpa_s_metrics_is_not_drift_but_their_values_are() -> None:
    cpu = {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
    }
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "0.5Gi"}},
    }
    desired = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "web"},
        "spec": {"metrics": [cpu, memory]},
    }
    stored_memory = copy.deepcopy(memory)
    stored_memory["resource"]["target"]["averageValue"] = "512Mi"
    live = copy.deepcopy(desired)
    live["spec"]["metrics"] = [stored_memory, cpu]
    assert diff_object(desired, live) is None
    defaulted_cpu = copy.deepcopy(cpu)
    defaulted_cpu["resource"]["target"]["averageValue"] = None  # undeclared: not compared
    live["spec"]["metrics"] = [stored_memory, defaulted_cpu]
    assert diff_object(desired, live) is None
    live["spec"]["metrics"][1] = {
        **cpu,
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 90}},
    }
    assert diff_object(desired, live) is not None


def test_a_secret_s_diff_names_the_keys_that_differ_and_never_their_values() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "web"},
        "stringData": {"password": "s3cr3t", "user": "admin"},
    }
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "web"},
        "data": {"password": "b3RoZXI=", "user": "YWRtaW4="},
    }
    drift = diff_object(desired, live)
    assert drift is not None
    assert "-  password: '***'\n+  password: '*** (changed)'" in drift.diff
    for secret in ("s3cr3t", "czNjcjN0", "b3RoZXI=", "admin", "YWRtaW4="):
        assert secret not in drift.diff


def a_secret(**fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "web"},
        **fields,
    }


def test_a_secret_s_diff_shows_its_values_when_asked_to() -> None:
    desired = a_secret(stringData={"password": "s3cr3t"})
    live = a_secret(data={"password": "b3RoZXI="})
    drift = diff_object(desired, live, reveal_secrets=True)
    assert drift is not None
    assert "-  password: b3RoZXI=\n+  password: czNjcjN0" in drift.diff


def test_a_secret_key_only_one_side_has_shows_as_changed_without_its_value() -> None:
    drift = diff_object(a_secret(data={"token": "dG9rZW4=", "user": "YWRtaW4="}), a_secret())
    assert drift is not None
    assert "+data:\n+  token: '*** (changed)'\n+  user: '*** (changed)'" in drift.diff
    drift = diff_object(
        a_secret(data={"user": "YWRtaW4="}), a_secret(data={"user": "cm9vdA==", "old": "eA=="})
    )
    assert drift is not None
    assert "-  user: '***'\n+  user: '*** (changed)'" in drift.diff
    assert "cm9vdA==" not in drift.diff and "YWRtaW4=" not in drift.diff


def test_a_secret_declaring_no_data_shows_its_other_drift_and_none_of_the_live_values() -> None:
    # Its data (another manager's, or written by hand) is not declared, so not compared; the
    # diff still masks every live value it shows.
    desired = a_secret(type="Opaque")
    desired["metadata"] = {**desired["metadata"], "labels": {"tier": "web"}}
    live = a_secret(type="Opaque", data={"token": "dG9rZW4="})
    drift = diff_object(desired, live)
    assert drift is not None
    assert "+    tier: web" in drift.diff
    assert "dG9rZW4=" not in drift.diff


def test_a_secret_shown_alone_has_every_value_masked_and_other_objects_are_shown_as_they_are() -> (
    None
):
    shown = masked_secret(a_secret(data={"b": "Yg==", "a": "YQ=="}, stringData={"c": "plain"}))
    assert shown["data"] == {"a": "***", "b": "***"}
    assert list(shown["data"]) == ["a", "b"]
    assert shown["stringData"] == {"c": "***"}
    assert shown["metadata"] == {"name": "s", "namespace": "web"}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}
    assert masked_secret(config) == config
    custom = {**a_secret(data={"k": "dg=="}), "apiVersion": "example.com/v1"}
    assert masked_secret(custom) == custom
    original = a_secret(data={"k": "dg=="})
    masked_secret(original)
    assert original["data"] == {"k": "dg=="}, "the object shown is a copy"


def test_an_object_shown_alone_leaves_out_status_and_what_the_server_writes() -> None:
    live = live_of(DESIRED)
    shown = normalize(live)
    assert "status" not in shown
    assert shown["metadata"] == {"name": "api", "namespace": "web", "labels": {"app": "api"}}
    assert shown["spec"] == live["spec"]
    live["metadata"]["annotations"]["team"] = "payments"
    assert normalize(live)["metadata"]["annotations"] == {"team": "payments"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]
    assert "status" in live


def test_an_hpa_that_declares_no_metrics_is_compared_as_any_object() -> None:
    desired = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "web"},
    }
    live = {**copy.deepcopy(desired), "spec": {"maxReplicas": 3, "metrics": []}}
    assert diff_object(desired, live) is None
    assert diff_object({**desired, "spec": {"maxReplicas": 5}}, live) is not None


def test_a_secret_or_config_map_whose_template_left_its_data_null_declares_no_data() -> None:
    # The server stores no null data: keys another manager added are theirs, not drift.
    live = a_secret(data={"token": "dG9rZW4="})
    assert diff_object(a_secret(data=None), live) is None
    assert diff_object(a_secret(data=None, stringData=None), live) is None
    config = {**live, "kind": "ConfigMap"}
    assert diff_object({**config, "data": None, "binaryData": None}, config) is None


def test_a_secret_or_config_map_declaring_empty_data_declares_no_data() -> None:
    # The server stores no empty map: `data: {}` is no data, and keys another manager added are
    # theirs, not drift.
    bare = a_secret()
    added = a_secret(data={"token": "dG9rZW4="})
    for declared in ({"data": {}}, {"stringData": {}}, {"data": {}, "stringData": {}}):
        for live in (bare, added):
            assert diff_object({**bare, **declared}, live) is None, (declared, live)
    config = {**bare, "kind": "ConfigMap"}
    for declared in ({"data": {}}, {"binaryData": {}}, {"data": {}, "binaryData": {}}):
        assert diff_object({**config, **declared}, config) is None, declared
        assert diff_object({**config, **declared}, {**config, "data": {"k": "v"}}) is None


def test_a_list_is_keyed_by_name_only_where_both_sides_name_every_item() -> None:
    ports = "spec__template__spec__containers__0__ports"
    named_live = edited(**{ports: [{"containerPort": 80, "name": "http", "protocol": "TCP"}]})
    assert diff_object(DESIRED, named_live) is None
    named = copy.deepcopy(DESIRED)
    named["spec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"name": "http", "containerPort": 80}
    ]
    assert diff_object(named, live_of(DESIRED)) is not None


def test_a_list_declared_where_the_live_object_holds_a_scalar_is_drift() -> None:
    desired = copy.deepcopy(DESIRED)
    desired["spec"]["template"]["spec"]["containers"][0]["args"] = ["x"]
    live = live_of(desired)
    live["spec"]["template"]["spec"]["containers"][0]["args"] = "x"
    assert diff_object(desired, live) is not None


def test_an_hpa_metric_another_writer_added_or_removed_is_drift() -> None:
    cpu = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}
    memory = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization"}}}
    desired = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "web"},
        "spec": {"maxReplicas": 3, "metrics": [cpu]},
    }
    added = copy.deepcopy(desired)
    added["spec"]["metrics"] = [memory, cpu]
    assert diff_object(desired, added) is not None
    removed = copy.deepcopy(desired)
    del removed["spec"]["metrics"]
    assert diff_object(desired, removed) is not None


def test_comparing_leaves_both_objects_as_they_were() -> None:
    live = live_of(DESIRED)
    after = copy.deepcopy(live)
    after["metadata"]["resourceVersion"] = "43"
    before = copy.deepcopy((after, live))
    assert same_live_state(after, live)
    assert (after, live) == before
    assert diff_object(DESIRED, live) is None
    assert live == before[1]


def test_drifted_answers_as_diff_object_does_without_rendering_a_diff() -> None:
    live = live_of(DESIRED)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    as_string = copy.deepcopy(live)
    as_string["spec"]["replicas"] = "2"
    cases = [(live, False), (scaled, True), (None, True), (as_string, False)]

    for seen, expected in cases:
        assert drifted(DESIRED, seen) is expected, seen
        assert (diff_object(DESIRED, seen) is not None) is expected, seen


def test_finding_drift_leaves_the_live_object_as_it_was() -> None:
    live = live_of(DESIRED)
    live["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "team": "x",
    }
    live["spec"]["replicas"] = 5
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "web"}}
    live_secret = {**secret, "data": {"k": "b2xk"}, "metadata": {**secret["metadata"], "uid": "u"}}
    before = copy.deepcopy((live, live_secret))

    assert drifted(DESIRED, live)
    assert diff_object(DESIRED, live) is not None
    assert diff_object({**secret, "data": {"k": "bmV3"}}, live_secret) is not None

    assert (live, live_secret) == before


def test_the_diff_is_the_whole_unified_yaml_of_the_declared_fields() -> None:
    drift = diff_object(DESIRED, edited(spec__replicas=5))
    assert drift is not None
    assert drift.diff == (
        "--- live/apps/Deployment/web/api\n"
        "+++ desired/apps/Deployment/web/api\n"
        "@@ -6,7 +6,7 @@\n"
        "   name: api\n"
        "   namespace: web\n"
        " spec:\n"
        "-  replicas: 5\n"
        "+  replicas: 2\n"
        "   template:\n"
        "     spec:\n"
        "       containers:\n"
    )


def test_a_drift_report_lists_its_drifted_keys_in_order_and_is_not_drifted_when_empty() -> None:
    worker = {**DESIRED, "metadata": {**DESIRED["metadata"], "name": "worker"}}
    report = diff_objects([(worker, None), (DESIRED, edited(spec__replicas=5))])
    assert report.keys == (
        ResourceKey.parse("apps/Deployment/web/worker"),
        ResourceKey.parse("apps/Deployment/web/api"),
    )
    assert report.drifted
    empty = diff_objects([(DESIRED, live_of(DESIRED))])
    assert (empty.drifted, empty.keys, empty.drifts) == (False, (), ())


def test_every_field_the_server_writes_is_left_out_of_an_object_shown_alone() -> None:
    written = {
        "uid": "u-1",
        "resourceVersion": "42",
        "generation": 3,
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "deletionTimestamp": "2026-01-02T00:00:00Z",
        "deletionGracePeriodSeconds": 30,
        "selfLink": "/api/v1/namespaces/web/configmaps/c",
        "managedFields": [{"manager": "fleetsync"}],
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
    }
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", **written}}
    assert normalize(live) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert normalize({"kind": "ConfigMap", "metadata": None}) == {
        "kind": "ConfigMap",
        "metadata": None,
    }
    assert normalize({"kind": "ConfigMap"}) == {"kind": "ConfigMap"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("resourceVersion", "43"),
        ("managedFields", [{"manager": "fleetsync", "time": "later"}]),
        ("generation", 2),
        ("creationTimestamp", "2026-01-02T00:00:00Z"),
    ],
)
def test_same_live_state_ignores_each_field_every_write_changes(field: str, value: Any) -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    after = {**live, "metadata": {"name": "c", field: value}}
    assert same_live_state(after, live)
    assert not same_live_state({**after, "data": {"k": "v"}}, live)
    assert not same_live_state({**after, "metadata": {"name": "c", "uid": "u-2"}}, live)
    assert same_live_state({"kind": "ConfigMap"}, {"kind": "ConfigMap"}), "no status, no metadata"


def test_a_secret_s_masked_sides_keep_what_each_side_has_and_no_more() -> None:
    live = {"type": "Opaque", "data": {"a": "eA==", "b": "eQ=="}}
    assert masked_secret_pair(live, {"data": {"b": "eQ==", "c": "eg=="}}) == (
        {"type": "Opaque", "data": {"a": "***", "b": "***"}},
        {"data": {"b": "***", "c": "*** (changed)"}},
    )
    assert masked_secret_pair({"type": "Opaque"}, {"data": {"c": "eg=="}}) == (
        {"type": "Opaque"},
        {"data": {"c": "*** (changed)"}},
    )
    assert masked_secret_pair(live, {"data": None}) == (
        {"type": "Opaque", "data": {"a": "***", "b": "***"}},
        {"data": None},
    )
    assert live == {"type": "Opaque", "data": {"a": "eA==", "b": "eQ=="}}, "sides are copies"


def test_an_hpa_metric_that_changed_shows_every_live_metric_in_the_live_order() -> None:
    def metric(name: str, utilization: int) -> dict[str, Any]:
        target = {"type": "Utilization", "averageUtilization": utilization}
        return {"type": "Resource", "resource": {"name": name, "target": target}}

    desired = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "web"},
        "spec": {"metrics": [metric("cpu", 50), metric("memory", 60)]},
    }
    live = {**desired, "spec": {"metrics": [metric("memory", 60), metric("cpu", 70)]}}
    drift = diff_object(desired, live)
    assert drift is not None
    assert drift.diff == (
        "--- live/autoscaling/HorizontalPodAutoscaler/web/h\n"
        "+++ desired/autoscaling/HorizontalPodAutoscaler/web/h\n"
        "@@ -6,14 +6,14 @@\n"
        " spec:\n"
        "   metrics:\n"
        "   - resource:\n"
        "+      name: cpu\n"
        "+      target:\n"
        "+        averageUtilization: 50\n"
        "+        type: Utilization\n"
        "+    type: Resource\n"
        "+  - resource:\n"
        "       name: memory\n"
        "       target:\n"
        "         averageUtilization: 60\n"
        "         type: Utilization\n"
        "     type: Resource\n"
        "-  - resource:\n"
        "-      name: cpu\n"
        "-      target:\n"
        "-        averageUtilization: 70\n"
        "-        type: Utilization\n"
        "-    type: Resource\n"
    ), "not aligned: one desired metric matches no live one"
