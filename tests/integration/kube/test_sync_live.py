"""sync_application against a kubesim cluster: staged apply, no-op syncs, prune, refusals."""

from __future__ import annotations

import threading

from fleetsync.shared.kube.inventory import (
    INVENTORY_NAMESPACE,
    Inventory,
    mirror_name,
    read_cluster_inventory,
)
from fleetsync.shared.kube.sync import SyncResult
from fleetsync.shared.model import ChangeAction, Health, ResourceKey, SyncState
from tests.integration.kube.conftest import Live
from tests.integration.kube.manifests import (
    config_map,
    deployment,
    namespace,
    service,
    sync,
    widget,
    widget_crd,
)

BUNDLE = [
    widget("w1"),
    deployment("api"),
    service("api"),
    config_map("settings"),
    widget_crd(),
    namespace("web"),
]


def key(text: str) -> ResourceKey:
    return ResourceKey.parse(text)


def actions(result: SyncResult) -> dict[str, str]:
    return {str(c.key): str(c.action) for c in result.changes}


def test_first_sync_creates_everything_in_stage_order_crd_and_its_objects_included(
    live: Live,
) -> None:
    result = sync(live.client, BUNDLE)

    assert result.error is None, result.error
    assert result.state is SyncState.SYNCED
    assert [str(c.key) for c in result.changes] == [
        "core/Namespace/_/web",
        "apiextensions.k8s.io/CustomResourceDefinition/_/widgets.example.com",
        "core/ConfigMap/web/settings",
        "core/Service/web/api",
        "apps/Deployment/web/api",
        "example.com/Widget/web/w1",
    ]
    assert {c.action for c in result.changes} == {ChangeAction.CREATED}
    assert result.inventory.keys == {key(str(c.key)) for c in result.changes}

    applies = [
        r
        for r in live.handle.request_log()
        if r.verb == "apply" and r.namespace != INVENTORY_NAMESPACE
    ]
    last_definition = max(
        i
        for i, r in enumerate(applies)
        if r.resource in ("namespaces", "customresourcedefinitions")
    )
    first_workload = min(
        i for i, r in enumerate(applies) if r.resource in ("configmaps", "deployments", "widgets")
    )
    assert last_definition < first_workload, "stage 1 is written before anything of stage 2"
    stored = {(o["kind"], o["metadata"]["name"]) for o in live.handle.objects()}
    assert {
        ("Widget", "w1"),
        ("Deployment", "api"),
        ("CustomResourceDefinition", "widgets.example.com"),
    } <= stored


def test_applied_objects_carry_the_fleetsync_label_and_application_annotation(live: Live) -> None:
    sync(live.client, [namespace("web"), config_map("settings")])
    obj = live.operator.get("/api/v1/namespaces/web/configmaps/settings")
    assert obj is not None
    assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "fleetsync"
    assert obj["metadata"]["annotations"]["fleetsync.io/application"] == "web"
    assert [m["manager"] for m in obj["metadata"]["managedFields"]] == ["fleetsync"]


def test_a_namespaced_object_without_namespace_goes_to_the_application_namespace(
    live: Live,
) -> None:
    result = sync(live.client, [namespace("web"), config_map("plain", ns=None)])
    assert result.error is None, result.error
    assert live.operator.get("/api/v1/namespaces/web/configmaps/plain") is not None
    assert key("core/ConfigMap/web/plain") in result.inventory.keys


