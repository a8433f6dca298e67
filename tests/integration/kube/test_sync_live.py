"""sync_application on kubesim and on a real API server: staged apply, no-op syncs, prune,
refusals, conflicts and CRDs in the bundle."""

from __future__ import annotations

import threading

from fleetsync.shared.kube.inventory import (
    INVENTORY_NAMESPACE,
    Inventory,
    mirror_name,
    read_cluster_inventory,
)
from fleetsync.shared.kube.ownership import APPLICATION_LABEL
from fleetsync.shared.kube.read import MANAGED_SELECTOR
from fleetsync.shared.kube.sync import SyncResult, sync_reads
from fleetsync.shared.model import ChangeAction, SyncState
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import SyncPolicy
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.manifests import (
    config_map,
    deployment,
    namespace,
    service,
    sync,
    widget,
    widget_crd,
)

EMPTY_BUNDLE = (
    "the bundle is empty but the last one was not ({tracked} tracked on this cluster); "
    "nothing pruned (set sync.allowEmpty to let an empty bundle prune everything)"
)


def bundle_of(live: Live) -> list[dict[str, object]]:
    ns, group = live.ns, live.group
    return [
        widget("w1", ns, group),
        deployment("api", ns),
        service("api", ns),
        config_map("settings", ns),
        widget_crd(group),
        namespace(ns),
    ]


def actions(result: SyncResult) -> dict[str, str]:
    return {str(c.key): str(c.action) for c in result.changes}


def cm_path(ns: str, name: str) -> str:
    return f"/api/v1/namespaces/{ns}/configmaps/{name}"


def test_first_sync_creates_everything_in_stage_order_crd_and_its_objects_included(
    live: Live,
) -> None:
    ns, group = live.ns, live.group
    result = sync(live, bundle_of(live))

    assert result.error is None, result.error
    assert result.state is SyncState.SYNCED
    assert [str(c.key) for c in result.changes] == [
        f"core/Namespace/_/{ns}",
        f"apiextensions.k8s.io/CustomResourceDefinition/_/widgets.{group}",
        f"core/ConfigMap/{ns}/settings",
        f"core/Service/{ns}/api",
        f"apps/Deployment/{ns}/api",
        f"{group}/Widget/{ns}/w1",
    ]
    assert {c.action for c in result.changes} == {ChangeAction.CREATED}
    assert result.inventory.keys == {c.key for c in result.changes}
    applies = [c.key for c in live.engine_writes("apply")]
    last_definition = max(
        i for i, k in enumerate(applies) if "/Namespace/" in k or "/CustomResourceDefinition/" in k
    )
    first_workload = min(
        i
        for i, k in enumerate(applies)
        if any(f"/{kind}/" in k for kind in ("ConfigMap", "Deployment", "Widget"))
    )
    assert last_definition < first_workload, "stage 1 is written before anything of stage 2"
    assert live.operator.get(f"/apis/{group}/v1/namespaces/{ns}/widgets/w1") is not None
    assert live.operator.get(f"/apis/apps/v1/namespaces/{ns}/deployments/api") is not None


def test_an_invalid_object_of_a_version_its_crd_starts_serving_stops_before_stage_two(
    live: Live,
) -> None:
    """A Widget kept across a CRD that adds version v2: the Widget, now declared at v2, can
    only be validated once the CRD serves v2, and is, before anything of stage 2 is written,
    though it already exists and is the only deferred object that changes."""
    ns, group = live.ns, live.group
    sync(live, [namespace(ns), widget_crd(group), widget("w1", ns, group), config_map("c", ns)])
    crd = widget_crd(group)
    sized = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
        },
    }
    crd["spec"]["versions"].append(
        {"name": "v2", "served": True, "storage": False, "schema": {"openAPIV3Schema": sized}}
    )
    at_v2 = {**widget("w1", ns, group), "apiVersion": f"{group}/v2", "spec": {"size": "big"}}

    result = sync(live, [namespace(ns), crd, at_v2, config_map("c", ns, data={"k": "changed"})])

    assert result.error is not None
    assert result.error.key == live.key(f"{group}/Widget/{ns}/w1")
    assert actions(result)[f"core/ConfigMap/{ns}/c"] == "skipped"
    assert live.operator.get(cm_path(ns, "c"))["data"] == {"k": "v"}, "stage 2 not written"


