"""`sync.replace: onImmutable`, on kubesim and on a real API server: an object whose immutable
fields changed is deleted (foreground: its dependents first) and created anew, and nothing else
is touched."""

from __future__ import annotations

from typing import Any

from fleetsync.shared.kube.client import ApiResource
from fleetsync.shared.kube.replace import replace_object
from fleetsync.shared.model import ChangeAction, Health, SyncState
from fleetsync.shared.model.declaration import ReplacePolicy
from tests.integration.kube.conftest import Live, kubesim_only, real_only
from tests.integration.kube.manifests import config_map, deployment, namespace, sync
from tests.support.waiting import wait_for


@real_only
def test_a_changed_selector_replaces_the_deployment_and_its_replica_sets_go_first(
    live: Live,
) -> None:
    """Real only: kubesim's Deployments get no ReplicaSets (a known difference)."""
    ns = live.ns
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/api"
    bundle = [namespace(ns), config_map("settings", ns), deployment("api", ns)]
    first = sync(live, bundle)
    old = live.operator.get(path)
    assert old is not None
    wait_for(
        lambda: replica_sets_of(live, old["metadata"]["uid"]),
        what="the Deployment controller to create a ReplicaSet",
    )
    settings = live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/settings")
    moved = deployment("api", ns, labels={"app": "api", "track": "stable"})

    result = sync(
        live,
        [namespace(ns), config_map("settings", ns), moved],
        previous=first.inventory,
        replace=ReplacePolicy.ON_IMMUTABLE,
    )

    assert result.error is None, result.error
    assert result.state is SyncState.SYNCED
    changes = {str(c.key): c for c in result.changes}
    replaced = changes[f"apps/Deployment/{ns}/api"]
    assert (replaced.action, replaced.message) == (
        ChangeAction.REPLACED,
        "spec.selector cannot change in place",
    )
    assert changes[f"core/ConfigMap/{ns}/settings"].action is ChangeAction.UNCHANGED
    new = live.operator.get(path)
    assert new is not None and new["metadata"]["uid"] != old["metadata"]["uid"]
    assert new["spec"]["selector"] == {"matchLabels": {"app": "api", "track": "stable"}}
    assert replica_sets_of(live, old["metadata"]["uid"]) == [], "foreground: dependents went first"
    kept = live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert kept is not None and settings is not None
    assert kept["metadata"]["uid"] == settings["metadata"]["uid"]
    assert [c.verb for c in live.engine_writes("delete")] == ["delete"]


def test_an_immutable_config_map_is_replaced_when_its_data_changes(live: Live) -> None:
    ns = live.ns
    frozen = config_map("frozen", ns, data={"mode": "fast"})
    frozen["immutable"] = True
    first = sync(live, [namespace(ns), frozen])
    changed = config_map("frozen", ns, data={"mode": "slow"})
    changed["immutable"] = True
    live.calls.clear()

    result = sync(
        live, [namespace(ns), changed], previous=first.inventory, replace=ReplacePolicy.ON_IMMUTABLE
    )

    assert result.error is None, result.error
    assert (
        result.changes.action_of(live.key(f"core/ConfigMap/{ns}/frozen")) is ChangeAction.REPLACED
    )
    key = f"core/ConfigMap/{ns}/frozen"
    assert [(c.verb, c.key) for c in live.engine_writes()] == [
        ("apply", key),
        ("delete", key),
        ("apply", key),
    ], "the only changed object: its refused apply found the immutable field, no dry-run"
    live_map = live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/frozen")
    assert live_map is not None and live_map["data"] == {"mode": "slow"}

    again = sync(
        live,
        [namespace(ns), changed],
        previous=result.inventory,
        replace=ReplacePolicy.ON_IMMUTABLE,
    )
    assert {c.action for c in again.changes} == {ChangeAction.UNCHANGED}


def test_without_the_option_nothing_is_deleted(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), deployment("api", ns)])
    old = live.operator.get(f"/apis/apps/v1/namespaces/{ns}/deployments/api")
    moved = deployment("api", ns, labels={"app": "api", "track": "stable"})
    live.calls.clear()

    result = sync(live, [namespace(ns), moved], previous=first.inventory)

    assert result.error is not None and "sync.replace: onImmutable" in result.error.message
    assert live.engine_writes("delete") == []
    still = live.operator.get(f"/apis/apps/v1/namespaces/{ns}/deployments/api")
    assert still is not None and old is not None
    assert still["metadata"]["uid"] == old["metadata"]["uid"]


def replica_sets_of(live: Live, owner_uid: str) -> list[str]:
    listed = live.operator.request("GET", f"/apis/apps/v1/namespaces/{live.ns}/replicasets")
    return [
        rs["metadata"]["name"]
        for rs in listed.get("items") or []
        if any(o.get("uid") == owner_uid for o in rs["metadata"].get("ownerReferences") or [])
    ]


def test_a_replaced_object_that_does_not_go_fails_saying_it_is_still_being_deleted(
    live: Live,
) -> None:
    # A finalizer nobody removes holds the old Deployment after the engine's delete: the wait for
    # it to go ends at the sync's timeout, and the object is not recreated.
    ns = live.ns
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/api"
    first = sync(live, [namespace(ns), deployment("api", ns)])
    live.operator.merge_patch(path, {"metadata": {"finalizers": ["example.com/hold"]}})
    moved = deployment("api", ns, labels={"app": "api", "track": "stable"})
    try:
        result = sync(
            live,
            [namespace(ns), moved],
            previous=first.inventory,
            replace=ReplacePolicy.ON_IMMUTABLE,
            timeout=1.0,
        )
        held = live.operator.get(path)
    finally:
        live.operator.merge_patch(path, {"metadata": {"finalizers": None}})

    change = next(c for c in result.changes if str(c.key) == f"apps/Deployment/{ns}/api")
    assert (change.action, change.message) == (
        ChangeAction.FAILED,
        "replace failed: deleted, then still being deleted after 1s",
    )
    assert held is not None and held["metadata"].get("deletionTimestamp")
    assert held["spec"]["selector"] == {"matchLabels": {"app": "api"}}, "not recreated"


