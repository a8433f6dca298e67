"""A CRD that takes a full second to be Established (kubesim's `crd_established_delay`): the
objects of its kind in the same bundle are applied once it is, every time. On a real server the
delay is shorter and varies (test_crd_established.py), too short to catch an engine that does
not wait every time."""

from __future__ import annotations

from fleetsync.shared.model import ChangeAction
from tests.integration.kube.conftest import Live, kubesim_only
from tests.integration.kube.manifests import namespace, sync, widget, widget_crd, widget_path


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