def test_applied_objects_carry_the_fleetsync_label_and_application_annotation(live: Live) -> None:
    sync(live, [namespace(live.ns), config_map("settings", live.ns)])
    obj = live.operator.get(cm_path(live.ns, "settings"))
    assert obj is not None
    assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "fleetsync"
    assert obj["metadata"]["annotations"]["fleetsync.io/application"] == live.app
    assert [m["manager"] for m in obj["metadata"]["managedFields"]] == ["fleetsync"]


def test_a_namespaced_object_without_namespace_goes_to_the_application_namespace(
    live: Live,
) -> None:
    result = sync(live, [namespace(live.ns), config_map("plain", None)])
    assert result.error is None, result.error
    assert live.operator.get(cm_path(live.ns, "plain")) is not None
    assert live.key(f"core/ConfigMap/{live.ns}/plain") in result.inventory.keys


def test_second_sync_reports_every_object_unchanged_and_issues_no_write(live: Live) -> None:
    bundle = bundle_of(live)
    first = sync(live, bundle)
    path = cm_path(live.ns, "settings")
    version = live.operator.get(path)["metadata"]["resourceVersion"]  # type: ignore[index]
    live.calls.clear()
    if live.simulated:
        live.sim.reset_request_counts()

    second = sync(live, bundle, previous=first.inventory)

    assert second.error is None and second.state is SyncState.SYNCED
    assert second.changes.counts[ChangeAction.UNCHANGED] == len(bundle)
    assert second.changes.written == 0
    assert live.engine_writes() == [], (
        "no write and not even a dry-run: every object decided locally"
    )
    assert live.operator.get(path)["metadata"]["resourceVersion"] == version  # type: ignore[index]
    if live.simulated:
        assert live.writes() == {}
        reads = {k: n for k, n in live.sim.request_counts().items() if k[0] in ("get", "list")}
        kinds = {(o["apiVersion"], o["kind"]) for o in bundle}
        assert sum(n for (verb, _), n in reads.items() if verb == "list") <= len(kinds), reads


def test_a_changed_object_is_configured_and_only_it_is_written(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("a", ns), config_map("b", ns)])
    live.calls.clear()

    second = sync(
        live,
        [namespace(ns), config_map("a", ns, data={"k": "new"}), config_map("b", ns)],
        previous=first.inventory,
    )

    assert actions(second) == {
        f"core/Namespace/_/{ns}": "unchanged",
        f"core/ConfigMap/{ns}/a": "configured",
        f"core/ConfigMap/{ns}/b": "unchanged",
    }
    assert [(c.verb, c.key) for c in live.engine_writes()] == [
        ("apply", f"core/ConfigMap/{ns}/a"),
    ], "the only changed object: its apply is its validation, no dry-run"
    assert live.operator.get(cm_path(ns, "a"))["data"] == {"k": "new"}  # type: ignore[index]


def test_two_changed_objects_are_both_validated_before_either_is_written(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("a", ns), config_map("b", ns)])
    live.calls.clear()

    second = sync(
        live,
        [namespace(ns), config_map("a", ns, data={"k": "1"}), config_map("b", ns, data={"k": "2"})],
        previous=first.inventory,
    )

    assert second.error is None, second.error
    assert [(c.verb, c.key) for c in live.engine_writes()] == [
        ("dry-run", f"core/ConfigMap/{ns}/a"),
        ("dry-run", f"core/ConfigMap/{ns}/b"),
        ("apply", f"core/ConfigMap/{ns}/a"),
        ("apply", f"core/ConfigMap/{ns}/b"),
    ]


def test_removing_an_object_from_the_bundle_prunes_it(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("keep", ns), deployment("old", ns)])

    second = sync(live, [namespace(ns), config_map("keep", ns)], previous=first.inventory)

    assert actions(second)[f"apps/Deployment/{ns}/old"] == "pruned"
    gone = live.operator.get(f"/apis/apps/v1/namespaces/{ns}/deployments/old")
    assert gone is None or gone["metadata"].get("deletionTimestamp")
    assert live.key(f"apps/Deployment/{ns}/old") not in second.inventory.keys
    assert second.state is SyncState.SYNCED


def test_prune_runs_in_reverse_apply_order(live: Live) -> None:
    ns, gone = live.ns, live.unique("gone")
    first = sync(live, [namespace(gone), config_map("c", gone), namespace(ns)])
    live.calls.clear()

    sync(live, [namespace(ns)], previous=first.inventory)

    assert [c.key for c in live.engine_writes("delete")] == [
        f"core/ConfigMap/{gone}/c",
        f"core/Namespace/_/{gone}",
    ]