def test_second_sync_reports_every_object_unchanged_and_issues_no_write(live: Live) -> None:
    first = sync(live.client, BUNDLE)
    before = {
        (o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
        for o in live.handle.objects()
    }
    live.handle.reset_request_counts()

    second = sync(live.client, BUNDLE, previous=first.inventory)

    assert second.error is None and second.state is SyncState.SYNCED
    assert second.changes.counts[ChangeAction.UNCHANGED] == len(BUNDLE)
    assert second.changes.written == 0
    assert live.writes() == {}, "no write and not even a dry-run: every object decided locally"
    reads = {k: n for k, n in live.handle.request_counts().items() if k[0] in ("get", "list")}
    kinds = {(o["apiVersion"], o["kind"]) for o in BUNDLE}
    assert sum(n for (verb, _), n in reads.items() if verb == "list") <= len(kinds), reads
    after = {
        (o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
        for o in live.handle.objects()
    }
    assert after == before


def test_a_changed_object_is_configured_and_only_it_is_written(live: Live) -> None:
    first = sync(live.client, [namespace("web"), config_map("a"), config_map("b")])
    live.handle.reset_request_counts()

    second = sync(
        live.client,
        [namespace("web"), config_map("a", data={"k": "new"}), config_map("b")],
        previous=first.inventory,
    )

    assert actions(second) == {
        "core/Namespace/_/web": "unchanged",
        "core/ConfigMap/web/a": "configured",
        "core/ConfigMap/web/b": "unchanged",
    }
    assert sum(live.writes().values()) == 1 + 1, "the changed object: one dry-run, one apply"
    assert live.operator.get("/api/v1/namespaces/web/configmaps/a")["data"] == {"k": "new"}  # type: ignore[index]


def test_removing_an_object_from_the_bundle_prunes_it(live: Live) -> None:
    first = sync(live.client, [namespace("web"), config_map("keep"), deployment("old")])

    second = sync(live.client, [namespace("web"), config_map("keep")], previous=first.inventory)

    assert actions(second)["apps/Deployment/web/old"] == "pruned"
    assert live.operator.get("/apis/apps/v1/namespaces/web/deployments/old") is None
    assert key("apps/Deployment/web/old") not in second.inventory.keys
    assert second.state is SyncState.SYNCED


def test_prune_runs_in_reverse_apply_order(live: Live) -> None:
    first = sync(live.client, [namespace("gone"), config_map("c", ns="gone"), namespace("web")])
    live.handle.reset_request_counts()

    sync(live.client, [namespace("web")], previous=first.inventory)

    deletes = [(r.resource, r.name) for r in live.handle.request_log() if r.verb == "delete"]
    assert deletes == [("configmaps", "c"), ("namespaces", "gone")]


def test_prune_respects_the_keep_annotations_and_releases_those_objects(live: Live) -> None:
    first = sync(
        live.client,
        [
            namespace("web"),
            config_map("kept", annotations={"fleetsync.io/prune": "disabled"}),
            config_map("argo-kept", annotations={"argocd.argoproj.io/sync-options": "Prune=false"}),
            config_map("dropped"),
        ],
    )

    second = sync(live.client, [namespace("web")], previous=first.inventory)

    assert actions(second) == {
        "core/Namespace/_/web": "unchanged",
        "core/ConfigMap/web/kept": "skipped",
        "core/ConfigMap/web/argo-kept": "skipped",
        "core/ConfigMap/web/dropped": "pruned",
    }
    assert live.operator.get("/api/v1/namespaces/web/configmaps/kept") is not None
    assert live.operator.get("/api/v1/namespaces/web/configmaps/argo-kept") is not None
    assert second.inventory.keys == {key("core/Namespace/_/web")}


def test_prune_off_leaves_stale_objects_tracked_and_reports_out_of_sync(live: Live) -> None:
    first = sync(live.client, [namespace("web"), config_map("stale")])

    second = sync(live.client, [namespace("web")], previous=first.inventory, prune=False)

    assert live.operator.get("/api/v1/namespaces/web/configmaps/stale") is not None
    assert key("core/ConfigMap/web/stale") in second.inventory.keys
    assert second.state is SyncState.OUT_OF_SYNC
    assert second.error is None


def test_an_empty_bundle_prunes_nothing_unless_allowed(live: Live) -> None:
    first = sync(live.client, [namespace("web"), config_map("c")])

    refused = sync(live.client, [], previous=first.inventory)

    assert refused.error is not None and "bundle is empty" in str(refused.error)
    assert "allowEmpty" in str(refused.error)
    assert refused.state is SyncState.OUT_OF_SYNC
    assert refused.inventory == first.inventory
    assert live.operator.get("/api/v1/namespaces/web/configmaps/c") is not None

    allowed = sync(live.client, [], previous=first.inventory, allow_empty=True)

    assert allowed.error is None
    assert allowed.changes.count(ChangeAction.PRUNED) == 2
    assert live.operator.get("/api/v1/namespaces/web/configmaps/c") is None
    assert allowed.inventory == Inventory()


def test_an_invalid_object_fails_the_sync_before_anything_is_written(live: Live) -> None:
    sync(live.client, [namespace("web")], app="base")
    live.handle.reset_request_counts()

    result = sync(live.client, [config_map("good"), config_map("Not_Valid"), deployment("api")])

    assert result.state is SyncState.OUT_OF_SYNC
    assert result.error is not None
    assert result.error.key == key("core/ConfigMap/web/Not_Valid")
    assert "dry-run failed: 422" in result.error.message
    assert "Not_Valid" in result.error.message
    assert len(result.changes.failed) == 1
    assert live.operator.get("/api/v1/namespaces/web/configmaps/good") is None
    assert sum(live.writes().values()) == 3, "three dry-runs, nothing else"
    assert read_cluster_inventory(live.client, "web") is None


def test_an_invalid_object_in_a_namespace_the_bundle_creates_stops_before_stage_two(
    live: Live,
) -> None:
    """Objects in a namespace that does not exist yet can only be validated after stage 1."""
    result = sync(live.client, [namespace("web"), config_map("good"), config_map("Not_Valid")])

    assert result.error is not None and result.error.key == key("core/ConfigMap/web/Not_Valid")
    assert actions(result)["core/Namespace/_/web"] == "created"
    assert actions(result)["core/ConfigMap/web/good"] == "skipped"
    assert live.operator.get("/api/v1/namespaces/web/configmaps/good") is None


def test_an_unknown_kind_is_named_with_what_to_do(live: Live) -> None:
    result = sync(live.client, [namespace("web"), widget("w1")])

    assert result.error is not None
    assert result.error.key == key("example.com/Widget/web/w1")
    assert (
        f"kind Widget (example.com/v1) is not served by cluster {live.cluster.name}; "
        "install its CRD or add it to the bundle"
    ) in result.error.message
    assert live.operator.get("/api/v1/namespaces/web") is None, "nothing written"


def test_a_missing_namespace_not_in_the_bundle_is_named(live: Live) -> None:
    result = sync(live.client, [config_map("c", ns="nowhere")])

    assert result.error is not None
    assert result.error.key == key("core/ConfigMap/nowhere/c")
    assert "namespace nowhere does not exist" in result.error.message
    assert "add a Namespace nowhere to the bundle or create it" in result.error.message


def test_a_conflict_with_another_field_manager_is_reported_with_its_name_when_force_is_off(
    live: Live,
) -> None:
    first = sync(live.client, [namespace("web"), deployment("api", replicas=2)])
    path = "/apis/apps/v1/namespaces/web/deployments/api"
    live.operator.apply(
        path,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api"},
            "spec": {"replicas": 5},
        },
        manager="hpa-tuner",
    )

    result = sync(
        live.client,
        [namespace("web"), deployment("api", replicas=2)],
        previous=first.inventory,
        force_conflicts=False,
    )

    assert result.error is not None
    assert result.error.key == key("apps/Deployment/web/api")
    assert "409" in result.error.message and "hpa-tuner" in result.error.message
    assert live.operator.get(path)["spec"]["replicas"] == 5  # type: ignore[index]

    forced = sync(
        live.client, [namespace("web"), deployment("api", replicas=2)], previous=first.inventory
    )

    assert forced.error is None
    assert actions(forced)["apps/Deployment/web/api"] == "configured"
    assert live.operator.get(path)["spec"]["replicas"] == 2  # type: ignore[index]


def test_two_applications_claiming_one_object_neither_takes_nor_deletes_the_other_s(
    live: Live,
) -> None:
    sync(live.client, [namespace("web")], app="base")
    first = sync(live.client, [config_map("shared"), config_map("a-only")], app="a")
    assert first.error is None

    second = sync(live.client, [config_map("shared"), config_map("b-only")], app="b")

    assert second.error is not None
    assert second.error.key == key("core/ConfigMap/web/shared")
    assert "owned by fleetsync application 'a'" in second.error.message
    assert live.operator.get("/api/v1/namespaces/web/configmaps/b-only") is None
    shared = live.operator.get("/api/v1/namespaces/web/configmaps/shared")
    assert shared is not None
    assert shared["metadata"]["annotations"]["fleetsync.io/application"] == "a"

    # Even an inventory that wrongly lists the object never lets b delete it.
    wrong = Inventory.of([{**config_map("shared"), "apiVersion": "v1"}])
    pruning = sync(live.client, [config_map("b-only")], app="b", previous=wrong)

    assert actions(pruning)["core/ConfigMap/web/shared"] == "skipped"
    assert live.operator.get("/api/v1/namespaces/web/configmaps/shared") is not None
    again = sync(
        live.client, [config_map("shared"), config_map("a-only")], app="a", previous=first.inventory
    )
    assert again.changes.counts[ChangeAction.UNCHANGED] == 2


def test_the_inventory_is_mirrored_in_the_cluster(live: Live) -> None:
    result = sync(live.client, [namespace("web"), config_map("c")])

    mirror = live.operator.get(
        f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/{mirror_name('web')}"
    )
    assert mirror is not None
    assert read_cluster_inventory(live.client, "web") == result.inventory
    assert result.inventory.to_mapping() == {
        "core/ConfigMap/web/c": "v1",
        "core/Namespace/_/web": "v1",
    }


def test_a_fresh_engine_without_the_redis_copy_still_prunes_from_the_cluster_copy(
    live: Live,
) -> None:
    sync(live.client, [namespace("web"), config_map("keep"), config_map("drop")])
    client = live.reconnect(live.cache_dir.parent / "fresh-engine-cache")

    result = sync(
        client,
        [namespace("web"), config_map("keep")],
        previous=Inventory(),
        previous_nonempty=False,
    )

    assert actions(result)["core/ConfigMap/web/drop"] == "pruned"
    assert live.operator.get("/api/v1/namespaces/web/configmaps/drop") is None
    assert live.operator.get("/api/v1/namespaces/web/configmaps/keep") is not None
    assert result.inventory.keys == {key("core/Namespace/_/web"), key("core/ConfigMap/web/keep")}


def test_an_empty_bundle_with_only_the_cluster_copy_left_still_prunes_nothing(live: Live) -> None:
    sync(live.client, [namespace("web"), config_map("c")])

    result = sync(live.client, [], previous=Inventory(), previous_nonempty=False)

    assert result.error is not None and "bundle is empty" in result.error.message
    assert live.operator.get("/api/v1/namespaces/web/configmaps/c") is not None


def test_a_lost_cluster_copy_is_rebuilt_from_the_redis_copy(live: Live) -> None:
    first = sync(live.client, [namespace("web"), config_map("keep"), config_map("drop")])
    live.operator.delete(
        f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/{mirror_name('web')}"
    )

    second = sync(live.client, [namespace("web"), config_map("keep")], previous=first.inventory)

    assert actions(second)["core/ConfigMap/web/drop"] == "pruned"
    assert read_cluster_inventory(live.client, "web") == second.inventory


def test_wait_for_waves_stops_at_a_wave_that_never_becomes_healthy(live: Live) -> None:
    sync(live.client, [namespace("web")], app="base")
    live.handle.set_controllers(enabled=True, never_ready=True)

    late = config_map("after-db")
    late["metadata"]["annotations"] = {"fleetsync.io/sync-wave": "1"}

    result = sync(live.client, [deployment("db", wave=0), late], wait_for_waves=True, timeout=1.0)

    assert result.error is not None
    assert result.error.key == key("apps/Deployment/web/db")
    assert "created, then not healthy after 1s" in result.error.message
    assert actions(result)["core/ConfigMap/web/after-db"] == "skipped"
    assert live.operator.get("/api/v1/namespaces/web/configmaps/after-db") is None


def test_wait_for_waves_applies_the_next_wave_once_the_previous_is_healthy(live: Live) -> None:
    sync(live.client, [namespace("web")], app="base")
    late = config_map("after-db")
    late["metadata"]["annotations"] = {"fleetsync.io/sync-wave": "1"}

    result = sync(live.client, [deployment("db", wave=0), late], wait_for_waves=True, timeout=10.0)

    assert result.error is None, result.error
    assert actions(result) == {
        "apps/Deployment/web/db": "created",
        "core/ConfigMap/web/after-db": "created",
    }
    assert result.health is Health.HEALTHY


def test_pruning_a_crd_refreshes_discovery(live: Live) -> None:
    first = sync(live.client, [namespace("web"), widget_crd(), widget("w1")])
    assert first.error is None, first.error

    second = sync(live.client, [namespace("web")], previous=first.inventory)

    assert (
        actions(second)["apiextensions.k8s.io/CustomResourceDefinition/_/widgets.example.com"]
        == "pruned"
    )
    again = sync(live.client, [namespace("web"), widget("w2")], previous=second.inventory)
    assert again.error is not None and "is not served by cluster" in again.error.message


def test_the_namespace_holding_the_inventories_is_never_pruned(live: Live) -> None:
    first = sync(live.client, [namespace("web"), namespace(INVENTORY_NAMESPACE)])

    second = sync(live.client, [namespace("web")], previous=first.inventory)

    assert actions(second)[f"core/Namespace/_/{INVENTORY_NAMESPACE}"] == "skipped"
    assert live.operator.get(f"/api/v1/namespaces/{INVENTORY_NAMESPACE}") is not None


def test_applications_sync_concurrently_through_one_shared_client(live: Live) -> None:
    sync(live.client, [namespace("web")], app="base")
    results: dict[str, SyncResult] = {}

    def run(app: str) -> None:
        results[app] = sync(live.client, [config_map(f"{app}-a"), config_map(f"{app}-b")], app=app)

    threads = [threading.Thread(target=run, args=(f"app{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [f"app{i}" for i in range(6)]
    for app, result in results.items():
        assert result.error is None, result.error
        assert read_cluster_inventory(live.client, app) == result.inventory
        assert live.operator.get(f"/api/v1/namespaces/web/configmaps/{app}-b") is not None


def test_prune_finds_an_object_recorded_under_an_apiversion_no_longer_served(live: Live) -> None:
    sync(live.client, [namespace("web"), deployment("old")])
    recorded_long_ago = Inventory.from_mapping(
        {"core/Namespace/_/web": "v1", "apps/Deployment/web/old": "apps/v1beta1"}
    )

    result = sync(live.client, [namespace("web")], previous=recorded_long_ago)

    assert actions(result)["apps/Deployment/web/old"] == "pruned"
    assert live.operator.get("/apis/apps/v1/namespaces/web/deployments/old") is None


def test_two_manifests_that_meet_once_namespaced_are_refused(live: Live) -> None:
    result = sync(live.client, [namespace("web"), config_map("c"), config_map("c", ns=None)])

    assert result.error is not None
    assert result.error.key == key("core/ConfigMap/web/c")
    assert "declared twice" in result.error.message


def test_a_field_dropped_from_the_manifest_is_removed_from_the_live_object(live: Live) -> None:
    ns = namespace("web")
    sync(live.client, [ns, config_map("settings", data={"keep": "1", "drop": "2"})])
    result = sync(live.client, [ns, config_map("settings", data={"keep": "1"})])
    assert actions(result)["core/ConfigMap/web/settings"] == "configured"
    cm = next(o for o in live.handle.objects() if o["metadata"]["name"] == "settings")
    assert cm["data"] == {"keep": "1"}


def test_a_container_dropped_from_a_deployment_is_removed_from_the_live_object(
    live: Live,
) -> None:
    ns = namespace("web")
    two = deployment("api")
    two["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "s:1"})
    sync(live.client, [ns, two])
    result = sync(live.client, [ns, deployment("api")])
    assert actions(result)["apps/Deployment/web/api"] == "configured"
    api = next(o for o in live.handle.objects() if o["kind"] == "Deployment")
    assert [c["name"] for c in api["spec"]["template"]["spec"]["containers"]] == ["api"]
