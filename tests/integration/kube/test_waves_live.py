"""Sync waves wait, on kubesim and a real API server: a wave is applied only once the earlier
ones are healthy; the sync stops and says what it waits for instead of sleeping, and fails past
its deadline. A LoadBalancer Service is the object whose health the test decides: it is
Progressing until the test writes its address, as a cloud controller would."""

from __future__ import annotations

from typing import Any

from fleetsync.shared.kube.inventory import read_cluster_record
from fleetsync.shared.model import ChangeAction, Health, SyncState
from tests.integration.kube.conftest import Live
from tests.integration.kube.manifests import WAVE, config_map, namespace, sync


def load_balancer(live: Live, name: str, wave: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": live.ns, "annotations": {WAVE: str(wave)}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    }


def give_address(live: Live, name: str) -> None:
    live.operator.merge_patch(
        f"/api/v1/namespaces/{live.ns}/services/{name}/status",
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
    )


def bundle_of(live: Live) -> list[dict[str, Any]]:
    return [
        namespace(live.ns),
        load_balancer(live, "edge", 0),
        config_map("after-edge", live.ns, wave=1),
        config_map("last", live.ns, wave=2),
    ]


def test_a_wave_waits_for_the_earlier_ones_then_goes_on(live: Live) -> None:
    ns = live.ns
    bundle = bundle_of(live)

    waiting = sync(live, bundle)

    assert waiting.error is None
    assert waiting.state is SyncState.OUT_OF_SYNC
    assert waiting.waiting is not None and waiting.waiting.wave == 1
    assert str(waiting.waiting) == (
        f"waiting for wave 1: core/Service/{ns}/edge: Progressing "
        "(waiting for a load balancer address)"
    )
    assert {str(c.key): (c.action, c.message) for c in waiting.changes} == {
        f"core/Namespace/_/{ns}": (ChangeAction.CREATED, ""),
        f"core/Service/{ns}/edge": (ChangeAction.CREATED, ""),
        f"core/ConfigMap/{ns}/after-edge": (ChangeAction.SKIPPED, "waiting for wave 1"),
        f"core/ConfigMap/{ns}/last": (ChangeAction.SKIPPED, "waiting for wave 1"),
    }
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/after-edge") is None
    record = read_cluster_record(live.client, live.app).waves
    assert record is not None and record.wave == 1

    still = sync(live, bundle, previous=waiting.inventory)

    assert still.waiting is not None and still.waiting.since == waiting.waiting.since
    give_address(live, "edge")

    done = sync(live, bundle, previous=still.inventory)

    assert done.error is None and done.waiting is None, done.waiting
    assert done.state is SyncState.SYNCED and done.health is Health.HEALTHY
    assert done.changes.count(ChangeAction.CREATED) == 2, "waves 1 and 2, healthy at once"
    assert read_cluster_record(live.client, live.app).waves is None


def test_a_wave_not_healthy_by_the_deadline_fails_the_sync_naming_it(live: Live) -> None:
    ns = live.ns
    bundle = bundle_of(live)
    first = sync(live, bundle, wave_timeout=60.0)
    assert first.waiting is not None
    since = first.waiting.since
    before = sync(
        live, bundle, previous=first.inventory, wave_timeout=60.0, clock=lambda: since + 59.9
    )
    assert before.error is None and before.waiting is not None, "still waiting just before"
    assert before.waiting.deadline == since + 60.0

    late = sync(
        live, bundle, previous=before.inventory, wave_timeout=60.0, clock=lambda: since + 60.0
    )

    assert late.waiting is None
    assert late.error is not None
    assert late.error.key == live.key(f"core/Service/{ns}/edge")
    assert late.error.message == (
        "wave 1 not applied: earlier waves not healthy after 60s (sync.waveTimeout): "
        f"core/Service/{ns}/edge: Progressing (waiting for a load balancer address)"
    )
    assert read_cluster_record(live.client, live.app).waves is None, "the next sync waits anew"
    again = sync(live, bundle, previous=late.inventory, wave_timeout=60.0)
    assert again.waiting is not None and again.waiting.since > first.waiting.since


def test_nothing_is_pruned_before_the_last_wave_is_applied(live: Live) -> None:
    ns = live.ns
    first = sync(live, [namespace(ns), config_map("old", ns)])
    bundle = [namespace(ns), load_balancer(live, "edge", 0), config_map("new", ns, wave=1)]

    waiting = sync(live, bundle, previous=first.inventory)

    assert waiting.waiting is not None
    assert waiting.changes.count(ChangeAction.PRUNED) == 0
    assert live.operator.get(f"/api/v1/namespaces/{ns}/configmaps/old") is not None
    give_address(live, "edge")

    done = sync(live, bundle, previous=waiting.inventory)

    assert done.changes.action_of(live.key(f"core/ConfigMap/{ns}/old")) is ChangeAction.PRUNED


def test_waves_of_objects_healthy_at_once_are_applied_in_one_sync(live: Live) -> None:
    ns = live.ns
    bundle = [namespace(ns), *(config_map(f"c{w}", ns, wave=w) for w in (2, 0, 1))]

    result = sync(live, bundle)

    assert result.error is None and result.waiting is None
    assert [str(c.key) for c in result.changes] == [
        f"core/Namespace/_/{ns}",
        f"core/ConfigMap/{ns}/c0",
        f"core/ConfigMap/{ns}/c1",
        f"core/ConfigMap/{ns}/c2",
    ]