def test_prune_respects_the_keep_annotations_and_releases_those_objects(live: Live) -> None:
    ns = live.ns
    first = sync(
        live,
        [
            namespace(ns),
            config_map("kept", ns, annotations={"fleetsync.io/prune": "disabled"}),
            config_map(
                "argo-kept", ns, annotations={"argocd.argoproj.io/sync-options": "Prune=false"}
            ),
            config_map("dropped", ns),
        ],
    )

    second = sync(live, [namespace(ns)], previous=first.inventory)

    assert actions(second) == {
        f"core/Namespace/_/{ns}": "unchanged",
        f"core/ConfigMap/{ns}/kept": "skipped",
        f"core/ConfigMap/{ns}/argo-kept": "skipped",
        f"core/ConfigMap/{ns}/dropped": "pruned",
    }
    assert live.operator.get(cm_path(ns, "kept")) is not None
    assert live.operator.get(cm_path(ns, "argo-kept")) is not None
    assert second.inventory.keys == {live.key(f"core/Namespace/_/{ns}")}


def test_prune_off_leaves_stale_objects_tracked_and_reports_out_of_sync(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("stale", ns)])

    second = sync(live, [namespace(ns)], previous=first.inventory, prune=False)

    assert live.operator.get(cm_path(ns, "stale")) is not None
    assert live.key(f"core/ConfigMap/{ns}/stale") in second.inventory.keys
    assert second.state is SyncState.OUT_OF_SYNC
    assert second.error is None


def test_an_empty_bundle_prunes_nothing_unless_allowed(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("c", ns)])

    refused = sync(live, [], previous=first.inventory)

    assert refused.error is not None and refused.error.key is None
    assert str(refused.error) == EMPTY_BUNDLE.format(tracked="2 objects")
    assert refused.state is SyncState.OUT_OF_SYNC
    assert refused.inventory == first.inventory
    assert live.operator.get(cm_path(ns, "c")) is not None

    allowed = sync(live, [], previous=first.inventory, allow_empty=True)

    assert allowed.error is None
    assert allowed.changes.count(ChangeAction.PRUNED) == 2
    assert live.operator.get(cm_path(ns, "c")) is None
    assert allowed.inventory == Inventory()


def test_an_invalid_object_fails_the_sync_before_anything_is_written(live: Live) -> None:
    ns = live.ns
    sync(live, [namespace(ns)], app=live.app_named("base"))
    live.calls.clear()

    result = sync(
        live, [config_map("good", ns), config_map("Not_Valid", ns), deployment("api", ns)]
    )

    assert result.state is SyncState.OUT_OF_SYNC
    assert result.error is not None
    assert result.error.key == live.key(f"core/ConfigMap/{ns}/Not_Valid")
    assert "dry-run failed: 422" in result.error.message
    assert "Not_Valid" in result.error.message
    assert len(result.changes.failed) == 1
    assert live.operator.get(cm_path(ns, "good")) is None
    assert {c.verb for c in live.engine_writes()} == {"dry-run"}, "dry-runs, nothing else"
    assert read_cluster_inventory(live.client, live.app) is None


def test_an_invalid_object_in_a_namespace_the_bundle_creates_stops_before_stage_two(
    live: Live,
) -> None:
    """Objects in a namespace that does not exist yet can only be validated after stage 1."""
    ns = live.ns
    result = sync(live, [namespace(ns), config_map("good", ns), config_map("Not_Valid", ns)])

    assert result.error is not None
    assert result.error.key == live.key(f"core/ConfigMap/{ns}/Not_Valid")
    assert actions(result)[f"core/Namespace/_/{ns}"] == "created"
    assert actions(result)[f"core/ConfigMap/{ns}/good"] == "skipped"
    assert live.operator.get(cm_path(ns, "good")) is None


def test_an_unknown_kind_is_named_with_what_to_do(live: Live) -> None:
    ns, group = live.ns, live.group
    result = sync(live, [namespace(ns), widget("w1", ns, group)])

    assert result.error is not None
    assert result.error.key == live.key(f"{group}/Widget/{ns}/w1")
    assert (
        f"kind Widget ({group}/v1) is not served by cluster {live.cluster.name}; "
        "install its CRD or add it to the bundle"
    ) in result.error.message
    assert live.operator.get(f"/api/v1/namespaces/{ns}") is None, "nothing written"


