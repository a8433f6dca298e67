"""prune_stale on its own, on kubesim and on a real API server: what is deleted, what is left in
place and released, what is kept tracked to try again, and in which order."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.kube.client import ApiResource, ObjectForbidden, UnknownKindError
from fleetsync.shared.kube.inventory import Inventory
from fleetsync.shared.kube.prune import prune_stale
from fleetsync.shared.model import ChangeAction
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.manifests import config_map, namespace, secret, sync, widget_crd


def cm_path(ns: str, name: str) -> str:
    return f"/api/v1/namespaces/{ns}/configmaps/{name}"


def test_only_what_is_still_this_application_s_is_deleted_and_the_rest_is_released(
    live: Live,
) -> None:
    ns, other = live.ns, live.app_named("other")
    kept = config_map("kept", ns, annotations={"fleetsync.io/prune": "disabled"})
    sync(live, [namespace(ns), config_map("mine", ns), kept])
    sync(live, [config_map("theirs", ns)], app=other)
    live.operator.create(
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "by-hand"}},
    )
    stale = Inventory.from_mapping(
        {
            f"core/ConfigMap/{ns}/mine": "v1",
            f"core/ConfigMap/{ns}/theirs": "v1",
            f"core/ConfigMap/{ns}/by-hand": "v1",
            f"core/ConfigMap/{ns}/kept": "v1",
            f"core/ConfigMap/{ns}/never-there": "v1",
            f"{live.group}/Gizmo/{ns}/unserved": f"{live.group}/v1",
        }
    )

    pruned = prune_stale(live.client, app=live.app, stale=stale)

    assert {str(c.key): (c.action, c.message) for c in pruned.changes} == {
        f"core/ConfigMap/{ns}/mine": (ChangeAction.PRUNED, ""),
        f"core/ConfigMap/{ns}/theirs": (
            ChangeAction.SKIPPED,
            f"owned by fleetsync application {other!r}; left in place",
        ),
        f"core/ConfigMap/{ns}/by-hand": (
            ChangeAction.SKIPPED,
            "not marked as applied by fleetsync; left in place",
        ),
        f"core/ConfigMap/{ns}/kept": (
            ChangeAction.SKIPPED,
            "prune disabled by annotation; left in place",
        ),
        f"core/ConfigMap/{ns}/never-there": (ChangeAction.PRUNED, "already gone"),
        f"{live.group}/Gizmo/{ns}/unserved": (ChangeAction.PRUNED, "already gone"),
    }
    assert pruned.retained == Inventory()
    assert live.operator.get(cm_path(ns, "mine")) is None
    assert live.operator.get(cm_path(ns, "theirs")) is not None
    assert live.operator.get(cm_path(ns, "by-hand")) is not None
    assert live.operator.get(cm_path(ns, "kept")) is not None


def test_objects_whose_wave_was_edited_into_nonsense_are_still_deleted_workloads_first(
    live: Live,
) -> None:
    gone = live.unique("gone")
    first = sync(live, [namespace(gone), config_map("a", gone, wave=1), config_map("b", gone)])
    live.operator.merge_patch(
        cm_path(gone, "a"), {"metadata": {"annotations": {"fleetsync.io/sync-wave": "soon"}}}
    )
    live.calls.clear()

    pruned = prune_stale(live.client, app=live.app, stale=first.inventory)

    assert {c.action for c in pruned.changes} == {ChangeAction.PRUNED}
    assert [c.key for c in live.engine_writes("delete")] == [
        f"core/ConfigMap/{gone}/b",
        f"core/ConfigMap/{gone}/a",
        f"core/Namespace/_/{gone}",
    ]


@kubesim_only
def test_what_the_cluster_refuses_to_show_or_delete_stays_tracked_for_the_next_sync(
    live: Live,
) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("a", ns), config_map("b", ns)])
    stale = first.inventory.without({live.key(f"core/Namespace/_/{ns}")})
    live.sim.set_fault(forbidden=True)
    try:
        pruned = prune_stale(live.client, app=live.app, stale=stale)
    finally:
        live.sim.clear_faults()

    assert sorted(str(c.key) for c in pruned.changes) == [
        f"core/ConfigMap/{ns}/a",
        f"core/ConfigMap/{ns}/b",
    ]
    for change in pruned.changes:
        assert change.action is ChangeAction.FAILED
        assert change.message.startswith("prune failed: ")
    assert pruned.retained == stale
    assert live.operator.get(cm_path(ns, "a")) is not None
    assert live.operator.get(cm_path(ns, "b")) is not None


@kubesim_only
def test_a_delete_refused_after_the_look_up_fails_that_object_only_and_keeps_it_tracked(
    live: Live,
) -> None:
    # Credentials that may read ConfigMaps but not delete them (RBAC without the delete verb):
    # each is found, then its delete is refused; the Secret after them is still deleted.
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("a", ns), config_map("b", ns), secret("s", ns)])
    stale = first.inventory.without({live.key(f"core/Namespace/_/{ns}")})
    live.calls.clear()
    live.sim.forbid_deletes("configmaps", namespaces=[ns])
    try:
        pruned = prune_stale(live.client, app=live.app, stale=stale)
    finally:
        live.sim.clear_faults()

    changes = {str(c.key): (c.action, c.message) for c in pruned.changes}
    assert changes.pop(f"core/Secret/{ns}/s") == (ChangeAction.PRUNED, "")
    assert sorted(changes) == [f"core/ConfigMap/{ns}/a", f"core/ConfigMap/{ns}/b"]
    for key, (action, message) in changes.items():
        assert action is ChangeAction.FAILED
        assert message.startswith(f"prune failed: the delete of {key} was forbidden (RBAC: ")
        assert 'cannot delete resource "configmaps"' in message
        assert message.endswith(
            f'the user of kubeconfig {live.cluster.kubeconfig} lacks the "delete" verb on '
            f"configmaps in namespace {ns}: grant it, or annotate the object "
            '"fleetsync.io/prune: disabled" to '
            "leave it in place"
        ), message
        assert "credentials refused" not in message, "the credentials work: RBAC refused"
    assert pruned.retained == stale.without({live.key(f"core/Secret/{ns}/s")})
    # a refusal does not end the prune: every delete was sent
    assert sorted(c.key for c in live.engine_writes("delete")) == [
        f"core/ConfigMap/{ns}/a",
        f"core/ConfigMap/{ns}/b",
        f"core/Secret/{ns}/s",
    ]
    assert live.operator.get(cm_path(ns, "a")) is not None
    assert live.operator.get(cm_path(ns, "b")) is not None
    assert live.operator.get(f"/api/v1/namespaces/{ns}/secrets/s") is None


@kubesim_only
def test_credentials_the_cluster_refuses_keep_their_own_words_in_a_prune(live: Live) -> None:
    # A 401 is the credentials themselves refused (not RBAC): the prune says so, as any request.
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("a", ns)])
    stale = first.inventory.without({live.key(f"core/Namespace/_/{ns}")})
    live.sim.set_fault(unauthorized=True)
    try:
        pruned = prune_stale(live.client, app=live.app, stale=stale)
    finally:
        live.sim.clear_faults()

    (change,) = pruned.changes
    assert change.action is ChangeAction.FAILED
    assert change.message == (
        f"prune failed: cluster {live.cluster.name}: credentials refused (401 Unauthorized); "
        f"check the user of kubeconfig {live.cluster.kubeconfig}"
    ), change.message
    assert pruned.retained == stale
    assert live.operator.get(cm_path(ns, "a")) is not None
    config_maps = live.client.resolve("v1", "ConfigMap")
    live.sim.set_fault(unauthorized=True)
    try:
        with pytest.raises(PermanentError) as refused:
            live.client.delete(config_maps, name="a", namespace=ns)
    finally:
        live.sim.clear_faults()
    assert not isinstance(refused.value, ObjectForbidden), "a delete refused with 401 too"
    assert "credentials refused (401 Unauthorized)" in str(refused.value)


def test_an_object_deleted_between_its_look_up_and_its_delete_counts_as_already_gone(
    live: Live,
) -> None:
    # Someone deletes "a" by hand after the engine found it and before its own delete reaches
    # the server, which answers that delete 404.
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("a", ns), config_map("b", ns)])
    stale = first.inventory.without({live.key(f"core/Namespace/_/{ns}")})
    live.calls.clear()
    engine_delete = live.client.delete

    def delete_raced(resource: ApiResource, *, name: str, namespace: str = "", **kw: Any) -> Any:
        if name == "a":
            live.operator.delete(cm_path(ns, "a"))
        return engine_delete(resource, name=name, namespace=namespace, **kw)

    setattr(live.client, "delete", delete_raced)  # noqa: B010

    pruned = prune_stale(live.client, app=live.app, stale=stale)

    assert {str(c.key): (c.action, c.message) for c in pruned.changes} == {
        f"core/ConfigMap/{ns}/a": (ChangeAction.PRUNED, "already gone"),
        f"core/ConfigMap/{ns}/b": (ChangeAction.PRUNED, ""),
    }
    assert pruned.retained == Inventory()
    assert len(live.engine_writes("delete")) == 2
    assert live.operator.get(cm_path(ns, "b")) is None


@kubesim_only
def test_a_delete_that_fails_after_the_look_up_fails_that_object_only_in_its_own_words(
    live: Live,
) -> None:
    # The credentials are refused between the engine's look-up of "a" and its delete (rotated
    # by hand); "b" is deleted once they work again.
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("a", ns), config_map("b", ns)])
    stale = first.inventory.without({live.key(f"core/Namespace/_/{ns}")})
    engine_delete = live.client.delete

    def delete_refused(resource: ApiResource, *, name: str, namespace: str = "", **kw: Any) -> Any:
        live.sim.set_fault(unauthorized=name == "a")
        try:
            return engine_delete(resource, name=name, namespace=namespace, **kw)
        finally:
            live.sim.clear_faults()

    setattr(live.client, "delete", delete_refused)  # noqa: B010

    pruned = prune_stale(live.client, app=live.app, stale=stale)

    assert {str(c.key): (c.action, c.message) for c in pruned.changes} == {
        f"core/ConfigMap/{ns}/a": (
            ChangeAction.FAILED,
            f"prune failed: cluster {live.cluster.name}: credentials refused (401 Unauthorized); "
            f"check the user of kubeconfig {live.cluster.kubeconfig}",
        ),
        f"core/ConfigMap/{ns}/b": (ChangeAction.PRUNED, ""),
    }
    assert pruned.retained == stale.without({live.key(f"core/ConfigMap/{ns}/b")})
    assert live.operator.get(cm_path(ns, "a")) is not None


def test_the_namespace_that_holds_fleetsync_s_inventories_is_never_pruned(live: Live) -> None:
    sync(live, [namespace(live.ns), config_map("a", live.ns)])
    home = "core/Namespace/_/fleetsync-system"
    assert live.operator.get("/api/v1/namespaces/fleetsync-system") is not None

    pruned = prune_stale(live.client, app=live.app, stale=Inventory.from_mapping({home: "v1"}))

    assert [(str(c.key), c.action, c.message) for c in pruned.changes] == [
        (
            home,
            ChangeAction.SKIPPED,
            "namespace fleetsync-system holds fleetsync's inventories; left in place",
        )
    ]
    assert pruned.retained == Inventory()
    assert live.operator.get("/api/v1/namespaces/fleetsync-system") is not None


@kubesim_only
def test_a_pruned_crd_s_kind_is_no_longer_resolved_from_what_discovery_said_before(
    live: Live,
) -> None:
    # kubesim stops serving a kind as its CRD is deleted; a real server only once the CRD's
    # objects are cleaned up, after the delete is answered.
    first = sync(live, [widget_crd(live.group), namespace(live.ns), config_map("a", live.ns)])
    assert live.client.resolve(f"{live.group}/v1", "Widget").plural == "widgets"

    pruned = prune_stale(live.client, app=live.app, stale=first.inventory)

    assert [(c.action, c.message) for c in pruned.changes] == [(ChangeAction.PRUNED, "")] * 3
    with pytest.raises(UnknownKindError):
        live.client.resolve(f"{live.group}/v1", "Widget")


def test_a_prune_without_waves_deletes_later_kinds_first_whatever_their_names(
    live: Live,
) -> None:
    gone = live.unique("gone")
    first = sync(
        live,
        [namespace(gone), config_map("a", gone, wave=1), config_map("z", gone), secret("m", gone)],
    )
    live.operator.merge_patch(
        cm_path(gone, "a"), {"metadata": {"annotations": {"fleetsync.io/sync-wave": "soon"}}}
    )
    live.calls.clear()

    pruned = prune_stale(live.client, app=live.app, stale=first.inventory)

    assert {c.action for c in pruned.changes} == {ChangeAction.PRUNED}
    assert [c.key for c in live.engine_writes("delete")] == [
        f"core/ConfigMap/{gone}/z",
        f"core/ConfigMap/{gone}/a",
        f"core/Secret/{gone}/m",
        f"core/Namespace/_/{gone}",
    ]