@kubesim_only
def test_a_replace_whose_delete_rbac_forbids_fails_that_object_saying_so(live: Live) -> None:
    # The credentials may read and apply ConfigMaps, not delete them: the object is not
    # replaced, its change says why and what to grant, and the rest of the sync stands.
    ns = live.ns
    frozen = config_map("frozen", ns, data={"mode": "fast"})
    frozen["immutable"] = True
    first = sync(live, [namespace(ns), frozen])
    changed = {**frozen, "data": {"mode": "slow"}}
    live.sim.forbid_deletes("configmaps", namespaces=[ns])
    try:
        result = sync(
            live,
            [namespace(ns), changed],
            previous=first.inventory,
            replace=ReplacePolicy.ON_IMMUTABLE,
        )
    finally:
        live.sim.clear_faults()

    key = f"core/ConfigMap/{ns}/frozen"
    change = next(c for c in result.changes if str(c.key) == key)
    assert change.action is ChangeAction.FAILED
    assert change.message.startswith(f"replace failed: delete: the delete of {key} was forbidden")
    assert change.message.endswith(
        f'the user of kubeconfig {live.cluster.kubeconfig} lacks the "delete" verb on '
        f"configmaps in namespace {ns}: grant it"
    ), change.message
    assert result.error is not None and str(result.error.key) == key
    assert result.state is SyncState.OUT_OF_SYNC
    (seen,) = [o for o in result.objects if str(o.key) == key]
    assert seen.health is Health.HEALTHY, "it is still there, as it was: not reported missing"
    kept = live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/frozen")
    assert kept is not None and kept["data"] == {"mode": "fast"}


def _replacing(live: Live, obj: dict[str, Any], *, timeout: float = 5.0) -> tuple[str | None, Any]:
    resource = live.client.resolve("v1", "ConfigMap")
    key = live.key(f"core/ConfigMap/{live.ns}/{obj['metadata']['name']}")
    return replace_object(live.client, key, resource, obj, force=True, timeout=timeout, live=obj)


def test_a_replaced_object_goes_only_after_its_dependents_one_held_holds_it(live: Live) -> None:
    # Foreground: a dependent that blocks its owner's deletion, held by a finalizer nobody
    # removes, keeps the old object until the replace's timeout; it is not recreated.
    ns = live.ns
    sync(live, [namespace(ns), config_map("frozen", ns)])
    owner = live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/frozen")
    assert owner is not None
    part = f"/api/v1/namespaces/{ns}/configmaps/part"
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "frozen",
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": True,
    }
    live.operator.create(
        f"/api/v1/namespaces/{ns}/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "part",
                "ownerReferences": [reference],
                "finalizers": ["example.com/hold"],
            },
        },
    )
    try:
        problem, seen = _replacing(live, config_map("frozen", ns, data={"mode": "slow"}), timeout=1)
    finally:
        live.operator.merge_patch(part, {"metadata": {"finalizers": None}})

    assert problem == "replace failed: deleted, then still being deleted after 1s"
    assert seen is not None and seen["metadata"]["uid"] == owner["metadata"]["uid"]
    assert seen["metadata"].get("deletionTimestamp")
    assert seen["data"] == {"k": "v"}, "not recreated"


@kubesim_only
def test_a_replace_whose_recreate_rbac_forbids_says_the_object_was_deleted_then_refused(
    live: Live,
) -> None:
    # The credentials lose the right to write ConfigMaps between the delete and the create.
    ns = live.ns
    sync(live, [namespace(ns), config_map("frozen", ns)])
    engine_delete = live.client.delete

    def delete_then_forbid(resource: ApiResource, *, name: str, **kw: Any) -> Any:
        deleted = engine_delete(resource, name=name, **kw)
        live.sim.forbid_writes("configmaps", namespaces=[ns])
        return deleted

    setattr(live.client, "delete", delete_then_forbid)  # noqa: B010
    try:
        problem, seen = _replacing(live, config_map("frozen", ns, data={"mode": "slow"}))
    finally:
        live.sim.clear_faults()

    assert seen is None
    assert problem == (
        'replace failed: deleted, then recreating it was forbidden (RBAC: configmaps "frozen" '
        'is forbidden: User "system:serviceaccount:fleetsync:fleetsync" cannot patch resource '
        f'"configmaps" in API group "" in the namespace "{ns}"): the user of kubeconfig '
        f'{live.cluster.kubeconfig} lacks the "patch" verb on configmaps in namespace {ns}: '
        "grant it"
    )
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/frozen") is None


def test_a_replace_whose_recreate_the_server_refuses_says_the_object_was_deleted_then_why(
    live: Live,
) -> None:
    ns = live.ns
    sync(live, [namespace(ns), config_map("frozen", ns)])
    untyped = config_map("frozen", ns, data={"mode": "slow"})
    untyped["spec"] = {"mode": "slow"}  # no field of a ConfigMap

    problem, seen = _replacing(live, untyped)

    assert seen is None
    assert problem is not None
    assert problem.startswith(
        "replace failed: deleted, then recreating it failed: 500 Internal Server Error: "
        "failed to create typed patch object"
    ), problem
    assert ".spec: field not declared in schema" in problem
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/frozen") is None
