"""check_drift and assess_live_health on kubesim and on a real API server: read-only views of an
application. A real server runs no Pods (no kubelet): its Deployments stay Progressing, so the
health of something that settles is followed on a LoadBalancer Service, whose address the test
writes as a cloud controller would."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.kube.diff import DriftState
from fleetsync.shared.kube.sync import assess_live_health, check_drift
from fleetsync.shared.model import ChangeAction, Health
from fleetsync.shared.model.bundle import Bundle
from tests.integration.kube.conftest import Live
from tests.integration.kube.manifests import config_map, deployment, namespace, sync
from tests.support.waiting import wait_for


def bundle_of(live: Live) -> list[dict[str, Any]]:
    return [
        namespace(live.ns),
        config_map("settings", live.ns, data={"mode": "fast"}),
        deployment("api", live.ns),
    ]


def drift(live: Live, bundle: list[dict[str, Any]]) -> Any:
    return check_drift(
        client=live.client, app=live.app, bundle=Bundle.of(bundle), namespace=live.ns
    )


def load_balancer(name: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]},
    }


def give_address(live: Live, name: str) -> None:
    """Write a LoadBalancer Service's address, as a cloud controller would."""
    live.operator.merge_patch(
        f"/api/v1/namespaces/{live.ns}/services/{name}/status",
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
    )


def test_drift_detection_reports_an_out_of_band_edit_and_delete_without_writing(live: Live) -> None:
    bundle = bundle_of(live)
    ns = live.ns
    first = sync(live, bundle)
    assert drift(live, bundle).drifted is False
    live.operator.merge_patch(
        f"/api/v1/namespaces/{ns}/configmaps/settings", {"data": {"mode": "slow"}}
    )
    live.operator.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/api")
    wait_for(
        lambda: live.operator.get(f"/apis/apps/v1/namespaces/{ns}/deployments/api") is None,
        what="the Deployment deleted out of band to be gone",
    )
    live.calls.clear()

    report = drift(live, bundle)

    assert report.of(DriftState.MODIFIED) == (live.key(f"core/ConfigMap/{ns}/settings"),)
    assert report.of(DriftState.MISSING) == (live.key(f"apps/Deployment/{ns}/api"),)
    assert report.in_sync == (live.key(f"core/Namespace/_/{ns}"),)
    [modified] = (d for d in report.drifts if d.state is DriftState.MODIFIED)
    assert "-  mode: slow\n+  mode: fast" in modified.diff
    assert live.calls == [], "a drift check only reads"

    healed = sync(live, bundle, previous=first.inventory)

    assert {str(c.key): c.action for c in healed.changes} == {
        f"core/Namespace/_/{ns}": ChangeAction.UNCHANGED,
        f"core/ConfigMap/{ns}/settings": ChangeAction.CONFIGURED,
        f"apps/Deployment/{ns}/api": ChangeAction.CREATED,
    }
    assert not drift(live, bundle).drifted


def test_fields_other_managers_own_are_not_drift(live: Live) -> None:
    bundle = bundle_of(live)
    sync(live, bundle)
    live.operator.merge_patch(
        f"/api/v1/namespaces/{live.ns}/configmaps/settings", {"metadata": {"labels": {"team": "x"}}}
    )

    assert not drift(live, bundle).drifted


def test_live_health_follows_the_objects(live: Live) -> None:
    bundle = [namespace(live.ns), config_map("settings", live.ns), load_balancer("edge", live.ns)]
    result = sync(live, bundle)
    assert result.health is Health.PROGRESSING
    assert result.unhealthy == (
        f"core/Service/{live.ns}/edge: Progressing (waiting for a load balancer address)"
    )
    assert result.counts == {
        "created": 3,
        "configured": 0,
        "replaced": 0,
        "unchanged": 0,
        "pruned": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert result.notes == ""
    health, objects = assess_live_health(live.client, Bundle.of(bundle), namespace=live.ns)
    assert health is Health.PROGRESSING
    assert [str(o) for o in objects if o.health is not Health.HEALTHY] == [
        f"core/Service/{live.ns}/edge: Progressing (waiting for a load balancer address)"
    ]

    give_address(live, "edge")

    health, objects = assess_live_health(live.client, Bundle.of(bundle), namespace=live.ns)
    assert health is Health.HEALTHY
    assert len(objects) == 3

    live.operator.delete(f"/api/v1/namespaces/{live.ns}/services/edge")
    health, objects = assess_live_health(live.client, Bundle.of(bundle), namespace=live.ns)
    assert health is Health.MISSING
    assert [str(o.key) for o in objects if o.health is Health.MISSING] == [
        f"core/Service/{live.ns}/edge"
    ]


def test_a_workload_that_never_becomes_ready_is_progressing(live: Live) -> None:
    """kubesim is told its Pods never get ready; a real server has no kubelet to run them."""
    if live.simulated:
        live.sim.set_controllers(enabled=True, never_ready=True)
    bundle = bundle_of(live)
    result = sync(live, bundle)
    assert result.health is Health.PROGRESSING

    def deployment_seen() -> str:
        _, objects = assess_live_health(live.client, Bundle.of(bundle), namespace=live.ns)
        verdict = next(o for o in objects if o.key.kind == "Deployment")
        assert verdict.health is Health.PROGRESSING, verdict
        return verdict.message if "available" in verdict.message else ""

    message = wait_for(deployment_seen, what="the Deployment's controller to report replicas")
    assert message == "0 of 1 updated replicas available"


def test_a_malformed_manifest_is_left_out_of_the_drift_and_health_views(live: Live) -> None:
    bundle = bundle_of(live)
    sync(live, bundle)
    nameless = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}
    with_nameless = Bundle.of([*bundle, nameless])

    report = check_drift(client=live.client, app=live.app, bundle=with_nameless, namespace=live.ns)
    _, objects = assess_live_health(live.client, with_nameless, namespace=live.ns)

    assert not report.drifted and len(report.in_sync) == len(bundle)
    assert len(objects) == len(bundle)


