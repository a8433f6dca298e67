"""What a reconcile costs in requests (kubesim's counters), and what the cheap path never skips.

kubesim only: a real API server has no request counters (`live` is kubesim's here, a cluster of
the test's own, so names need not be unique). An unchanged application is read with one LIST per
kind and decided locally: no write, not even a dry-run. Everything that may change still goes
to the server: a field dropped from the manifest, another manager's edit, a conflict, an invalid
object. The only object of a bundle that certainly changes goes there once, its apply being its
validation; objects that may change go through a dry-run and an apply.
"""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.kube.client import ApiResource, Manifest
from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE, mirror_name
from fleetsync.shared.kube.sync import SyncResult, assess_live_health, check_drift
from fleetsync.shared.model import ChangeAction, Health, SyncState
from fleetsync.shared.model.bundle import Bundle
from tests.integration.kube import manifests
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.hookjobs import hook_job
from tests.integration.kube.manifests import (
    WAVE,
    config_map,
    deployment,
    namespace,
    secret,
    service,
    widget,
    widget_crd,
)
from tests.support.waiting import wait_for

GROUP = "example.com"


pytestmark = kubesim_only


def sync(live: Live, objects: Any, **options: Any) -> SyncResult:
    """A sync as the application `web`, in namespace `web` unless told otherwise."""
    options.setdefault("app", "web")
    options.setdefault("namespace", "web")
    return manifests.sync(live, objects, **options)


NAMESPACES = ("web", "jobs")
KINDS = ("namespaces", "configmaps", "services", "deployments", "secrets")


def fifty_objects() -> list[dict[str, Any]]:
    """2 Namespaces, 18 ConfigMaps, 10 Services, 10 Deployments, 10 Secrets over 2 namespaces."""
    objects = [namespace(ns) for ns in NAMESPACES]
    objects += [config_map(f"cm-{i}", NAMESPACES[i % 2], data={"n": str(i)}) for i in range(18)]
    for i in range(10):
        ns = NAMESPACES[i % 2]
        objects += [service(f"web-{i}", ns), deployment(f"web-{i}", ns), secret(f"s-{i}", ns)]
    assert len(objects) == 50
    return objects


def actions(result: SyncResult) -> dict[str, str]:
    return {str(c.key): str(c.action) for c in result.changes if c.action != "unchanged"}


def versions(live: Live) -> dict[tuple[str, str, str], str]:
    return {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"][
            "resourceVersion"
        ]
        for o in live.sim.objects()
    }


def test_an_unchanged_fifty_object_application_issues_no_write_and_one_list_per_kind(
    live: Live,
) -> None:
    bundle = fifty_objects()
    first = sync(live, bundle, namespace=None)
    assert first.error is None, first.error
    wait_for(
        lambda: assess_live_health(live.client, Bundle.of(bundle))[0] is Health.HEALTHY,
        what="the simulated controllers to finish writing the Deployments' status",
    )
    before = versions(live)
    live.sim.reset_request_counts()

    second = sync(live, bundle, previous=first.inventory, namespace=None)

    assert second.state is SyncState.SYNCED and second.error is None
    assert second.changes.counts[ChangeAction.UNCHANGED] == 50
    assert live.writes() == {}, "no apply, create, update, patch or delete, not even a dry-run"
    assert live.sim.request_counts() == {
        **{("list", kind): 1 for kind in KINDS},
        ("get", "configmaps"): 1,
    }, "one LIST per kind, and the in-cluster inventory copy"
    (inventory_read,) = [r for r in live.sim.request_log() if r.verb == "get"]
    assert (inventory_read.namespace, inventory_read.name) == (
        INVENTORY_NAMESPACE,
        mirror_name("web"),
    )
    assert versions(live) == before


def test_a_drift_check_and_a_health_check_read_one_list_per_kind(live: Live) -> None:
    bundle = fifty_objects()
    sync(live, bundle, namespace=None)
    live.sim.reset_request_counts()

    report = check_drift(client=live.client, app="web", bundle=Bundle.of(bundle), namespace=None)

    assert not report.drifted and len(report.in_sync) == 50
    assert live.sim.request_counts() == {("list", kind): 1 for kind in KINDS}
    live.sim.reset_request_counts()

    health, objects = assess_live_health(live.client, Bundle.of(bundle))

    assert len(objects) == 50 and health is not Health.MISSING
    assert live.sim.request_counts() == {("list", kind): 1 for kind in KINDS}


