"""Real chart sources on loopback for the chart tests: chart repositories over HTTP and HTTPS
(the tests' own server) and an OCI registry (the CNCF distribution registry)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.charts import ChartRepoServer, Tls, make_tls, serving_charts
from tests.support.oci_registry import Registry, running_registry

REGISTRY_AUTH = ("fleet", "registry-password-1")


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def chart_repo() -> Iterator[ChartRepoServer]:
    with serving_charts() as repo:
        yield repo


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An OCI registry behind HTTP Basic authentication, shared by the session: tests push
    under paths of their own."""
    with running_registry(tmp_path_factory.mktemp("registry"), auth=REGISTRY_AUTH) as served:
        yield served


@pytest.fixture
def registry_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_USER", REGISTRY_AUTH[0])
    monkeypatch.setenv("REG_PASSWORD", REGISTRY_AUTH[1])


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"
