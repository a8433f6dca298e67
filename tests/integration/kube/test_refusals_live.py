"""Bad input, refused with a clear error naming the object and what to do, on kubesim and a real
API server. Nothing of the bundle is written, and the cluster is not taken for down: the error is
the object's."""

from __future__ import annotations

from typing import Any

from fleetsync.shared.kube.sync import SyncResult
from fleetsync.shared.model import ChangeAction, Health, SyncState
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.corpus import gadget, gadget_crd
from tests.integration.kube.manifests import config_map, deployment, namespace, sync
from tests.support.waiting import wait_for


def refused(result: SyncResult, live: Live, key: str, *, alone: bool = False) -> str:
    """The result failed on `key` alone, wrote nothing, and its message. `alone`: `key` was the
    bundle's only changed object, whose apply (refused) was its validation, with no dry-run."""
    assert result.state is SyncState.OUT_OF_SYNC
    if not alone:
        assert result.health is Health.UNKNOWN and result.objects == (), "nothing assessed"
    assert result.error is not None
    assert result.error.key == live.key(key), result.error
    assert [str(c.key) for c in result.changes.failed] == [key]
    if alone:
        assert [(c.verb, c.key) for c in live.engine_writes()] == [("apply", key)]
    else:
        assert {c.verb for c in live.engine_writes()} <= {"dry-run"}, "nothing written"
    return result.error.message


def with_namespace(live: Live, *objects: dict[str, Any]) -> SyncResult:
    sync(live, [namespace(live.ns)], app=live.app_named("base"))
    live.calls.clear()
    return sync(live, [config_map("settings", live.ns), *objects])


def test_a_wrong_field_type_is_refused_naming_the_field(live: Live) -> None:
    broken = deployment("api", live.ns)
    broken["spec"]["replicas"] = "two"

    message = refused(with_namespace(live, broken), live, f"apps/Deployment/{live.ns}/api")

    assert message.startswith(
        "dry-run failed: 500 Internal Server Error: failed to create typed patch object"
    )
    assert ".spec.replicas: expected numeric (int or float), got string" in message


def test_an_unknown_field_is_refused_under_strict_validation(live: Live) -> None:
    broken = deployment("api", live.ns)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"

    message = refused(with_namespace(live, broken), live, f"apps/Deployment/{live.ns}/api")

    assert (
        '.spec.template.spec.containers[name="api"].imagePullPolcy: field not declared in schema'
        in message
    )


def test_an_immutable_field_change_names_the_field_and_the_way_out(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), deployment("api", ns)])
    moved = deployment("api", ns, labels={"app": "api", "track": "stable"})
    live.calls.clear()

    result = sync(live, [namespace(ns), moved], previous=first.inventory)

    message = refused(result, live, f"apps/Deployment/{ns}/api", alone=True)
    assert message.startswith("spec.selector: cannot be changed in place (422 Invalid: ")
    assert "field is immutable" in message
    assert (
        "set sync.replace: onImmutable to let fleetsync delete and recreate the object" in message
    )
    live_selector = live.operator.get(f"/apis/apps/v1/namespaces/{ns}/deployments/api")
    assert live_selector["spec"]["selector"] == {"matchLabels": {"app": "api"}}  # type: ignore[index]


def test_an_object_changed_alone_into_an_invalid_one_is_refused_and_nothing_is_pruned(
    live: Live,
) -> None:
    """The bundle's only changed object has no dry-run: its apply, refused, is its validation.
    The sync fails as the validation pass would have failed it: naming the object and the
    field, the live object as it was, the object dropped from the bundle not pruned."""
    ns = live.ns
    first = sync(live, [namespace(ns), deployment("api", ns), config_map("old", ns)])
    assert first.error is None, first.error
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/api"
    generation = live.operator.get(path)["metadata"]["generation"]  # type: ignore[index]
    broken = deployment("api", ns, replicas=3)
    broken["spec"]["replicas"] = "three"
    live.calls.clear()

    result = sync(live, [namespace(ns), broken], previous=first.inventory)

    message = refused(result, live, f"apps/Deployment/{ns}/api", alone=True)
    assert message.startswith("apply failed: 500 Internal Server Error: ")
    assert ".spec.replicas: expected numeric (int or float), got string" in message
    after = live.operator.get(path)
    assert after is not None and after["spec"]["replicas"] == 1
    assert after["metadata"]["generation"] == generation, "the spec was not written"
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/old") is not None
    assert result.inventory.keys >= {live.key(f"core/ConfigMap/{ns}/old")}, "still tracked"
    assert result.changes.count(ChangeAction.PRUNED) == 0


def test_a_custom_resource_that_breaks_its_schema_is_refused(live: Live) -> None:
    ns, group = live.ns, live.group
    sync(live, [namespace(ns), gadget_crd(group)], app=live.app_named("base"))
    live.calls.clear()

    wrong_type = sync(live, [gadget(group, ns, "g1", {"size": "big"})])
    out_of_bounds = sync(live, [gadget(group, ns, "g2", {"size": 0, "mode": "z"})])

    message = refused(wrong_type, live, f"{group}/Gadget/{ns}/g1")
    assert ".spec.size: expected numeric (int or float), got string" in message
    message = refused(out_of_bounds, live, f"{group}/Gadget/{ns}/g2")
    assert message.startswith("dry-run failed: 422 Invalid: ")
    assert "spec.size in body should be greater than or equal to 1" in message
    assert 'spec.mode: Unsupported value: "z": supported values: "a", "b"' in message


