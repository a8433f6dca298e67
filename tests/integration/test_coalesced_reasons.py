"""A queued reconcile that absorbs a stronger trigger runs for it: `fleetsync suspend` queues a
drift check of every target (at manual priority); a `resume` right after, before that check
started, is absorbed by it, and the check, as it starts, reads the stronger reason its
coalescing mark took over (a change) and applies Git's state, recorded as a change.

Real parts: a redis-server, a Celery worker running fleetsync's reconcile task, a kubesim
cluster; suspend and resume are the operations the CLI and the API call.
"""

from __future__ import annotations

import json
from pathlib import Path

from fleetsync.scheduler.operations import resume, suspend
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, SyncPolicy, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.store import Store
from kubesim import Simulator
from tests.integration.kube.manifests import config_map
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.waiting import wait_for

APP = AppName("web")
CLUSTER = ClusterName("c1")
REV1 = Revision("main", "1" * 40)


def _fleet(sim: Simulator) -> Fleet:
    cluster = Cluster(name=CLUSTER, kubeconfig=str(sim.kubeconfig_path(CLUSTER)))
    app = Application(
        name=APP,
        repository=RepoName("platform"),
        path="web",
        namespace="default",
        targets=Targets(clusters=(CLUSTER,)),
        sync=SyncPolicy(drift_interval=60.0, self_heal=False),  # a drift check only looks
    )
    return Fleet(clusters={CLUSTER: cluster}, applications={APP: app})


def _reconciles(store: Store) -> int:
    stats = store.stats()
    return sum(int(stats.get(f"reconcile_{r}", 0)) for r in ("synced", "out_of_sync", "failed"))


def test_a_resume_absorbed_by_the_queued_check_of_a_suspend_applies_as_a_change(
    redis_url: str, tmp_path: Path
) -> None:
    with Simulator(clusters=[CLUSTER], kubeconfig_dir=tmp_path / "kubeconfigs") as sim:
        rt = configure_workers(redis_url, tmp_path / "cache")
        store: Store = rt.store
        fleet = _fleet(sim)
        store.publish_fleet(fleet, "digest-1")
        bundle = Bundle.of([config_map("settings", "default", data={"mode": "blue"})])
        store.set_desired(APP, DesiredState(REV1, store.put_bundle(bundle), "plain", 1.0))

        suspended = suspend(store, rt.sender, fleet, APP)
        resumed = resume(store, rt.sender, fleet, APP)

        assert [e.queued for e in suspended] == [True]
        assert [e.queued for e in resumed] == [False], "absorbed by the queued check"
        [(_, mark, message)] = store.overdue_queued("apply", after=-60.0)
        assert mark.endswith(" change"), mark
        assert json.loads(message)["kwargs"]["reason"] == "change", "resent as a change if lost"

        with running_worker(("apply",), concurrency=2):
            wait_for(lambda: _reconciles(store) >= 1, timeout=60, what="the reconcile")
        status = store.recorded_status(APP, CLUSTER)
        assert status is not None
        assert (status.sync, status.revision, status.trigger) == (
            SyncState.SYNCED,
            REV1,
            Trigger.CHANGE,
        ), status.message
        assert [h.trigger for h in store.history(APP, CLUSTER)] == [Trigger.CHANGE]
        [live] = [
            o
            for o in sim.cluster(CLUSTER).objects()
            if (o["kind"], o["metadata"]["name"]) == ("ConfigMap", "settings")
        ]
        assert live["data"] == {"mode": "blue"}, "applied"
        assert _reconciles(store) == 1, "one reconcile for both"
