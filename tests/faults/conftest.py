"""The fault suite's shared world: kubesim clusters, a git server, a Redis with an append-only
file and `fleetsync up` on it, started once for the package. Every test starts from a
converged fleet, plays one fault, asserts the goals (nothing lost, nothing stuck, no status
regressed, no manual action) and records its figures; `python -m tests.faults.report` writes
them to docs/RELIABILITY.md."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim import Simulator
from tests.faults.world import FaultFigures, World
from tests.support.git_server import GitServer
from tests.support.redis_server import RedisServer

REPORT_ENV = "FLEETSYNC_FAULTS_REPORT"
CLUSTERS = tuple(f"c{i:02d}" for i in range(1, 9))
_FIGURES: list[FaultFigures] = []


def record(figures: FaultFigures) -> None:
    _FIGURES.append(figures)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get(REPORT_ENV)
    if target and _FIGURES:
        Path(target).write_text(json.dumps([f.to_json() for f in _FIGURES], indent=2))


@pytest.fixture(scope="package")
def fault_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    with Simulator(
        clusters=list(CLUSTERS), kubeconfig_dir=tmp_path_factory.mktemp("kubeconfigs")
    ) as sim:
        for name in CLUSTERS:
            sim.cluster(name).set_controllers(enabled=True, ready_delay=0.2)
        yield sim


@pytest.fixture(scope="package")
def fault_git(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    with GitServer(tmp_path_factory.mktemp("git")) as server:
        yield server


@pytest.fixture(scope="package")
def redis_world(
    fault_sim: Simulator, fault_git: GitServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, RedisServer]]:
    """fleetsync up on a Redis with an append-only file, which tests may kill and restart."""
    work = tmp_path_factory.mktemp("redis-world")
    redis = RedisServer(work / "redis", persist=True)
    redis.start()
    world = World(
        name="rw",
        sim=fault_sim,
        clusters=CLUSTERS,
        git=fault_git,
        repo=fault_git.create_repo("rw"),
        workdir=work,
        redis_url=redis.url,
    )
    try:
        world.start()
        yield world, redis
    finally:
        world.stop()
        redis.stop()