def test_a_namespace_that_does_not_exist_is_named_with_how_to_create_it(live: Live) -> None:
    result = sync(live, [config_map("settings", live.ns)])

    message = refused(result, live, f"core/ConfigMap/{live.ns}/settings")
    assert message == (
        f"namespace {live.ns} does not exist on cluster {live.cluster.name} and the bundle does "
        f"not declare it; add a Namespace {live.ns} to the bundle or create it, or set "
        "sync.createNamespace: true"
    )
    assert live.engine_writes() == []


def test_a_secret_with_a_key_in_both_data_and_string_data_is_refused(live: Live) -> None:
    """A real server silently keeps the stringData value: fleetsync refuses the ambiguity."""
    both = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": live.ns},
        "data": {"password": "b2xk"},
        "stringData": {"password": "new", "user": "admin"},
    }

    message = refused(with_namespace(live, both), live, f"core/Secret/{live.ns}/creds")

    assert message == (
        "key password is in both data and stringData (the API server would silently keep the "
        "stringData value); keep it in one of them"
    )
    assert "b2xk" not in message and "new" not in message.replace("stringData", "")
    assert live.engine_writes() == [], "refused before any request"


def test_an_object_admission_refuses_is_the_object_s_error_not_the_credentials(live: Live) -> None:
    """Quota admission refuses the second ConfigMap with 403 at apply time: the first is
    applied, the second named, nothing pruned."""
    ns = live.ns
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "few", "namespace": ns},
        "spec": {"hard": {"count/configmaps": "2"}},
    }
    first = sync(live, [namespace(ns), quota])
    assert first.error is None, first.error
    wait_for(
        lambda: (
            (live.operator.get(f"/api/v1/namespaces/{ns}/resourcequotas/few") or {})
            .get("status", {})
            .get("used")
        ),
        what="the quota controller to count the namespace's ConfigMaps",
    )
    live.calls.clear()

    result = sync(
        live,
        [namespace(ns), quota, config_map("a", ns), config_map("b", ns)],
        previous=first.inventory,
    )

    assert result.error is not None
    assert result.error.message.startswith("apply failed: 403 Forbidden: ")
    assert "exceeded quota: few" in result.error.message
    assert "credentials" not in result.error.message
    actions = {str(c.key): c.action for c in result.changes}
    assert ChangeAction.CREATED in actions.values()


def test_the_error_of_several_refused_objects_names_the_first_and_counts_the_others(
    live: Live,
) -> None:
    broken = []
    for name in ("a", "b", "c"):
        bad = deployment(name, live.ns)
        bad["spec"]["replicas"] = "two"
        broken.append(bad)

    result = with_namespace(live, *broken)

    failed = [str(c.key) for c in result.changes.failed]
    assert len(failed) == 3
    assert result.error is not None and str(result.error.key) == failed[0]
    assert result.error.message.endswith(" (2 more objects failed)")
    one_more = with_namespace(live, *broken[:2])
    assert one_more.error is not None
    assert one_more.error.message.endswith(" (1 more object failed)")


FORBIDDEN_PATCH = (
    'apply forbidden (RBAC: configmaps "settings" is forbidden: User "system:serviceaccount:'
    'fleetsync:fleetsync" cannot patch resource "configmaps" in API group "" in the namespace '
    '"{ns}"): the user of kubeconfig {kubeconfig} lacks the "patch" verb on configmaps in '
    "namespace {ns}: grant it"
)


@kubesim_only
def test_a_write_rbac_forbids_is_refused_at_its_dry_run_naming_the_verb_to_grant(
    live: Live,
) -> None:
    sync(live, [namespace(live.ns)], app=live.app_named("base"))
    live.calls.clear()
    live.sim.set_fault(forbidden_writes=(("configmaps", live.ns),))

    result = sync(live, [config_map("settings", live.ns)])

    message = refused(result, live, f"core/ConfigMap/{live.ns}/settings")
    assert message == FORBIDDEN_PATCH.format(ns=live.ns, kubeconfig=live.cluster.kubeconfig)


@kubesim_only
def test_the_only_changed_object_rbac_forbids_is_refused_at_its_apply_as_at_a_dry_run(
    live: Live,
) -> None:
    first = sync(live, [namespace(live.ns), config_map("settings", live.ns)])
    assert first.error is None, first.error
    live.calls.clear()
    live.sim.set_fault(forbidden_writes=(("configmaps", live.ns),))

    changed = config_map("settings", live.ns, data={"mode": "slow"})
    result = sync(live, [namespace(live.ns), changed], previous=first.inventory)

    message = refused(result, live, f"core/ConfigMap/{live.ns}/settings", alone=True)
    assert message == FORBIDDEN_PATCH.format(ns=live.ns, kubeconfig=live.cluster.kubeconfig)
