"""check_drift and assess_live_health against kubesim: read-only views of an application."""

from __future__ import annotations

from fleetsync.shared.kube.diff import DriftState, render_diff
from fleetsync.shared.kube.sync import assess_live_health, check_drift
from fleetsync.shared.model import ChangeAction, Health, ResourceKey
from fleetsync.shared.model.bundle import Bundle
from tests.integration.kube.conftest import Live
from tests.integration.kube.manifests import config_map, deployment, namespace, sync
from tests.support.waiting import wait_for

BUNDLE = [namespace("web"), config_map("settings", data={"mode": "fast"}), deployment("api")]


def test_drift_detection_reports_an_out_of_band_edit_and_delete_without_writing(live: Live) -> None:
    first = sync(live.client, BUNDLE)
    assert (
        check_drift(
            client=live.client, app="web", bundle=Bundle.of(BUNDLE), namespace="web"
        ).drifted
        is False
    )
    live.operator.merge_patch(
        "/api/v1/namespaces/web/configmaps/settings", {"data": {"mode": "slow"}}
    )
    live.operator.delete("/apis/apps/v1/namespaces/web/deployments/api")
    live.handle.reset_request_counts()

    report = check_drift(client=live.client, app="web", bundle=Bundle.of(BUNDLE), namespace="web")

    assert report.of(DriftState.MODIFIED) == (ResourceKey.parse("core/ConfigMap/web/settings"),)
    assert report.of(DriftState.MISSING) == (ResourceKey.parse("apps/Deployment/web/api"),)
    assert report.in_sync == (ResourceKey.parse("core/Namespace/_/web"),)
    text = render_diff(report)
    assert "-  mode: slow" in text and "+  mode: fast" in text
    assert live.writes() == {}, "a drift check only reads"

    healed = sync(live.client, BUNDLE, previous=first.inventory)

    assert {str(c.key): c.action for c in healed.changes} == {
        "core/Namespace/_/web": ChangeAction.UNCHANGED,
        "core/ConfigMap/web/settings": ChangeAction.CONFIGURED,
        "apps/Deployment/web/api": ChangeAction.CREATED,
    }
    assert not check_drift(
        client=live.client, app="web", bundle=Bundle.of(BUNDLE), namespace="web"
    ).drifted


def test_fields_other_managers_own_are_not_drift(live: Live) -> None:
    sync(live.client, BUNDLE)
    live.operator.merge_patch(
        "/api/v1/namespaces/web/configmaps/settings", {"metadata": {"labels": {"team": "x"}}}
    )

    report = check_drift(client=live.client, app="web", bundle=Bundle.of(BUNDLE), namespace="web")

    assert not report.drifted


def test_live_health_follows_the_workloads(live: Live) -> None:
    sync(live.client, BUNDLE)
    health, objects = wait_for(
        lambda: (
            found
            if (found := assess_live_health(live.client, Bundle.of(BUNDLE), namespace="web"))[0]
            is Health.HEALTHY
            else None
        ),
        timeout=5,
        what="the workloads becoming healthy",
    )
    assert len(objects) == 3

    live.operator.delete("/apis/apps/v1/namespaces/web/deployments/api")
    health, objects = assess_live_health(live.client, Bundle.of(BUNDLE), namespace="web")
    assert health is Health.MISSING
    assert [str(o.key) for o in objects if o.health is Health.MISSING] == [
        "apps/Deployment/web/api"
    ]


def test_a_workload_that_never_becomes_ready_is_progressing(live: Live) -> None:
    live.handle.set_controllers(enabled=True, never_ready=True)
    result = sync(live.client, BUNDLE)
    assert result.health is Health.PROGRESSING
    # The controllers have seen the deployment (it has a status) and still do not make it ready.
    wait_for(
        lambda: (live.operator.get("/apis/apps/v1/namespaces/web/deployments/api") or {}).get(
            "status", {}
        ).get("observedGeneration"),
        timeout=5,
        what="the deployment observed by the controllers",
    )
    health, objects = assess_live_health(live.client, Bundle.of(BUNDLE), namespace="web")
    assert health is Health.PROGRESSING
    verdict = next(o for o in objects if o.key.kind == "Deployment")
    assert "available" in verdict.message


def test_a_malformed_manifest_is_left_out_of_the_drift_and_health_views(live: Live) -> None:
    sync(live.client, BUNDLE)
    nameless = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}
    bundle = Bundle.of([*BUNDLE, nameless])

    report = check_drift(client=live.client, app="web", bundle=bundle, namespace="web")
    _, objects = assess_live_health(live.client, bundle, app="web", namespace="web")

    assert not report.drifted and len(report.in_sync) == len(BUNDLE)
    assert len(objects) == len(BUNDLE)
