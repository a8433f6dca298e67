"""pytest fixtures for real Kubernetes API servers (see `tests.support.realk8s`).

`real_clusters` starts the session's real clusters on first use. Without them, a test that asks
for them is skipped with the reason (the session summary lists how many), unless
FLEETSYNC_REQUIRE_REAL_K8S=1, where it errors: CI must never pass without real servers.
`--no-real-k8s` leaves every test that needs them out of the run (deselected, not skipped): for
mutation testing, where each mutant's tests run as a session of their own and starting the
servers would cost more than the tests.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.realk8s import (
    REQUIRE_ENV,
    RealClusters,
    RealK8sUnavailable,
    locate_realk8s,
    required,
    running_real_clusters,
)

_not_run: list[str] = []
_reason: list[str] = []

NO_REAL_OPTION = "--no-real-k8s"


def pytest_configure(config: pytest.Config) -> None:
    """Unpack realk8s's binaries once, before parallel test processes (pytest-xdist workers)
    each start clusters: two first unpackings at once would race on the same files."""
    if hasattr(config, "workerinput") or config.getoption(NO_REAL_OPTION):
        return
    try:
        script = locate_realk8s()
    except RealK8sUnavailable:
        return  # the fixture says why, where real clusters are asked for
    subprocess.run(
        [sys.executable, str(script), "env"], capture_output=True, timeout=300, check=False
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        NO_REAL_OPTION,
        action="store_true",
        help="leave out the tests that need real Kubernetes API servers (mutation testing)",
    )


def needs_real_servers(item: pytest.Item) -> bool:
    """Whether the test asks for the real clusters, itself or as the `live` fixture's "real"
    backend."""
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("live") if callspec is not None else None
    return backend == "real" or "real_clusters" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption(NO_REAL_OPTION):
        return
    left_out = [item for item in items if needs_real_servers(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not needs_real_servers(item)]


@pytest.fixture(scope="session")
def real_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealClusters]:
    """The session's real clusters (kube-apiserver + kube-controller-manager + etcd each)."""
    try:
        with running_real_clusters(tmp_path_factory.mktemp("realk8s")) as clusters:
            yield clusters
    except RealK8sUnavailable as exc:
        _reason.append(str(exc))
        if required():
            pytest.fail(f"real Kubernetes required ({REQUIRE_ENV}=1) but unavailable: {exc}")
        pytest.skip(f"real Kubernetes unavailable: {exc}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "real Kubernetes unavailable" in str(report.longrepr):
        _not_run.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _not_run:
        return
    terminalreporter.section("REAL KUBERNETES TESTS NOT RUN", sep="!", red=True, bold=True)
    why = _reason[0] if _reason else "unknown reason"
    terminalreporter.write_line(f"{len(_not_run)} tests against real API servers skipped: {why}")
    terminalreporter.write_line(f"CI sets {REQUIRE_ENV}=1, which turns this into a failure.")
