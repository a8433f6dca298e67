"""A CRD that takes a full second to be Established (kubesim's `crd_established_delay`): the
objects of its kind in the same bundle are applied once it is, every time. On a real server the
delay is shorter and varies (test_crd_established.py), too short to catch an engine that does
not wait every time."""

from __future__ import annotations

from fleetsync.shared.kube.wait import Watched, wait_established
from fleetsync.shared.model import ChangeAction, ResourceKey
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.manifests import (
    config_map,
    namespace,
    sync,
    widget,
    widget_crd,
    widget_path,
)


@kubesim_only
def test_objects_of_a_new_kind_wait_for_a_crd_that_takes_a_second_to_be_established(
    live: Live,
) -> None:
    live.sim.set_controllers(enabled=True, ready_delay=0.1, crd_established_delay=1.0)
    result = sync(
        live, [namespace(live.ns), widget_crd(live.group), widget("w1", live.ns, live.group)]
    )
    assert result.error is None, result.error
    created = {str(c.key) for c in result.changes if c.action is ChangeAction.CREATED}
    assert f"{live.group}/Widget/{live.ns}/w1" in created
    assert live.operator.get(widget_path(live.ns, live.group, "w1")) is not None


@kubesim_only
def test_a_crd_not_established_in_time_fails_and_the_objects_after_it_are_skipped(
    live: Live,
) -> None:
    live.sim.set_controllers(enabled=True, ready_delay=0.1, crd_established_delay=600.0)
    crd = widget_crd(live.group)
    result = sync(live, [namespace(live.ns), crd, widget("w1", live.ns, live.group)], timeout=0.5)

    changes = {str(c.key): (c.action, c.message) for c in result.changes}
    action, message = changes[
        f"apiextensions.k8s.io/CustomResourceDefinition/_/{crd['metadata']['name']}"
    ]
    assert action is ChangeAction.FAILED
    assert message.startswith("created, then not Established after 0.5s (")
    action, message = changes[f"{live.group}/Widget/{live.ns}/w1"]
    assert action is ChangeAction.SKIPPED and message.startswith("not applied: step ")
    assert (
        result.error is not None
        and result.error.message
        == changes[f"apiextensions.k8s.io/CustomResourceDefinition/_/{crd['metadata']['name']}"][1]
    )
    assert live.operator.get(widget_path(live.ns, live.group, "w1")) is None


@kubesim_only
def test_a_failed_step_reports_every_object_of_every_later_step_not_applied(
    live: Live,
) -> None:
    live.sim.set_controllers(enabled=True, ready_delay=0.1, crd_established_delay=600.0)
    crd = widget_crd(live.group)
    ns = live.ns
    objects = [
        namespace(ns),
        crd,
        widget("w1", ns, live.group),
        config_map("first", ns, wave=1),
        config_map("second", ns, wave=2),
    ]

    result = sync(live, objects, timeout=0.5)

    skipped = "not applied: step stage 1 wave 0 failed"
    assert [(str(c.key), c.action, c.message) for c in result.changes] == [
        (f"core/Namespace/_/{ns}", ChangeAction.CREATED, ""),
        (
            f"apiextensions.k8s.io/CustomResourceDefinition/_/{crd['metadata']['name']}",
            ChangeAction.FAILED,
            result.error.message if result.error else "no error",
        ),
        (f"{live.group}/Widget/{ns}/w1", ChangeAction.SKIPPED, skipped),
        (f"core/ConfigMap/{ns}/first", ChangeAction.SKIPPED, skipped),
        (f"core/ConfigMap/{ns}/second", ChangeAction.SKIPPED, skipped),
    ]


@kubesim_only
def test_an_object_of_a_new_kind_that_fails_validation_stops_the_sync_before_stage_two(
    live: Live,
) -> None:
    """Deferred until its CRD is applied, it is validated before the first stage-2 write."""
    live.sim.set_controllers(enabled=True, ready_delay=0.1, crd_established_delay=0.0)
    crd = widget_crd(live.group)
    ns = live.ns
    objects = [namespace(ns), crd, config_map("settings", ns), widget("Bad_Name", ns, live.group)]

    result = sync(live, objects)

    bad = f"{live.group}/Widget/{ns}/Bad_Name"
    changes = [(str(c.key), c.action, c.message) for c in result.changes]
    assert changes[:2] == [
        (f"core/Namespace/_/{ns}", ChangeAction.CREATED, ""),
        (
            f"apiextensions.k8s.io/CustomResourceDefinition/_/widgets.{live.group}",
            ChangeAction.CREATED,
            "",
        ),
    ]
    assert changes[2][:2] == (bad, ChangeAction.FAILED)
    assert changes[2][2].startswith(
        f'dry-run failed: 422 Invalid: Widget.{live.group} "Bad_Name" is invalid: metadata.name: '
    )
    assert changes[3:] == [
        (
            f"core/ConfigMap/{ns}/settings",
            ChangeAction.SKIPPED,
            "not applied: a deferred object failed validation",
        )
    ]
    assert result.error is not None and str(result.error.key) == bad
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/settings") is None


def _applied_crds(live: Live, *plurals: str) -> list[Watched]:
    """CRDs of this test's group applied by the engine, as the wait is given them."""
    resource = live.client.resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    watched = []
    for plural in plurals:
        crd = widget_crd(live.group)
        crd["metadata"]["name"] = f"{plural}.{live.group}"
        crd["spec"]["names"] = {"kind": plural.title()[:-1], "plural": plural}
        applied = live.client.apply(resource, crd, force=True)
        watched.append((ResourceKey.of(applied), resource, applied))
    return watched


@kubesim_only
def test_of_crds_not_established_in_time_the_first_is_named(live: Live) -> None:
    live.sim.set_controllers(enabled=True, ready_delay=0.1, crd_established_delay=600.0)
    first, second = _applied_crds(live, "widgets", "gizmos")

    waited = wait_established(live.client, [first, second], timeout=0.3)

    assert waited.problem == (
        first[0],
        "not Established after 0.3s (Progressing: waiting for the CRD to be established)",
    )
    assert set(waited.seen) == {first[0], second[0]}
