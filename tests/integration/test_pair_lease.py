"""A reconcile that finds its pair's lease held does not wait for it: it queues itself again with
a short countdown and its thread is free at once; it runs as soon as the lease is free."""

from __future__ import annotations

from pathlib import Path

from fleetsync.shared.model.declaration import Application, Cluster, Fleet, Targets
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.status import SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.reconcile import pair_lock
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.waiting import wait_for

APP, CLUSTER = AppName("web"), ClusterName("c1")


def test_a_reconcile_of_a_busy_pair_queues_itself_again_instead_of_blocking(
    redis_url: str, tmp_path: Path
) -> None:
    rt = configure_workers(redis_url, tmp_path / "cache")
    fleet = Fleet(
        clusters={CLUSTER: Cluster(name=CLUSTER, kubeconfig=str(tmp_path / "kubeconfig"))},
        applications={
            APP: Application(
                name=APP,
                repository=RepoName("platform"),
                path="web",
                targets=Targets(clusters=(CLUSTER,)),
            )
        },
    )
    rt.store.publish_fleet(fleet, "d1")
    done = "task:reconcile:done"
    with running_worker(("apply",), concurrency=1):
        with rt.store.lease(pair_lock(APP, CLUSTER)) as held:
            assert held is not None
            rt.sender.reconcile(APP, CLUSTER, reason=Trigger.MANUAL)
            wait_for(
                lambda: rt.store.stats().get(done, 0) >= 2,
                timeout=20,
                what="the one worker thread running the reconcile twice while the lease is held",
            )
            assert rt.store.recorded_status(APP, CLUSTER) is None
        status = wait_for(
            lambda: rt.store.recorded_status(APP, CLUSTER), timeout=20, what="the reconcile"
        )
    assert status.sync is SyncState.UNKNOWN and status.trigger is Trigger.MANUAL
    assert status.message == "no desired state yet: waiting for the first render"
