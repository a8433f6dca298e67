"""Sync waves: when a staged apply stops before a wave, and how long it waits."""

from __future__ import annotations

from typing import Any

from fleetsync.shared.kube.apply import with_waves
from fleetsync.shared.kube.health import ClusterFacts, ObjectHealth, describe_unhealthy
from fleetsync.shared.kube.plan import plan_apply
from fleetsync.shared.kube.waves import (
    WaveProgress,
    WaveWait,
    since_when,
    stop_before,
    waves_of,
)
from fleetsync.shared.model import Health, ResourceKey


def obj(kind: str, name: str, wave: int, **status: Any) -> dict[str, Any]:
    api = {"Deployment": "apps/v1", "Namespace": "v1"}.get(kind, "v1")
    metadata: dict[str, Any] = {"name": name, "annotations": {"fleetsync.io/sync-wave": str(wave)}}
    if kind != "Namespace":
        metadata["namespace"] = "web"
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "status": status}


READY = {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}


def live_of(*objects: dict[str, Any]) -> dict[ResourceKey, dict[str, Any]]:
    return {ResourceKey.of(o): o for o in objects}


def test_a_wave_after_the_first_stops_while_an_earlier_object_is_not_healthy() -> None:
    db = obj("Deployment", "db", 0)
    db["spec"] = {"replicas": 1}
    app = obj("ConfigMap", "app", 1)
    steps = plan_apply([obj("Namespace", "web", -5), db, app])
    waves = waves_of(steps)
    assert waves == (0, 1), "stage 1 waves are not waited on"
    first, second = (s for s in steps if s.objects[0]["kind"] != "Namespace")

    assert stop_before(first, [], live_of(db), waves=waves) is None
    stop = stop_before(second, [ResourceKey.of(db)], live_of(db), waves=waves)

    assert stop is not None and stop.wave == 1
    assert [(str(o.key), o.health) for o in stop.unhealthy] == [
        ("apps/Deployment/web/db", Health.PROGRESSING)
    ]
    healthy = {**db, "status": READY}
    assert stop_before(second, [ResourceKey.of(db)], live_of(healthy), waves=waves) is None


def test_a_bundle_in_one_wave_never_stops() -> None:
    db = obj("Deployment", "db", 3)
    steps = plan_apply([db, obj("ConfigMap", "app", 3)])
    assert all(
        stop_before(s, [ResourceKey.of(db)], live_of(db), waves=waves_of(steps)) is None
        for s in steps
    )


def test_a_wait_begins_at_the_recorded_moment_for_the_same_bundle_and_wave_only() -> None:
    record = WaveProgress(bundle="abc", wave=2, since=100.0)
    assert since_when(record, bundle="abc", wave=2, now=500.0) == 100.0
    assert since_when(record, bundle="abc", wave=3, now=500.0) == 500.0
    assert since_when(record, bundle="def", wave=2, now=500.0) == 500.0
    assert since_when(None, bundle="abc", wave=2, now=500.0) == 500.0
    assert WaveProgress.from_json(record.to_json()) == record
    assert WaveProgress.from_json({"bundle": "abc"}) is None
    assert WaveProgress.from_json("nonsense") is None


def test_a_waiting_sync_looks_again_soon_then_less_often_and_never_past_the_deadline() -> None:
    wait = WaveWait(wave=1, unhealthy=(), since=1000.0, deadline=1600.0)
    assert wait.recheck_in(1000.0) == 2.0
    assert wait.recheck_in(1020.0) == 5.0
    assert wait.recheck_in(1300.0) == 15.0
    assert wait.recheck_in(1595.0) == 5.5
    assert wait.recheck_in(1700.0) == 0.5


