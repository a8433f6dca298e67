"""A reconcile that failed is retried with backoff, and the waiting retry swallows no other
trigger: a drift check or a change of the pair meanwhile is queued at once (the cluster may be
back long before the retry's countdown ends); retries of the pair coalesce among themselves.

Real parts: a redis-server, a Celery worker running fleetsync's reconcile task, a kubesim
cluster that is down (connections closed at once).
"""

from __future__ import annotations

from pathlib import Path

from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender
from fleetsync.workers.app import app
from kubesim import Simulator
from tests.integration.kube.manifests import config_map
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.waiting import wait_for

APP = AppName("web")


def test_a_waiting_retry_does_not_swallow_the_drift_checks_behind_it(
    redis_url: str, tmp_path: Path, kubesim: Simulator
) -> None:
    handle = kubesim.add_cluster(f"retry-{tmp_path.name[-6:]}".lower().replace("_", "-"))
    handle.set_fault(down=True, down_mode="close")
    try:
        configure_workers(redis_url, tmp_path / "cache")
        cluster = Cluster(
            name=ClusterName(handle.name), kubeconfig=str(kubesim.kubeconfig_path(handle.name))
        )
        store = Store.connect(redis_url)
        store.publish_fleet(
            Fleet(
                clusters={cluster.name: cluster},
                applications={
                    APP: Application(
                        name=APP,
                        repository=RepoName("platform"),
                        path="web",
                        namespace="default",
                        targets=Targets(clusters=(cluster.name,)),
                    )
                },
            ),
            "d1",
        )
        digest = store.put_bundle(Bundle.of([config_map("web", "default", data={"v": "1"})]))
        store.set_desired(APP, DesiredState(Revision("main", "1" * 40), digest, "plain", 1.0))
        sender = Sender(app, store)
        retry_mark = store.key(
            "queued", "apply", f"fleetsync.apply.reconcile:{APP}:{cluster.name}:retry"
        )
        with running_worker(("apply",), concurrency=1):
            sender.reconcile(APP, cluster.name, reason=Trigger.CHANGE)
            wait_for(lambda: store.client.exists(retry_mark), timeout=30, what="the retry")
        status = store.recorded_status(APP, cluster.name)
        assert status is not None and status.sync is SyncState.UNKNOWN
        assert sender.reconcile(
            APP, cluster.name, reason=Trigger.DRIFT, priority=Priority.PERIODIC
        ), "the drift check is queued, not swallowed by the waiting retry"
        assert not sender.retry_reconcile(APP, cluster.name, reason=Trigger.CHANGE, countdown=5), (
            "a second retry coalesces with the waiting one"
        )
    finally:
        handle.clear_faults()
        kubesim.remove_cluster(handle.name)
