"""Render faults under a running fleet: a Helm chart whose render never ends, and one that
renders 50 MB. A third application (a chart, on one cluster) joins the fleet for this module and
leaves it after; the suite runs `up` with FLEETSYNC_RENDER_TIMEOUT=10 so that the endless render
is stopped in seconds, not the default minute."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.shared.model.ids import AppName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import SourceError
from tests.faults.conftest import record
from tests.faults.world import StatusWatch, World, fault_figures
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_for
from tests.unit.shared.render.charts import ENDLESS_CHART, configmaps_chart

BIG = 50
"""ConfigMaps of 1 MB each in the big chart: 50 MB rendered."""


class ChartApp:
    """The module's chart application, on the world's first cluster."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.name = AppName(world.app("chart"))
        self.cluster = world.clusters[0]
        self.path = f"{world.namespace}/chart"
        self.namespace = f"{world.namespace}-chart"

    def write(self, files: dict[str, str]) -> None:
        if (self.world.repo.path / self.path).exists():
            self.world.repo.remove(self.path)
        for name, text in files.items():
            self.world.repo.write(f"{self.path}/{name}", text)

    def status(self) -> PairStatus | None:
        status: PairStatus | None = self.world.store.status(self.name, self.cluster)
        return status

    def synced_at(self, sha: str) -> bool:
        s = self.status()
        return (
            s is not None
            and s.sync is SyncState.SYNCED
            and s.health is Health.HEALTHY
            and str(s.revision).endswith(sha)
        )

    def uids(self) -> dict[str, str]:
        return {
            obj["metadata"]["name"]: obj["metadata"]["uid"]
            for obj in self.world.sim.cluster(self.cluster).objects()
            if obj["metadata"].get("namespace") == self.namespace
        }


@pytest.fixture(scope="module")
def chart(redis_world: tuple[World, RedisServer]) -> Iterator[ChartApp]:
    world, _ = redis_world
    world.wait_converged()
    app = ChartApp(world)
    app.write(configmaps_chart(2, payload=10, name="small"))
    sha = world.repo.commit("chart: first")
    fleet = world.workdir / "fleet.yaml"
    declared = fleet.read_text()
    fleet.write_text(
        declared + f"  - {{name: {app.name}, repository: {world.name}, path: {app.path},"
        f" namespace: {app.namespace}, targets: {{clusters: [{app.cluster}]}},"
        " sync: {driftInterval: 10m, createNamespace: true}}\n"
    )
    wait_for(lambda: app.synced_at(sha), timeout=60, what="the chart application synced")
    yield app
    fleet.write_text(declared)
    world.repo.remove(app.path)
    world.repo.commit("chart: gone")
    wait_for(
        lambda: (
            (fleet := world.store.load_fleet()) is not None and app.name not in fleet.applications
        ),
        what="the chart application gone from the published fleet",
    )


def test_a_render_that_never_ends(redis_world: tuple[World, RedisServer], chart: ChartApp) -> None:
    world, _ = redis_world
    before, kept = world.uids(), chart.uids()
    previous, restarts = world.web_sha, world.restarts()
    chart.write(ENDLESS_CHART)
    sha = world.commit_web("beside-an-endless-render")
    started = time.monotonic()
    with StatusWatch(world, [previous, sha]) as watch:
        seconds = world.wait_converged(since=started)
        error = wait_for(
            lambda: world.store.source_error(chart.name),
            timeout=60,
            what="the endless render stopped and its error shown",
        )
    assert error is not None
    status = chart.status()
    figures = fault_figures(
        world,
        "a Helm render that never ends (a commit for the other applications with it)",
        seconds=seconds,
        before=before,
        restarts=restarts,
        also_lost=sum(1 for name, uid in kept.items() if chart.uids().get(name) != uid),
        wrong_statuses=len(watch.regressions) + (0 if status and status.revision else 1),
        also_pairs=1,
        notes="the render process was killed at its time limit (FLEETSYNC_RENDER_TIMEOUT=10 "
        f"here); the application shows `{error.message[:90]}...` and keeps its last good "
        "state on its cluster; the other applications of the repository converged",
    )
    record(figures)
    assert "time limit" in error.message, error
    assert figures.lost_or_wrongly_deleted == 0 and figures.pairs_stuck == 0
    assert status is not None and status.sync is SyncState.SYNCED, status


