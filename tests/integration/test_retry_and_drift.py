"""A pending retry never swallows the drift check queued behind it: a pair whose cluster failed
again and again waits minutes for its retry (backoff); the cluster comes back, the beat's next
drift check of the pair must run now, not be coalesced into the retry. Real Redis, a real Celery
worker, a kubesim cluster answering 503 (kubesim's fault)."""

from __future__ import annotations

from pathlib import Path

from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, SyncPolicy, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority
from kubesim import Simulator
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.waiting import wait_for

APP = AppName("web")
CLUSTER = ClusterName("c1")


def _fleet(sim: Simulator) -> Fleet:
    cluster = Cluster(name=CLUSTER, kubeconfig=str(sim.kubeconfig_path(CLUSTER)))
    app = Application(
        name=APP,
        repository=RepoName("platform"),
        path="web",
        namespace="default",
        targets=Targets(clusters=(CLUSTER,)),
        sync=SyncPolicy(drift_interval=60.0),
    )
    return Fleet(clusters={CLUSTER: cluster}, applications={APP: app})


def _desire(store: Store) -> None:
    bundle = Bundle.of(
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "default"},
                "data": {"mode": "blue"},
            }
        ]
    )
    digest = store.put_bundle(bundle)
    store.set_desired(APP, DesiredState(Revision("main", "1" * 40), digest, "plain", 1.0))


def test_a_drift_check_runs_at_once_while_a_retry_waits_out_its_backoff(
    redis_url: str, tmp_path: Path
) -> None:
    with Simulator(clusters=[CLUSTER], kubeconfig_dir=tmp_path / "kubeconfigs") as sim:
        rt = configure_workers(redis_url, tmp_path / "cache")
        store: Store = rt.store
        fleet = _fleet(sim)
        store.publish_fleet(fleet, "digest-1")
        _desire(store)
        sim.cluster(CLUSTER).set_fault(error_rate=1.0, error_code=503)
        for _ in range(8):  # earlier failures in a row: the next retry waits minutes
            store.incr_pair_failures(APP, CLUSTER)
        with running_worker(("apply",), concurrency=2):
            assert rt.sender.reconcile(APP, CLUSTER, reason=Trigger.CHANGE)
            failed = wait_for(
                lambda: store.recorded_status(APP, CLUSTER), what="the failed reconcile's status"
            )
            assert failed.sync is SyncState.UNKNOWN and "503" in failed.message
            wait_for(lambda: store.stats().get("reconcile_failed") == 1, what="the retry scheduled")
            sim.cluster(CLUSTER).clear_faults()
            # The beat's drift check of the pair, as `claim_due(drift)` sends it.
            sent = rt.sender.reconcile(
                APP, CLUSTER, reason=Trigger.DRIFT, priority=Priority.PERIODIC
            )
            assert sent, "the drift check was swallowed by the retry waiting minutes"
            synced = wait_for(
                lambda: (
                    (s := store.recorded_status(APP, CLUSTER)) is not None
                    and s.sync is SyncState.SYNCED
                    and s
                ),
                timeout=30,
                what="the drift check run while the retry waits",
            )
            assert synced.trigger is Trigger.DRIFT
        # Drift checks still coalesce with each other (no worker runs now: none can take the first
        # message, and its mark, before the second is sent).
        assert rt.sender.reconcile(APP, CLUSTER, reason=Trigger.DRIFT)
        assert not rt.sender.reconcile(APP, CLUSTER, reason=Trigger.DRIFT)