def test_an_unknown_kind_is_named_with_every_other_object_the_sync_refuses(live: Live) -> None:
    # Every failure is collected, so one sync names all there is to fix: the unknown kind
    # comes first (the bundle is sorted by key: its group sorts before core's).
    ns, group, nowhere = live.ns, f"a{live.group}", live.unique("nowhere")
    sync(live, [namespace(ns)], app=live.app_named("base"))

    result = sync(
        live,
        [
            widget("w1", ns, group),
            config_map("c", nowhere),
            config_map("Not_Valid", ns),
            config_map("good", ns),
        ],
    )

    failed = {str(c.key): c.message for c in result.changes.failed}
    assert set(failed) == {
        f"{group}/Widget/{ns}/w1",
        f"core/ConfigMap/{nowhere}/c",
        f"core/ConfigMap/{ns}/Not_Valid",
    }
    assert "is not served by cluster" in failed[f"{group}/Widget/{ns}/w1"]
    assert f"namespace {nowhere} does not exist" in failed[f"core/ConfigMap/{nowhere}/c"]
    assert "dry-run failed: 422" in failed[f"core/ConfigMap/{ns}/Not_Valid"]
    assert live.operator.get(cm_path(ns, "good")) is None, "nothing written"


def test_a_missing_namespace_not_in_the_bundle_is_named(live: Live) -> None:
    nowhere = live.unique("nowhere")
    result = sync(live, [config_map("c", nowhere)])

    assert result.error is not None
    assert result.error.key == live.key(f"core/ConfigMap/{nowhere}/c")
    assert result.error.message == (
        f"namespace {nowhere} does not exist on cluster {live.cluster.name} and the bundle does "
        f"not declare it; add a Namespace {nowhere} to the bundle or create it"
    ), "not the application's namespace: sync.createNamespace would not create it"


def test_a_conflict_with_another_field_manager_is_reported_with_its_name_when_force_is_off(
    live: Live,
) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), deployment("api", ns, replicas=2)])
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/api"
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
        live,
        [namespace(ns), deployment("api", ns, replicas=2)],
        previous=first.inventory,
        force_conflicts=False,
    )

    assert result.error is not None
    assert result.error.key == live.key(f"apps/Deployment/{ns}/api")
    assert "409" in result.error.message and "hpa-tuner" in result.error.message
    assert live.operator.get(path)["spec"]["replicas"] == 5  # type: ignore[index]

    forced = sync(
        live, [namespace(ns), deployment("api", ns, replicas=2)], previous=first.inventory
    )

    assert forced.error is None
    assert actions(forced)[f"apps/Deployment/{ns}/api"] == "configured"
    assert live.operator.get(path)["spec"]["replicas"] == 2  # type: ignore[index]


def test_two_applications_claiming_one_object_neither_takes_nor_deletes_the_other_s(
    live: Live,
) -> None:
    ns, a, b = live.ns, live.app_named("a"), live.app_named("b")
    sync(live, [namespace(ns)], app=live.app_named("base"))
    first = sync(live, [config_map("shared", ns), config_map("a-only", ns)], app=a)
    assert first.error is None

    second = sync(live, [config_map("shared", ns), config_map("b-only", ns)], app=b)

    assert second.error is not None
    assert second.error.key == live.key(f"core/ConfigMap/{ns}/shared")
    assert second.error.message == (
        f"conflict: owned by fleetsync application {a!r}; not taken over "
        "(declare it in one application only)"
    )
    assert live.operator.get(cm_path(ns, "b-only")) is None
    shared = live.operator.get(cm_path(ns, "shared"))
    assert shared is not None
    assert shared["metadata"]["annotations"]["fleetsync.io/application"] == a

    # Even an inventory that wrongly lists the object never lets b delete it.
    wrong = Inventory.of([config_map("shared", ns)])
    pruning = sync(live, [config_map("b-only", ns)], app=b, previous=wrong)

    assert actions(pruning)[f"core/ConfigMap/{ns}/shared"] == "skipped"
    assert live.operator.get(cm_path(ns, "shared")) is not None
    again = sync(
        live, [config_map("shared", ns), config_map("a-only", ns)], app=a, previous=first.inventory
    )
    assert again.changes.counts[ChangeAction.UNCHANGED] == 2


def test_the_inventory_is_mirrored_in_the_cluster(live: Live) -> None:
    ns = live.ns
    result = sync(live, [namespace(ns), config_map("c", ns)])

    mirror = live.operator.get(cm_path(INVENTORY_NAMESPACE, mirror_name(live.app)))
    assert mirror is not None
    assert read_cluster_inventory(live.client, live.app) == result.inventory
    assert result.inventory.to_mapping() == {
        f"core/ConfigMap/{ns}/c": "v1",
        f"core/Namespace/_/{ns}": "v1",
    }