def test_one_changed_object_costs_one_apply_and_no_dry_run(live: Live) -> None:
    bundle = fifty_objects()
    first = sync(live, bundle, namespace=None)
    changed = [
        config_map("cm-3", "jobs", data={"n": "new"}) if o["metadata"]["name"] == "cm-3" else o
        for o in bundle
    ]
    live.sim.reset_request_counts()

    second = sync(live, changed, previous=first.inventory, namespace=None)

    assert actions(second) == {"core/ConfigMap/jobs/cm-3": "configured"}
    assert live.writes() == {("apply", "configmaps"): 1}
    assert live.operator.get("/api/v1/namespaces/jobs/configmaps/cm-3")["data"] == {"n": "new"}  # type: ignore[index]


def test_fields_dropped_from_the_manifest_are_removed_from_the_live_object(live: Live) -> None:
    labelled = deployment("api", "web")
    labelled["metadata"]["labels"] = {"tier": "front"}
    container = labelled["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "MODE", "value": "fast"}, {"name": "DEBUG", "value": "1"}]
    first = sync(live, [namespace("web"), labelled])
    bare = deployment("api", "web")
    bare["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "MODE", "value": "fast"}]
    live.sim.reset_request_counts()

    second = sync(live, [namespace("web"), bare], previous=first.inventory)

    assert actions(second) == {"apps/Deployment/web/api": "configured"}
    assert live.writes() == {("apply-dry-run", "deployments"): 1, ("apply", "deployments"): 1}
    api = live.operator.get("/apis/apps/v1/namespaces/web/deployments/api")
    assert api is not None
    assert "tier" not in api["metadata"]["labels"]
    assert api["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "MODE", "value": "fast"}
    ]
    third = sync(live, [namespace("web"), bare], previous=second.inventory)
    assert actions(third) == {}


def test_an_out_of_band_edit_of_a_declared_field_is_reapplied(live: Live) -> None:
    bundle = [namespace("web"), config_map("settings", "web", data={"mode": "fast"})]
    first = sync(live, bundle)
    path = "/api/v1/namespaces/web/configmaps/settings"
    live.operator.merge_patch(path, {"data": {"mode": "slow"}})
    live.sim.reset_request_counts()

    second = sync(live, bundle, previous=first.inventory)

    assert actions(second) == {"core/ConfigMap/web/settings": "configured"}
    assert live.writes() == {("apply", "configmaps"): 1}
    assert live.operator.get(path)["data"] == {"mode": "fast"}  # type: ignore[index]


def test_another_manager_s_item_in_a_list_fleetsync_owns_whole_is_removed(live: Live) -> None:
    """An atomic list (here a CRD list without list-map keys) is fleetsync's as a whole, even
    when its items have names: an item another manager adds is not merged, it is drift."""
    listed = widget("w1", "web", GROUP)
    listed["spec"] = {"items": [{"name": "a", "size": 1}]}
    bundle = [namespace("web"), widget_crd(GROUP), listed]
    first = sync(live, bundle)
    assert first.error is None, first.error
    path = "/apis/example.com/v1/namespaces/web/widgets/w1"
    added = [{"name": "a", "size": 1}, {"name": "b", "size": 2}]
    live.operator.merge_patch(path, {"spec": {"items": added}})
    live.sim.reset_request_counts()

    second = sync(live, bundle, previous=first.inventory)

    assert actions(second) == {"example.com/Widget/web/w1": "configured"}
    assert live.operator.get(path)["spec"]["items"] == [{"name": "a", "size": 1}]  # type: ignore[index]


def test_fields_only_other_managers_own_or_share_cost_no_request(live: Live) -> None:
    bundle = [namespace("web"), deployment("api", "web", replicas=2)]
    first = sync(live, bundle)
    path = "/apis/apps/v1/namespaces/web/deployments/api"
    live.operator.merge_patch(path, {"metadata": {"labels": {"team": "x"}}})
    live.operator.apply(
        path,
        {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 2}},
        manager="hpa-tuner",
    )
    live.sim.reset_request_counts()

    second = sync(live, bundle, previous=first.inventory, force_conflicts=False)

    assert second.error is None and actions(second) == {}
    assert live.writes() == {}


def _entries(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Who manages which fields of `obj`, the status subresource left out (controllers move it)."""
    return sorted(
        (e["manager"], e["operation"], repr(e.get("fieldsV1")))
        for e in obj["metadata"].get("managedFields", [])
        if e.get("subresource") != "status"
    )


def test_a_conflict_with_another_manager_is_refused_by_the_apply_when_force_is_off(
    live: Live,
) -> None:
    """The only changed object: its apply, refused with 409, is its validation."""
    bundle = [namespace("web"), deployment("api", "web", replicas=2)]
    first = sync(live, bundle)
    path = "/apis/apps/v1/namespaces/web/deployments/api"
    live.operator.apply(
        path,
        {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 5}},
        manager="hpa-tuner",
    )
    before = live.operator.get(path)
    assert before is not None
    live.sim.reset_request_counts()

    refused = sync(live, bundle, previous=first.inventory, force_conflicts=False)

    assert refused.error is not None and "409" in refused.error.message
    assert refused.error.message.startswith("apply failed: 409")
    assert "hpa-tuner" in refused.error.message
    assert refused.state is SyncState.OUT_OF_SYNC
    assert live.writes() == {("apply", "deployments"): 1}, "refused: nothing else asked"
    after = live.operator.get(path)
    assert after is not None and after["spec"]["replicas"] == 5
    # Not the resourceVersion: the cluster's controllers go on writing the new replicas' status.
    assert after["metadata"]["generation"] == before["metadata"]["generation"], "spec not written"
    assert _entries(after) == _entries(before), "refused: no manager's fields moved"


def test_an_object_changed_into_an_invalid_one_is_refused_and_nothing_is_written(
    live: Live,
) -> None:
    bundle = [namespace("web"), config_map("a", "web"), deployment("api", "web")]
    first = sync(live, bundle)
    broken = deployment("api", "web")
    broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}  # selector mismatch
    live.sim.reset_request_counts()

    result = sync(
        live,
        [namespace("web"), config_map("a", "web", data={"k": "new"}), broken],
        previous=first.inventory,
    )

    assert result.error is not None and result.error.key is not None
    assert str(result.error.key) == "apps/Deployment/web/api"
    assert "dry-run failed: 422" in result.error.message
    assert live.writes() == {
        ("apply-dry-run", "configmaps"): 1,
        ("apply-dry-run", "deployments"): 1,
    }
    assert live.operator.get("/api/v1/namespaces/web/configmaps/a")["data"] == {"k": "v"}  # type: ignore[index]


def test_an_object_deleted_out_of_band_is_created_again(live: Live) -> None:
    bundle = [namespace("web"), config_map("a", "web"), config_map("b", "web")]
    first = sync(live, bundle)
    live.operator.delete("/api/v1/namespaces/web/configmaps/b")
    live.sim.reset_request_counts()

    second = sync(live, bundle, previous=first.inventory)

    assert actions(second) == {"core/ConfigMap/web/b": "created"}
    assert live.writes() == {("apply-dry-run", "configmaps"): 1, ("apply", "configmaps"): 1}


@pytest.mark.parametrize("anywhere", [False, True])
def test_credentials_that_may_not_list_fall_back_to_narrower_reads(
    live: Live, anywhere: bool
) -> None:
    """Namespaced RBAC: no LIST across namespaces (then one per namespace), or none at all
    (then a GET per object, as before lists were used). kubesim refuses the LISTs with 403 as
    RBAC would; tests/integration/kube/test_namespaced_rbac.py does the same with real RBAC."""
    bundle = fifty_objects()
    first = sync(live, bundle, namespace=None)
    for plural in KINDS[1:]:
        live.sim.forbid_lists(plural, ("", *NAMESPACES) if anywhere else ("",))
    live.sim.reset_request_counts()

    second = sync(live, bundle, previous=first.inventory, namespace=None)

    assert second.error is None and second.changes.counts[ChangeAction.UNCHANGED] == 50
    assert live.writes() == {}
    counts = live.sim.request_counts()
    lists = {resource: n for (verb, resource), n in counts.items() if verb == "list"}
    gets = sum(n for (verb, _), n in counts.items() if verb == "get")
    # Each kind: the LIST across namespaces (refused), then one LIST per namespace.
    assert lists == {"namespaces": 1, **{kind: 1 + len(NAMESPACES) for kind in KINDS[1:]}}
    if anywhere:
        assert gets == 48 + 1, "every LIST refused: a GET per object and the inventory copy"
    else:
        assert gets == 1, "only the inventory copy is read by name"


def test_a_check_of_one_application_lists_only_its_own_objects(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Applications sharing a namespace: checking one must not read the others' objects (with
    a thousand applications in `default`, every check would read a thousand ConfigMaps)."""
    ours = [config_map(f"web-{i}", "shared") for i in range(3)]
    theirs = [config_map(f"api-{i}", "shared") for i in range(20)]
    assert sync(live, [namespace("shared")], app="ns", namespace=None).error is None
    assert sync(live, theirs, app="api", namespace="shared").error is None
    assert sync(live, ours, app="web", namespace="shared").error is None
    listed: list[Manifest] = []
    real_list = live.client.list

    def counting(resource: ApiResource, **kwargs: Any) -> list[Manifest]:
        found = real_list(resource, **kwargs)
        listed.extend(found)
        return found

    monkeypatch.setattr(live.client, "list", counting)  # a spy: the real request still goes out
    live.sim.reset_request_counts()
    report = check_drift(client=live.client, app="web", bundle=Bundle.of(ours), namespace="shared")

    assert len(report.in_sync) == 3 and not report.drifted
    assert sorted(o["metadata"]["name"] for o in listed) == ["web-0", "web-1", "web-2"]
    assert live.sim.request_counts().get(("get", "configmaps"), 0) == 0


def test_objects_applied_without_the_application_label_are_found_and_relabelled(
    live: Live,
) -> None:
    """Objects from before the application label (or labelled by hand) are read one by one,
    then labelled by the next apply, after which one LIST finds them again."""
    ours = [config_map(f"web-{i}", "web") for i in range(2)]
    assert sync(live, [namespace("web")], app="ns", namespace=None).error is None
    for obj in ours:
        live.operator.apply(
            f"/api/v1/namespaces/web/configmaps/{obj['metadata']['name']}",
            {
                **obj,
                "metadata": {
                    **obj["metadata"],
                    "labels": {"app.kubernetes.io/managed-by": "fleetsync"},
                    "annotations": {"fleetsync.io/application": "web"},
                },
            },
            manager="fleetsync",
        )
    live.sim.reset_request_counts()
    first = sync(live, ours, app="web")
    assert first.error is None
    assert live.sim.request_counts()[("get", "configmaps")] >= 2, "read one by one"
    for obj in ours:
        labels = live.operator.get(f"/api/v1/namespaces/web/configmaps/{obj['metadata']['name']}")
        assert labels is not None
        assert labels["metadata"]["labels"]["fleetsync.io/application"] == "web"
    live.sim.reset_request_counts()
    second = sync(live, ours, app="web", previous=first.inventory)
    assert second.changes.counts[ChangeAction.UNCHANGED] == 2
    assert live.writes() == {}


def test_the_only_changed_definition_goes_without_dry_run_whatever_its_wave(live: Live) -> None:
    """Stage 1 comes before every wave of stage 2: nothing can stop the walk before it."""
    objects = [config_map("a", "web", wave=0)]
    first = sync(live, [namespace("web", **{WAVE: "3", "note": "one"}), *objects])
    assert first.error is None, first.error
    live.sim.reset_request_counts()

    noted = namespace("web", **{WAVE: "3", "note": "two"})
    second = sync(live, [noted, *objects], previous=first.inventory)

    assert actions(second) == {"core/Namespace/_/web": "configured"}
    assert live.writes() == {("apply", "namespaces"): 1}


def test_the_only_changed_object_of_a_later_wave_keeps_its_dry_run(live: Live) -> None:
    """A wave may stop the walk before it (earlier waves not healthy yet): its object is then
    still validated up front, as every object of the bundle is."""
    first_wave, later = config_map("a", "web", wave=0), config_map("b", "web", wave=1)
    first = sync(live, [namespace("web"), first_wave, later])
    assert first.error is None, first.error
    live.sim.reset_request_counts()

    changed_later = config_map("b", "web", data={"k": "new"}, wave=1)
    second = sync(live, [namespace("web"), first_wave, changed_later], previous=first.inventory)

    assert actions(second) == {"core/ConfigMap/web/b": "configured"}
    assert live.writes() == {("apply-dry-run", "configmaps"): 1, ("apply", "configmaps"): 1}
    live.sim.reset_request_counts()

    changed_first = config_map("a", "web", data={"k": "new"}, wave=0)
    third = sync(live, [namespace("web"), changed_first, changed_later], previous=second.inventory)

    assert actions(third) == {"core/ConfigMap/web/a": "configured"}
    assert live.writes() == {("apply", "configmaps"): 1}, "the first wave: no dry-run"


def test_the_only_changed_object_of_a_bundle_with_hooks_keeps_its_dry_run(live: Live) -> None:
    """A hook is written apart from the objects (created, never applied): the apply of the
    only changed object cannot stand for the validation of everything written."""
    hook = hook_job("smoke", "web", "PostSync", generate=False)
    first = sync(live, [namespace("web"), config_map("a", "web"), hook])
    assert first.error is None, first.error
    live.calls.clear()

    changed = config_map("a", "web", data={"k": "new"})
    second = sync(live, [namespace("web"), changed, hook], previous=first.inventory)

    assert actions(second)["core/ConfigMap/web/a"] == "configured"
    assert [(c.verb, c.key) for c in live.engine_writes("apply", "dry-run")] == [
        ("dry-run", "core/ConfigMap/web/a"),
        ("apply", "core/ConfigMap/web/a"),
    ]
