"""How many connections a kept client holds to its cluster after a burst: at most
FLEETSYNC_KUBE_CONNECTIONS, every request of the burst answered, and no warning per connection
closed. kubesim over HTTP, a server of the test's own (so that every connection this process
holds to its port is the client's), its `hold` fault making the burst's requests wait together
until all of them are open. The bound comes from the environment through an apply worker's
runtime (`workers/runtime.py: configure`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from fleetsync.shared.kube.client import (
    ClusterClient,
    Manifest,
    connect,
    connections_discarded,
    forget_clients,
    keep_connections,
)
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.reconcile import REQUEST_TIMEOUT
from fleetsync.shared.settings import Settings, load_settings
from fleetsync.workers import runtime as worker_runtime
from kubesim import ClusterHandle, Simulator
from tests.support.celery_worker import configure_workers
from tests.support.waiting import wait_for

BURST = 8


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(clusters=["c1"], port=0, kubeconfig_dir=tmp_path / "kubesim") as sim:
        yield sim


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    forget_clients()
    yield
    forget_clients()
    keep_connections(Settings().kube_connections)


def held_to(port: int) -> int:
    """Established connections this process holds to `port`."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr[1] == port
    )


def client_of(sim: Simulator, tmp_path: Path) -> ClusterClient:
    cluster = Cluster(name=ClusterName("c1"), kubeconfig=str(sim.kubeconfig_path("c1")))
    return connect(cluster, cache_dir=tmp_path / "kube-cache", timeout=REQUEST_TIMEOUT)


def burst(client: ClusterClient, handle: ClusterHandle) -> list[Manifest | None]:
    """`BURST` GETs of one object sent at once, answered only once all of them reached the
    cluster (each on a connection of its own)."""
    namespaces = client.resolve("v1", "Namespace")
    answers: list[Manifest | None] = []
    lock = threading.Lock()

    def get() -> None:
        found = client.get(namespaces, name="default")
        with lock:
            answers.append(found)

    handle.set_fault(hold=True)
    threads = [threading.Thread(target=get) for _ in range(BURST)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: handle.held() == BURST, what=f"{BURST} requests held by the cluster")
    finally:
        handle.clear_faults()
        for t in threads:
            t.join()
    return answers


def test_a_client_keeps_at_most_the_bound_after_a_burst_and_answers_every_request(
    sim: Simulator,
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FLEETSYNC_KUBE_CONNECTIONS", "3")
    configure_workers(redis_url, tmp_path / "cache")
    # An apply worker's runtime, from its environment.
    worker_runtime.configure(replace(load_settings(), redis_url=redis_url))
    client = client_of(sim, tmp_path)
    discarded = connections_discarded()

    with caplog.at_level(logging.INFO):
        answers = burst(client, sim.cluster("c1"))

    assert len(answers) == BURST
    assert all(a is not None and a["metadata"]["name"] == "default" for a in answers)
    assert 1 <= held_to(sim.port) <= 3
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
    assert connections_discarded() - discarded == BURST - 3  # each extra one made, then closed


def test_the_default_bound_holds_without_the_setting(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEETSYNC_KUBE_CONNECTIONS", raising=False)
    bound = load_settings().kube_connections
    keep_connections(bound)
    client = client_of(sim, tmp_path)

    burst(client, sim.cluster("c1"))

    assert 1 <= held_to(sim.port) <= bound < BURST


def test_urllib3_s_other_warnings_stay_warnings(caplog: pytest.LogCaptureFixture) -> None:
    pool_log = logging.getLogger("urllib3.connectionpool")
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        pool_log.warning("Retrying (%r) after connection broken by '%r': %s", None, None, "/")
        pool_log.warning("Connection pool is full, discarding connection: %s", "h")
    assert [(r.levelname, r.getMessage()[:8]) for r in caplog.records] == [("WARNING", "Retrying")]