def test_a_deployment_whose_quantities_the_server_respells_syncs_once_then_rests(
    live: Live,
) -> None:
    """The server stores `cpu: 2000m` as "2": neither drift nor a reason to write again."""
    ns = live.ns
    bundle = [namespace(ns), deployment("api", ns, cpu="2000m")]
    first = sync(live, bundle)
    assert first.error is None, first.error
    stored = live.operator.get(f"/apis/apps/v1/namespaces/{ns}/deployments/api")
    assert stored is not None
    requests = stored["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    assert requests == {"cpu": "2", "memory": "1Gi"}

    assert not drift(live, bundle).drifted
    live.calls.clear()
    second = sync(live, bundle, previous=first.inventory)

    assert {c.action for c in second.changes} == {ChangeAction.UNCHANGED}
    assert live.engine_writes() == [], "decided locally: not even a dry-run"


ADDED = {"added": "YnktaGFuZA=="}
"""Data another manager writes into the Secret (`kubectl edit`, a controller)."""


@pytest.mark.parametrize(
    ("kind", "declared"),
    [
        ("Secret", {"data": None}),
        ("Secret", {}),
        ("Secret", {"data": None, "stringData": None}),
        ("Secret", {"data": {}}),
        ("Secret", {"stringData": {}}),
        ("Secret", {"data": {}, "stringData": {}}),
        ("ConfigMap", {"data": None, "binaryData": None}),
        ("ConfigMap", {"data": {}}),
        ("ConfigMap", {"binaryData": {}}),
        ("ConfigMap", {"data": {}, "binaryData": {}}),
    ],
    ids=[
        "data-null",
        "no-data",
        "data-and-string-data-null",
        "data-empty",
        "string-data-empty",
        "data-and-string-data-empty",
        "configmap-data-and-binary-data-null",
        "configmap-data-empty",
        "configmap-binary-data-empty",
        "configmap-data-and-binary-data-empty",
    ],
)
def test_a_secret_or_config_map_declaring_no_data_is_in_sync_and_data_added_by_others_is_theirs(
    live: Live, kind: str, declared: dict[str, Any]
) -> None:
    """`data: null` and `data: {}` are what the API server makes of them: no data, as if the
    manifest had none (a ConfigMap's alike). The sync stores none and reports no drift; data
    another manager adds afterwards is theirs, like any field the manifest does not declare: no
    drift, and the next sync leaves it."""
    token: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": "token", "namespace": live.ns},
        **({"type": "Opaque"} if kind == "Secret" else {}),
        **declared,
    }
    bundle = [namespace(live.ns), token]
    path = f"/api/v1/namespaces/{live.ns}/{kind.lower()}s/token"
    first = sync(live, bundle)
    assert first.error is None, first.error
    stored = live.operator.get(path)
    assert stored is not None and not stored.get("data"), stored
    assert drift(live, bundle).drifted is False
    second = sync(live, bundle, previous=first.inventory)
    assert second.changes.counts[ChangeAction.UNCHANGED] == len(bundle), second.changes

    live.operator.merge_patch(path, {"data": ADDED})
    report = drift(live, bundle)
    assert report.drifted is False, report
    again = sync(live, bundle, previous=first.inventory)
    assert again.error is None, again.error
    kept = live.operator.get(path)
    assert kept is not None and kept.get("data") == ADDED, kept
    assert drift(live, bundle).drifted is False


def test_an_object_of_a_kind_the_cluster_does_not_serve_is_missing_as_such(live: Live) -> None:
    bundle = [namespace(live.ns), config_map("settings", live.ns)]
    sync(live, bundle)
    gadget = {
        "apiVersion": f"{live.group}/v1",
        "kind": "Gadget",
        "metadata": {"name": "g", "namespace": live.ns},
    }

    health, objects = assess_live_health(
        live.client, Bundle.of([*bundle, gadget]), namespace=live.ns
    )

    assert health is Health.MISSING
    assert [(str(o.key), o.health, o.message) for o in objects] == [
        (f"{live.group}/Gadget/{live.ns}/g", Health.MISSING, "kind not served"),
        (f"core/ConfigMap/{live.ns}/settings", Health.HEALTHY, ""),
        (f"core/Namespace/_/{live.ns}", Health.HEALTHY, ""),
    ]


def test_a_hook_is_left_out_of_the_drift_and_health_views(live: Live) -> None:
    bundle = bundle_of(live)
    sync(live, bundle)
    hook = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "migrate",
            "namespace": live.ns,
            "annotations": {"argocd.argoproj.io/hook": "PreSync"},
        },
        "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}},
    }
    with_hook = Bundle.of([*bundle, hook])

    report = check_drift(client=live.client, app=live.app, bundle=with_hook, namespace=live.ns)
    _, objects = assess_live_health(live.client, with_hook, namespace=live.ns)

    assert not report.drifted and len(report.in_sync) == len(bundle)
    assert "Job" not in {o.key.kind for o in objects} and len(objects) == len(bundle)
