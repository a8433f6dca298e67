"""A CRD and objects of its kind in one bundle, on a real kube-apiserver and on kubesim: the API
server serves a new kind only once the CRD is Established (asynchronously, after the create), so
the engine waits for it before applying the objects. kubesim is given a real server's short
delay here (it establishes at once unless told otherwise)."""

from __future__ import annotations

from typing import Any

from fleetsync.shared.model import ChangeAction, SyncState
from tests.integration.kube.conftest import Live
from tests.integration.kube.manifests import namespace, sync, widget, widget_crd


def _unique_kind(live: Live, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A CRD of a group never seen by this server, and one object of its kind."""
    group = f"k{i}.{live.group}"
    return widget_crd(group), widget("w1", live.ns, group)


def test_objects_of_new_kinds_are_applied_once_their_crds_are_established(live: Live) -> None:
    if live.backend == "kubesim":
        live.sim.set_controllers(enabled=True, ready_delay=0.1, crd_established_delay=0.05)
    ns = live.ns
    kinds = [_unique_kind(live, i) for i in range(6)]
    bundle = [namespace(ns), *(crd for crd, _ in kinds), *(obj for _, obj in kinds)]
    result = sync(live, bundle)
    assert result.error is None, result.error
    assert result.state is SyncState.SYNCED
    created = {str(c.key) for c in result.changes if c.action is ChangeAction.CREATED}
    assert {f"k{i}.{live.group}/Widget/{ns}/w1" for i in range(6)} <= created