def test_a_chart_that_renders_50_mb(
    redis_world: tuple[World, RedisServer], chart: ChartApp
) -> None:
    """The 50 MB render takes 10 to 26 s on the suite's 2 shared CPUs: the suite's 10 s render
    limit stops it or not; what matters here is that it takes nothing else down and loses
    nothing, and that either outcome is shown."""
    world, _ = redis_world
    before, kept = world.uids(), chart.uids()
    previous, restarts = world.web_sha, world.restarts()
    world.store.clear_source_error(chart.name)
    chart.write(configmaps_chart(BIG, payload=1_000_000, name="big"))
    sha = world.commit_web("beside-a-50-mb-chart")
    started = time.monotonic()
    with StatusWatch(world, [previous, sha]) as watch:
        seconds = world.wait_converged(since=started)

        def outcome() -> SourceError | str | None:
            e = world.store.source_error(chart.name)
            if e is not None and e.revision.endswith(sha):
                return e
            return "applied" if chart.synced_at(sha) else None

        result = wait_for(outcome, timeout=180, interval=0.5, what="the 50 MB render's outcome")
        finished = time.monotonic() - started
    status = chart.status()
    how = (
        f"stopped at the suite's 10 s limit (`{result.message[:70]}...`); the chart application "
        "kept its last good state"
        if isinstance(result, SourceError)
        else f"rendered within the 10 s limit and applied ({finished:.0f}s after the commit)"
    )
    figures = fault_figures(
        world,
        f"a Helm chart that renders {BIG} MB ({BIG} ConfigMaps of 1 MB)",
        seconds=seconds,
        before=before,
        restarts=restarts,
        also_lost=sum(1 for name, uid in kept.items() if chart.uids().get(name) != uid),
        wrong_statuses=len(watch.regressions) + (0 if status and status.revision else 1),
        also_pairs=1,
        notes=f"rendered in its own process, {how}; the other applications converged meanwhile "
        "(the render takes 10 to 26 s on the suite's 2 shared CPUs, within the default 60 s)",
    )
    record(figures)
    if isinstance(result, SourceError):
        assert "limit" in result.message, result
    assert figures.lost_or_wrongly_deleted == 0 and figures.pairs_stuck == 0
    assert status is not None and status.sync is SyncState.SYNCED, status


def test_kill_9_of_the_fetch_worker_in_the_middle_of_a_render(
    redis_world: tuple[World, RedisServer], chart: ChartApp
) -> None:
    world, _ = redis_world
    world.wait_converged()
    before, kept = world.uids(), chart.uids()
    previous, restarts = world.web_sha, world.restarts()
    world.store.clear_source_error(chart.name)
    chart.write(ENDLESS_CHART)
    fetch = world.child_pid("fetch@")
    sha = world.commit_web("beside-a-killed-render")
    with StatusWatch(world, [previous, sha]) as watch:
        renders = wait_for(world.render_processes, timeout=60, interval=0.1, what="a render")
        os.kill(fetch, signal.SIGKILL)
        killed = time.monotonic()
        seconds = world.wait_converged(since=killed)
        error = wait_for(
            lambda: (
                (e := world.store.source_error(chart.name)) is not None
                and e.revision.endswith(sha)
                and e
            ),
            timeout=60,
            what="the endless render stopped again after the restart",
        )
    assert isinstance(error, SourceError)
    left = [pid for pid in renders if Path(f"/proc/{pid}").exists()]
    figures = fault_figures(
        world,
        "kill -9 of the fetch worker in the middle of a (never-ending) Helm render",
        seconds=seconds,
        before=before,
        restarts=restarts,
        also_lost=sum(1 for name, uid in kept.items() if chart.uids().get(name) != uid),
        wrong_statuses=len(watch.regressions),
        also_pairs=1,
        notes=f"up started the worker again; the interrupted fetch ran again and the other "
        f"applications converged; {len(left)} render processes outlived the killed worker; "
        "the chart application shows its render error again",
    )
    record(figures)
    assert not left, f"render processes left behind: {left}"
    assert figures.lost_or_wrongly_deleted == 0 and figures.pairs_stuck == 0
    assert figures.processes_restarted_by_up == 1
