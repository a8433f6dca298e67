"""A reconcile talks to Redis in two round trips: one that reads everything it needs (the task's
coalescing mark, the fleet's digest, its in-flight record, the pair's lease, status, desired
state, pin, suspension, inventory, rollout, freeze, failures) and one that writes its outcome
(status, history, revision index, cells, inventory, failure counter, counters, the lease's
release, the in-flight record's end).

Counted on a real redis-server, with a real Celery worker running fleetsync's reconcile task
against a kubesim cluster: every packet the worker's store sends is one round trip (a pipeline
is sent as one), counted by a connection class that counts what it sends (the only stand-in in
this test: it forwards every command to the server unchanged).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.connection

from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender
from fleetsync.workers.app import app
from kubesim import Simulator
from tests.integration.kube.manifests import config_map
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.waiting import wait_for

APP = AppName("web")
REV1 = Revision(ref="main", sha="1" * 40)
REV2 = Revision(ref="main", sha="2" * 40)


class _Sent:
    """Round trips sent by task threads (the keeper thread's renewals are not the reconcile's)."""

    count = 0
    lock = threading.Lock()


class CountingConnection(redis.connection.Connection):
    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if threading.current_thread().name != "fleetsync-keeper":
            with _Sent.lock:
                _Sent.count += 1
        super().send_packed_command(command, check_health)


@pytest.fixture
def cluster(kubesim: Simulator, tmp_path: Path) -> Iterator[Cluster]:
    handle = kubesim.add_cluster(f"rt-{tmp_path.name[-8:]}".lower().replace("_", "-"))
    yield Cluster(
        name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
    )
    kubesim.remove_cluster(handle.name)


def _desire(
    store: Store, revision: Revision, value: str, *, variant_of: ClusterName | None = None
) -> None:
    bundle = Bundle.of([config_map("settings", "default", data={"value": value})])
    digest = store.put_bundle(bundle)
    if variant_of is None:
        store.set_desired(APP, DesiredState(revision, digest, "plain", rendered_at=1.0))
        return
    state = DesiredState(revision, Digest("set-" + digest), "plain", rendered_at=1.0, variants=1)
    store.set_desired_variants(APP, state, {variant_of: digest})


@pytest.mark.parametrize("varies", [False, True], ids=["one-bundle", "per-cluster-variants"])
def test_a_reconcile_reads_in_one_round_trip_and_writes_in_another(
    redis_url: str, tmp_path: Path, cluster: Cluster, varies: bool
) -> None:
    rt = configure_workers(redis_url, tmp_path / "cache")
    pool = rt.store.client.connection_pool
    pool.connection_class = CountingConnection
    pool.reset()
    store = Store.connect(redis_url)  # the test's own: not counted
    sender = Sender(app, store)
    fleet = Fleet(
        clusters={cluster.name: cluster},
        applications={
            APP: Application(
                name=APP,
                repository=RepoName("platform"),
                path="web",
                namespace="default",
                targets=Targets(clusters=(cluster.name,)),
                substitute=varies,
            )
        },
    )
    store.publish_fleet(fleet, "d1")
    variant_of = cluster.name if varies else None
    # Bundles of their own: the worker process caches bundles by digest across the tests, and
    # another test of the same run may have desired the same ConfigMap.
    suffix = f"-{tmp_path.name}"
    _desire(store, REV1, "one" + suffix, variant_of=variant_of)

    def run(trigger: Trigger, runs: int) -> int:
        before = _Sent.count
        sender.reconcile(APP, cluster.name, reason=trigger)
        wait_for(
            lambda: store.stats().get("task:reconcile:done", 0) >= runs,
            timeout=30,
            what=f"reconcile number {runs}",
        )
        return _Sent.count - before

    with running_worker(("apply",), concurrency=1):
        run(Trigger.MANUAL, 1)  # the first: discovery, the bundle read once per process
        drift = run(Trigger.DRIFT, 2)
        status = store.recorded_status(APP, cluster.name)
        assert status is not None and status.sync is SyncState.SYNCED
        _desire(store, REV2, "two" + suffix, variant_of=variant_of)
        change = run(Trigger.CHANGE, 3)
        again = run(Trigger.DRIFT, 4)

    status = store.recorded_status(APP, cluster.name)
    assert status is not None and status.revision == REV2 and status.sync is SyncState.SYNCED
    assert [h.trigger for h in store.history(APP, cluster.name)][:2] == [
        Trigger.CHANGE,
        Trigger.MANUAL,
    ], "history kept what happened (the quiet drift checks left out), newest first"
    assert store.inventory(APP, cluster.name) is not None
    assert store.stats()["reconcile_synced"] == 4
    assert store.lease_holder(f"reconcile:{APP}:{cluster.name}") is False
    assert store.running_tasks() == []
    assert (drift, change, again) == (2, 3, 2), (
        "a reconcile: one round trip to read, one to write (a new bundle: one more, once "
        "per process)"
    )