def test_a_fresh_engine_without_the_redis_copy_still_prunes_from_the_cluster_copy(
    live: Live,
) -> None:
    ns = live.ns
    sync(live, [namespace(ns), config_map("keep", ns), config_map("drop", ns)])
    live.reconnect(live.cache_dir.parent / "fresh-engine-cache")

    result = sync(
        live, [namespace(ns), config_map("keep", ns)], previous=Inventory(), previous_nonempty=False
    )

    assert actions(result)[f"core/ConfigMap/{ns}/drop"] == "pruned"
    assert live.operator.get(cm_path(ns, "drop")) is None
    assert live.operator.get(cm_path(ns, "keep")) is not None
    assert result.inventory.keys == {
        live.key(f"core/Namespace/_/{ns}"),
        live.key(f"core/ConfigMap/{ns}/keep"),
    }


def test_an_empty_bundle_with_only_the_cluster_copy_left_still_prunes_nothing(live: Live) -> None:
    ns = live.ns
    sync(live, [namespace(ns), config_map("c", ns)])

    result = sync(live, [], previous=Inventory(), previous_nonempty=False)

    assert result.error is not None and str(result.error) == EMPTY_BUNDLE.format(
        tracked="2 objects"
    )
    assert live.operator.get(cm_path(ns, "c")) is not None


def test_an_empty_bundle_after_one_object_counts_it_in_the_singular(live: Live) -> None:
    sync(live, [namespace(live.ns)])

    result = sync(live, [], previous=Inventory(), previous_nonempty=False)

    assert result.error is not None
    assert str(result.error) == EMPTY_BUNDLE.format(tracked="1 object")


def test_an_empty_first_bundle_is_synced_with_nothing_to_do(live: Live) -> None:
    result = sync(live, [], previous=Inventory(), previous_nonempty=False)

    assert result.error is None and result.state is SyncState.SYNCED
    assert list(result.changes) == [] and result.inventory == Inventory()


def test_an_empty_bundle_after_one_that_was_not_is_refused_even_with_nothing_tracked(
    live: Live,
) -> None:
    result = sync(live, [], previous=Inventory(), previous_nonempty=True)

    assert result.error is not None and str(result.error) == EMPTY_BUNDLE.format(
        tracked="0 objects"
    )


def test_a_lost_cluster_copy_is_rebuilt_from_the_redis_copy(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("keep", ns), config_map("drop", ns)])
    live.operator.delete(cm_path(INVENTORY_NAMESPACE, mirror_name(live.app)))

    second = sync(live, [namespace(ns), config_map("keep", ns)], previous=first.inventory)

    assert actions(second)[f"core/ConfigMap/{ns}/drop"] == "pruned"
    assert read_cluster_inventory(live.client, live.app) == second.inventory


def test_pruning_a_crd_refreshes_discovery(live: Live) -> None:
    ns, group = live.ns, live.group
    first = sync(live, [namespace(ns), widget_crd(group), widget("w1", ns, group)])
    assert first.error is None, first.error

    second = sync(live, [namespace(ns)], previous=first.inventory)

    crd = f"apiextensions.k8s.io/CustomResourceDefinition/_/widgets.{group}"
    assert actions(second)[crd] == "pruned"
    assert (
        live.operator.get(
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}"
        )
        is None
        or live.backend == "real"
    )
    again = sync(live, [namespace(ns), widget("w2", ns, group)], previous=second.inventory)
    assert again.error is not None
    assert (
        "is not served by cluster" in again.error.message or "being deleted" in again.error.message
    )


def test_the_namespace_holding_the_inventories_is_never_pruned(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), namespace(INVENTORY_NAMESPACE)])

    second = sync(live, [namespace(ns)], previous=first.inventory)

    assert actions(second)[f"core/Namespace/_/{INVENTORY_NAMESPACE}"] == "skipped"
    assert live.operator.get(f"/api/v1/namespaces/{INVENTORY_NAMESPACE}") is not None


