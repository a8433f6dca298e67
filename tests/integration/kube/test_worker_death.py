"""kill -9 of an apply worker in the middle of a reconcile: the pair's lease and the task's
in-flight record lapse within seconds, the beat enqueues the reconcile again and another worker
finishes it, instead of the lock's and the broker's timeouts (15 and 60 minutes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fleetsync.scheduler.tick import Ticker
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Fleet, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.reconcile import pair_lock
from tests.integration.kube.conftest import Live, kubesim_only
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.waiting import wait_for

APP = AppName("web")
LEASE_SECONDS = "2"


def _worker(redis_url: str, cache: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            *("-m", "celery", "-A", "fleetsync.workers.app", "worker"),
            *("-Q", "apply", "-P", "threads", "-c", "2", "--loglevel", "WARNING"),
        ],
        env={
            **os.environ,
            "FLEETSYNC_REDIS_URL": redis_url,
            "FLEETSYNC_CACHE_DIR": str(cache),
            "FLEETSYNC_LEASE_SECONDS": LEASE_SECONDS,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@kubesim_only
def test_a_reconcile_killed_with_its_worker_runs_again_within_seconds(
    redis_url: str, live: Live, tmp_path: Path
) -> None:
    cluster = ClusterName(live.cluster.name)
    rt = configure_workers(redis_url, tmp_path / "cache")
    rt.store.lease_seconds = float(LEASE_SECONDS)
    configmaps = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "namespace": "w"}}
        for i in range(3)
    ]
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "w"}}
    bundle = Bundle.of([namespace, *configmaps])
    digest = rt.store.put_bundle(bundle)
    revision = Revision(ref="main", sha="a" * 40)
    rt.store.set_desired(APP, DesiredState(revision, digest, "plain", rendered_at=1.0))
    fleet = Fleet(
        clusters={cluster: live.cluster},
        applications={
            APP: Application(
                name=APP, repository=RepoName("r"), path="web", targets=Targets(clusters=(cluster,))
            )
        },
    )
    rt.store.publish_fleet(fleet, "d1")
    live.sim.set_fault(latency=0.5)  # every request slow: the reconcile takes seconds

    worker = _worker(redis_url, tmp_path / "worker-cache")
    try:
        rt.sender.reconcile(APP, cluster, reason=Trigger.MANUAL)
        wait_for(
            lambda: rt.store.running_tasks() and rt.store.lease_holder(pair_lock(APP, cluster)),
            timeout=60,
            what="the worker process reconciling the pair",
        )
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    killed = time.monotonic()
    assert rt.store.recorded_status(APP, cluster) is None
    live.sim.clear_faults()

    ticker = Ticker(rt.store, rt.sender, fleet_file=None)
    with running_worker(("apply",), concurrency=2):

        def synced() -> bool:
            ticker.tick()
            status = rt.store.recorded_status(APP, cluster)
            return status is not None and status.sync is SyncState.SYNCED

        wait_for(synced, timeout=45, interval=0.3, what="the killed reconcile to run again")
    assert time.monotonic() - killed < 45
    status = rt.store.recorded_status(APP, cluster)
    assert status is not None and status.revision == revision
    assert status.trigger is Trigger.MANUAL, "it ran again as what it was: a manual sync"
    assert rt.store.running_tasks() == []


_THIEF = """
import sys, redis
client = redis.Redis.from_url(sys.argv[1])
taken = client.brpop(["apply", *[f"apply:{p}" for p in range(1, 10)]], timeout=60)
print("taken" if taken else "none", flush=True)
sys.stdin.read()
"""


@kubesim_only
def test_a_message_taken_by_a_worker_killed_before_it_recorded_it_is_sent_again(
    redis_url: str, live: Live, tmp_path: Path
) -> None:
    """The Redis transport takes a message off its queue (BRPOP) and records it as delivered
    (`unacked`) in a second command; a worker killed between the two takes the message with
    it. That instant cannot be hit in a Celery worker on purpose, so a process does what the
    transport's first command does and is killed (SIGKILL) right after: the message is gone
    from Redis for real, only its coalescing mark stays."""
    cluster = ClusterName(live.cluster.name)
    rt = configure_workers(redis_url, tmp_path / "cache")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "w"}}
    digest = rt.store.put_bundle(Bundle.of([namespace]))
    revision = Revision(ref="main", sha="b" * 40)
    rt.store.set_desired(APP, DesiredState(revision, digest, "plain", rendered_at=1.0))
    fleet = Fleet(
        clusters={cluster: live.cluster},
        applications={
            APP: Application(
                name=APP, repository=RepoName("r"), path="web", targets=Targets(clusters=(cluster,))
            )
        },
    )
    rt.store.publish_fleet(fleet, "d1")

    thief = subprocess.Popen(
        [sys.executable, "-c", _THIEF, redis_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert rt.sender.reconcile(APP, cluster, reason=Trigger.MANUAL)
        assert thief.stdout is not None and thief.stdout.readline().strip() == b"taken"
    finally:
        os.killpg(thief.pid, signal.SIGKILL)
        thief.wait()
    assert not rt.sender.reconcile(APP, cluster, reason=Trigger.DRIFT), (
        "the lost message's mark absorbs the pair's next trigger"
    )

    ticker = Ticker(rt.store, rt.sender, fleet_file=None)
    with running_worker(("apply",), concurrency=2):

        def synced() -> bool:
            ticker.tick()
            status = rt.store.recorded_status(APP, cluster)
            return status is not None and status.sync is SyncState.SYNCED

        # LOST_AFTER (10 s) and a tick, where the mark alone held the pair for 5 minutes.
        wait_for(synced, timeout=60, interval=0.3, what="the lost reconcile sent again")
    status = rt.store.recorded_status(APP, cluster)
    assert status is not None and status.revision == revision
    assert status.trigger is Trigger.MANUAL, "it was sent again as what it was: a manual sync"
