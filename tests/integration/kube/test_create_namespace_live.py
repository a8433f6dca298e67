"""`sync.createNamespace` on kubesim and a real API server: the application's namespace is
created when missing, marked as fleetsync's, and never pruned with the application."""

from __future__ import annotations

from fleetsync.shared.model import ChangeAction, SyncState
from tests.integration.kube.conftest import Live
from tests.integration.kube.manifests import config_map, namespace, sync


def test_the_application_namespace_is_created_with_the_objects_in_one_sync(live: Live) -> None:
    ns = live.ns

    result = sync(live, [config_map("settings", ns)], create_namespace=True)

    assert result.error is None, result.error
    assert result.state is SyncState.SYNCED
    assert [(str(c.key), c.action) for c in result.changes] == [
        (f"core/Namespace/_/{ns}", ChangeAction.CREATED),
        (f"core/ConfigMap/{ns}/settings", ChangeAction.CREATED),
    ]
    created = live.operator.get(f"/api/v1/namespaces/{ns}")
    assert created is not None
    assert created["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "fleetsync"
    assert created["metadata"]["annotations"]["fleetsync.io/created-for"] == live.app
    assert result.inventory.keys == {live.key(f"core/ConfigMap/{ns}/settings")}, (
        "the namespace is not the application's to prune"
    )


def test_an_existing_namespace_is_left_as_it_is(live: Live) -> None:
    ns = live.ns
    sync(live, [namespace(ns)], app=live.app_named("owner"))
    live.calls.clear()

    result = sync(live, [config_map("settings", ns)], create_namespace=True)

    assert result.error is None, result.error
    assert result.changes.action_of(live.key(f"core/Namespace/_/{ns}")) is ChangeAction.UNCHANGED
    assert [c.key for c in live.engine_writes("apply", "dry-run")] == [
        f"core/ConfigMap/{ns}/settings",
        f"core/ConfigMap/{ns}/settings",
    ]
    owned = live.operator.get(f"/api/v1/namespaces/{ns}")
    assert owned is not None
    assert owned["metadata"]["annotations"]["fleetsync.io/application"] == live.app_named("owner")


def test_the_created_namespace_is_never_pruned_even_when_the_bundle_once_declared_it(
    live: Live,
) -> None:
    ns = live.ns
    declared = sync(live, [namespace(ns), config_map("a", ns)])
    assert live.key(f"core/Namespace/_/{ns}") in declared.inventory.keys

    provided = sync(live, [config_map("a", ns)], previous=declared.inventory, create_namespace=True)

    assert provided.error is None, provided.error
    assert live.key(f"core/Namespace/_/{ns}") not in provided.inventory.keys
    assert provided.changes.count(ChangeAction.PRUNED) == 0

    emptied = sync(live, [], previous=provided.inventory, create_namespace=True, allow_empty=True)

    assert [str(c.key) for c in emptied.changes if c.action is ChangeAction.PRUNED] == [
        f"core/ConfigMap/{ns}/a"
    ]
    still = live.operator.get(f"/api/v1/namespaces/{ns}")
    assert still is not None and not still["metadata"].get("deletionTimestamp")