def test_applications_sync_concurrently_through_one_shared_client(live: Live) -> None:
    ns = live.ns
    sync(live, [namespace(ns)], app=live.app_named("base"))
    results: dict[str, SyncResult] = {}

    def run(app: str) -> None:
        results[app] = sync(live, [config_map(f"{app}-a", ns), config_map(f"{app}-b", ns)], app=app)

    apps = [live.app_named(f"app{i}") for i in range(6)]
    threads = [threading.Thread(target=run, args=(app,)) for app in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == sorted(apps)
    for app, result in results.items():
        assert result.error is None, result.error
        assert read_cluster_inventory(live.client, app) == result.inventory
        assert live.operator.get(cm_path(ns, f"{app}-b")) is not None


def test_prune_finds_an_object_recorded_under_an_apiversion_no_longer_served(live: Live) -> None:
    ns = live.ns
    sync(live, [namespace(ns), deployment("old", ns)])
    recorded_long_ago = Inventory.from_mapping(
        {f"core/Namespace/_/{ns}": "v1", f"apps/Deployment/{ns}/old": "apps/v1beta1"}
    )

    result = sync(live, [namespace(ns)], previous=recorded_long_ago)

    assert actions(result)[f"apps/Deployment/{ns}/old"] == "pruned"
    gone = live.operator.get(f"/apis/apps/v1/namespaces/{ns}/deployments/old")
    assert gone is None or gone["metadata"].get("deletionTimestamp")


def test_two_manifests_that_meet_once_namespaced_are_refused(live: Live) -> None:
    ns = live.ns
    result = sync(live, [namespace(ns), config_map("c", ns), config_map("c", None)])

    assert result.error is not None
    assert result.error.key == live.key(f"core/ConfigMap/{ns}/c")
    assert result.error.message == "declared twice in the bundle once namespaced"


def test_a_field_dropped_from_the_manifest_is_removed_from_the_live_object(live: Live) -> None:
    ns = namespace(live.ns)
    sync(live, [ns, config_map("settings", live.ns, data={"keep": "1", "drop": "2"})])
    result = sync(live, [ns, config_map("settings", live.ns, data={"keep": "1"})])
    assert actions(result)[f"core/ConfigMap/{live.ns}/settings"] == "configured"
    assert live.operator.get(cm_path(live.ns, "settings"))["data"] == {"keep": "1"}  # type: ignore[index]


def test_a_container_dropped_from_a_deployment_is_removed_from_the_live_object(
    live: Live,
) -> None:
    ns = namespace(live.ns)
    two = deployment("api", live.ns)
    two["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "s:1"})
    sync(live, [ns, two])
    result = sync(live, [ns, deployment("api", live.ns)])
    assert actions(result)[f"apps/Deployment/{live.ns}/api"] == "configured"
    api = live.operator.get(f"/apis/apps/v1/namespaces/{live.ns}/deployments/api")
    assert api is not None
    assert [c["name"] for c in api["spec"]["template"]["spec"]["containers"]] == ["api"]


@kubesim_only
def test_the_reads_planned_before_the_first_write_are_those_the_sync_makes_first(
    live: Live,
) -> None:
    """The read-ahead plan (`sync_reads`) of a bundle that declares one namespace and uses
    another: the inventory copy, the bundle's Namespaces (one LIST), the namespace it does not
    declare (a GET), a LIST per kind; the sync then makes each of those before its first write."""
    team = live.unique("team")
    objects = [namespace(team), config_map("a", team), config_map("b", live.ns)]
    for name in (live.ns, team):
        live.operator.create("/api/v1/namespaces", namespace(name))
    selector = f"{MANAGED_SELECTOR},{APPLICATION_LABEL}={live.app}"

    reads = sync_reads(
        client=live.client,
        app=live.app,
        bundle=Bundle.of(objects),
        policy=SyncPolicy(),
        namespace=live.ns,
    )

    inventory = f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/{mirror_name(live.app)}"
    assert [r.key for r in reads] == [
        ("get", inventory, ""),
        ("list", "/api/v1/namespaces", selector),
        ("get", f"/api/v1/namespaces/{live.ns}", ""),
        ("list", "/api/v1/configmaps", selector),
    ]
    live.sim.reset_request_counts()
    assert sync(live, objects).error is None
    log = live.sim.request_log()
    first_write = next(i for i, r in enumerate(log) if r.verb not in ("get", "list", "watch"))
    assert {(r.verb, r.resource, r.namespace, r.name) for r in log[:first_write]} >= {
        ("get", "configmaps", INVENTORY_NAMESPACE, mirror_name(live.app)),
        ("list", "namespaces", "", ""),
        ("get", "namespaces", "", live.ns),
        ("list", "configmaps", "", ""),
    }, "each read planned is made before the first write (and more: what the LISTs missed)"
