"""A hanging cluster never holds every apply thread: at most `cluster_threads` of a worker's
threads work on one cluster, the cluster's other tasks are queued again with a countdown, and
the healthy clusters' pairs converge while it hangs. Also: a cluster that accepts no connection
is given up on after the connect timeout, shorter than a request's.

Real parts: a redis-server, a Celery worker (threads) running fleetsync's reconcile task, and
kubesim clusters over HTTP, one of them hanging (kubesim's `down_mode=hang`: connections
accepted, never answered); a listening socket whose backlog is full for the connect timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.shared.errors import TransientError
from fleetsync.shared.kube.client import CONNECT_TIMEOUT, connect
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, Targets
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.reconcile import REQUEST_TIMEOUT
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender
from fleetsync.workers import runtime as worker_runtime
from fleetsync.workers.app import app
from kubesim import Simulator
from tests.integration.kube.manifests import config_map
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.waiting import wait_for

REV = Revision(ref="main", sha="1" * 40)
APPS = [AppName(f"app-{i}") for i in range(6)]


@pytest.fixture
def clusters(kubesim: Simulator, tmp_path: Path) -> Iterator[tuple[Cluster, Cluster]]:
    suffix = tmp_path.name[-6:].lower().replace("_", "-")
    hanging, healthy = (kubesim.add_cluster(f"{n}-{suffix}") for n in ("hang", "ok"))
    hanging.set_fault(down=True, down_mode="hang")
    yield tuple(  # type: ignore[misc]
        Cluster(name=ClusterName(h.name), kubeconfig=str(kubesim.kubeconfig_path(h.name)))
        for h in (hanging, healthy)
    )
    for handle in (hanging, healthy):
        handle.clear_faults()
        kubesim.remove_cluster(handle.name)


def test_a_hanging_cluster_holds_one_thread_and_the_healthy_pairs_converge_meanwhile(
    redis_url: str, tmp_path: Path, clusters: tuple[Cluster, Cluster]
) -> None:
    hanging, healthy = clusters
    configure_workers(redis_url, tmp_path / "cache")
    rt = worker_runtime.configure(
        Settings(redis_url=redis_url, cache_dir=tmp_path / "cache", cluster_threads=1)
    )
    store = Store.connect(redis_url)
    fleet = Fleet(
        clusters={c.name: c for c in clusters},
        applications={
            a: Application(
                name=a,
                repository=RepoName("platform"),
                path=a,
                namespace="default",
                targets=Targets(clusters=(hanging.name, healthy.name)),
            )
            for a in APPS
        },
    )
    store.publish_fleet(fleet, "d1")
    for a in APPS:
        digest = store.put_bundle(Bundle.of([config_map(a, "default", data={"v": "1"})]))
        store.set_desired(a, DesiredState(REV, digest, "plain", rendered_at=1.0))
    sender = Sender(app, store)
    for cluster in (hanging, healthy):  # the hanging cluster's tasks first in the queue
        for a in APPS:
            sender.reconcile(a, cluster.name, reason=Trigger.CHANGE)

    def synced() -> list[str]:
        found = [store.recorded_status(a, healthy.name) for a in APPS]
        return [s.application for s in found if s is not None and s.sync is SyncState.SYNCED]

    with running_worker(("apply",), concurrency=3):
        wait_for(lambda: len(synced()) == len(APPS), timeout=60, what="the healthy pairs")
        assert [store.recorded_status(a, hanging.name) for a in APPS] == [None] * len(APPS), (
            "the healthy pairs converged while every pair of the hanging cluster still waited "
            "(none had timed out yet)"
        )
        assert rt.bulkhead.busy(hanging.name) <= 1
        assert store.stats().get("task:reconcile:done", 0) > len(APPS), (
            "the hanging cluster's other tasks were queued again, not blocked"
        )
        first = wait_for(
            lambda: next(
                (s for a in APPS if (s := store.recorded_status(a, hanging.name)) is not None),
                None,
            ),
            timeout=REQUEST_TIMEOUT + 30,
            what="the first hanging pair's timeout",
        )
    assert first.sync is SyncState.UNKNOWN and first.health is Health.UNKNOWN
    assert f"cluster {hanging.name}: timed out" in first.message


def _fill_backlog(port: int) -> list[socket.socket]:
    """Connections the listener never accepts, until the kernel queues no more (a further
    connection attempt is left unanswered)."""
    waiting: list[socket.socket] = []
    for _ in range(8):
        s = socket.socket()
        s.settimeout(1.0)
        try:
            s.connect(("127.0.0.1", port))
        except TimeoutError:
            s.close()
            return waiting
        waiting.append(s)
    raise AssertionError("the listener's backlog never filled")


def test_a_cluster_that_accepts_no_connection_is_given_up_on_at_the_connect_timeout(
    tmp_path: Path,
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    waiting = _fill_backlog(port)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
current-context: c
"""
    )
    cluster = Cluster(name=ClusterName("full"), kubeconfig=str(kubeconfig))
    client = connect(cluster, cache_dir=tmp_path / "kube", timeout=REQUEST_TIMEOUT)
    try:
        with pytest.raises(TransientError) as caught:
            client.resolve("v1", "ConfigMap")
        assert str(caught.value) == (
            f"cluster full: no connection to http://127.0.0.1:{port} within {CONNECT_TIMEOUT:g} s"
        )
        assert CONNECT_TIMEOUT < REQUEST_TIMEOUT
    finally:
        for s in (*waiting, listener):
            s.close()
