"""High availability: fleetsync on Redis Sentinel (real redis-server and redis-sentinel
processes) while the master is killed in the middle of a rollout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim import Simulator
from tests.faults.conftest import CLUSTERS, record
from tests.faults.world import StatusWatch, World, fault_figures
from tests.support.git_server import GitServer
from tests.support.sentinel import SentinelSet
from tests.support.waiting import wait_for

LATENCY = 0.1
"""Seconds kubesim adds to every request, so that a rollout lasts long enough to be cut."""


@pytest.fixture
def sentinel_world(
    fault_sim: Simulator, fault_git: GitServer, tmp_path: Path
) -> Iterator[tuple[World, SentinelSet]]:
    with SentinelSet(tmp_path / "sentinel") as sentinels:
        world = World(
            name="sw",
            sim=fault_sim,
            clusters=CLUSTERS,
            git=fault_git,
            repo=fault_git.create_repo("sw"),
            workdir=tmp_path,
            redis_url=sentinels.url,
            apply_concurrency=2,
        )
        try:
            world.start()
            yield world, sentinels
        finally:
            world.stop()


def test_a_sentinel_failover_in_the_middle_of_a_rollout(
    sentinel_world: tuple[World, SentinelSet], fault_sim: Simulator
) -> None:
    world, sentinels = sentinel_world
    before = world.uids()
    previous, restarts = world.web_sha, world.restarts()
    web = world.app("web")
    for cluster in CLUSTERS:
        fault_sim.cluster(cluster).set_fault(latency=LATENCY)
    try:
        sha = world.commit_web("during-failover")
        with StatusWatch(world, [previous, sha]) as watch:
            done = wait_for(
                lambda: (
                    (
                        n := sum(
                            1
                            for (app, _), s in world.statuses().items()
                            if app == web and s is not None and str(s.revision).endswith(sha)
                        )
                    )
                    and n
                ),
                timeout=60,
                what="the rollout under way",
            )
            killed = time.monotonic()
            promoted = sentinels.failover_by_killing_the_master()
            seconds = world.wait_converged(since=killed, timeout=90)
    finally:
        for cluster in CLUSTERS:
            fault_sim.cluster(cluster).clear_faults()
    assert world.up is not None
    lost = world.up.count(r"its message was lost on its way to a worker")
    stranded = world.up.count(r"stopped before starting it\); enqueued again")
    figures = fault_figures(
        world,
        "Sentinel failover (the master killed) in the middle of a rollout",
        seconds=seconds,
        before=before,
        restarts=restarts,
        wrong_statuses=len(watch.regressions),
        notes=f"killed with {done} of {len(CLUSTERS)} clusters rolled out; the sentinels "
        f"promoted the replica in {promoted:.1f}s; every process followed it by itself; a "
        "reconcile the failover cut keeps its pair's lease until the lease expires (20 s); "
        f"the beat sent again {lost} messages the failover lost on their way to a worker and "
        f"{stranded} a worker had taken without starting",
    )
    record(figures)
    assert figures.lost_or_wrongly_deleted == 0 and figures.pairs_stuck == 0
    assert figures.wrong_statuses == 0, watch.regressions
    assert figures.processes_restarted_by_up == 0, world.up.output() if world.up else ""