def test_a_gate_s_waves_become_empty_steps_between_the_objects_waves() -> None:
    steps = plan_apply(
        [obj("Namespace", "web", 7), obj("ConfigMap", "a", 0), obj("ConfigMap", "b", 2)]
    )

    walked = with_waves(steps, [-1, 1, 2, 3])

    assert [(int(s.stage), s.wave, len(s.objects)) for s in walked] == [
        (1, 7, 1),
        (2, -1, 0),
        (2, 0, 1),
        (2, 1, 0),
        (2, 2, 1),
        (2, 3, 0),
    ]
    assert waves_of(walked) == (-1, 0, 1, 2, 3)


def test_a_suspended_earlier_object_lets_the_next_wave_go_and_a_missing_one_does_not() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "web"},
        "spec": {"suspend": True},
    }
    app = obj("ConfigMap", "app", 1)
    steps = plan_apply([job, app])
    later = steps[-1]
    waves = (0, 1)
    assert stop_before(later, [ResourceKey.of(job)], live_of(job), waves=waves) is None
    stop = stop_before(later, [ResourceKey.of(job)], {}, waves=waves)
    assert stop is not None
    assert [(str(o.key), o.health) for o in stop.unhealthy] == [
        ("batch/CronJob/web/nightly", Health.MISSING)
    ]


def test_stage_one_and_the_first_wave_never_wait() -> None:
    db = obj("Deployment", "db", 0)
    db["spec"] = {"replicas": 1}
    namespace = obj("Namespace", "web", 5)
    steps = plan_apply([namespace, db, obj("ConfigMap", "app", 1)])
    definitions = steps[0]
    assert definitions.objects == (namespace,)
    unhealthy = [ResourceKey.of(db)]
    assert stop_before(definitions, unhealthy, live_of(db), waves=(0, 1)) is None
    assert stop_before(steps[1], unhealthy, live_of(db), waves=(-3, 0, 1)) is not None
    assert stop_before(steps[1], unhealthy, live_of(db), waves=(0, 1)) is None


def test_a_wait_names_the_first_three_objects_it_waits_for_and_counts_the_rest() -> None:
    keys = [ResourceKey.parse(f"apps/Deployment/web/d{i}") for i in range(5)]
    unhealthy = tuple(
        ObjectHealth(key, Health.PROGRESSING, "0 of 1 updated" if i else "")
        for i, key in enumerate(keys)
    )
    wait = WaveWait(wave=2, unhealthy=unhealthy, since=0.0, deadline=60.0)
    assert str(wait) == (
        "waiting for wave 2: apps/Deployment/web/d0: Progressing; "
        "apps/Deployment/web/d1: Progressing (0 of 1 updated); "
        "apps/Deployment/web/d2: Progressing (0 of 1 updated); 2 more not healthy"
    )
    shown = describe_unhealthy(unhealthy[:3])
    assert shown == describe_unhealthy(unhealthy)[: -len("; 2 more not healthy")]
    assert describe_unhealthy(unhealthy, shown=1).endswith("; 4 more not healthy")


def test_a_record_that_is_not_one_is_no_record() -> None:
    assert WaveProgress.from_json({"bundle": "abc", "wave": "two", "since": 1.0}) is None
    assert WaveProgress.from_json({"bundle": "abc", "wave": 2, "since": None}) is None
    assert WaveProgress.from_json(None) is None
    assert WaveProgress.from_json({"bundle": 7, "wave": "2", "since": "1.5"}) == WaveProgress(
        bundle="7", wave=2, since=1.5
    )


def test_a_claim_that_binds_on_first_use_lets_the_wave_of_its_consumer_go() -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "web"},
        "spec": {"storageClassName": "local"},
        "status": {"phase": "Pending"},
    }
    consumer = obj("Deployment", "db", 1)
    steps = plan_apply([claim, consumer])
    earlier = [ResourceKey.of(claim)]
    facts = ClusterFacts(first_consumer_classes=frozenset({"local"}))
    assert stop_before(steps[-1], earlier, live_of(claim), waves=(0, 1), facts=facts) is None
    assert stop_before(steps[-1], earlier, live_of(claim), waves=(0, 1)) is not None
