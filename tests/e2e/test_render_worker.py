"""Renders cannot take a fetch worker down: a real prefork Celery worker (the pool processes are
forked) renders charts from git repositories served over the network into a real Redis, a render
that never ends is killed at its time limit while other repositories go on being polled and
rendered, a render over its memory limit is refused, and no scratch is left behind.

Without render processes of their own, the 300-ConfigMap chart hangs a forked pool process for
good (Helm's Go runtime does not survive fork): the waits below are bounded, so the test fails."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleetsync.scheduler.tick import Ticker
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.store import Store
from fleetsync.workers.runtime import Runtime
from tests.e2e.test_demo import processes_mentioning
from tests.support.celery_worker import configure_workers
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for
from tests.unit.shared.render.charts import ENDLESS_CHART, configmaps_chart, under

TIME_LIMIT = 10
"""Seconds: long enough for another repository's commit to be polled, fetched and rendered while
the endless render runs, short enough to keep the test quick."""


@dataclass
class FetchWorker:
    proc: subprocess.Popen[bytes]
    cache: Path
    log: Path

    @property
    def scratch(self) -> Path:
        return self.cache / "scratch"

    def pool(self) -> list[int]:
        """The worker's own processes (its main process and the forked pool)."""
        return [
            pid for pid in processes_mentioning(str(self.cache)) if _session(pid) == self.proc.pid
        ]

    def render_processes(self) -> list[int]:
        return [
            pid
            for pid in processes_mentioning(str(self.cache))
            if b"fleetsync.shared.render.child" in _cmdline(pid)
        ]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it ended meanwhile
        return b""


def _session(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        return os.getsid(pid)
    return None


@contextlib.contextmanager
def prefork_fetch_worker(redis_url: str, cache: Path, **env: str) -> Iterator[FetchWorker]:
    log = cache.parent / f"{cache.name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "fleetsync.workers.app",
                "worker",
                "-P",
                "prefork",
                "-c",
                "2",
                "-Q",
                "poll,fetch",
                "-n",
                f"fetch-{cache.parent.name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            env={
                **os.environ,
                "FLEETSYNC_REDIS_URL": redis_url,
                "FLEETSYNC_CACHE_DIR": str(cache),
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = FetchWorker(proc=proc, cache=cache, log=log)
    try:
        yield worker
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def beating(ticker: Ticker, every: float = 0.3) -> Iterator[None]:
    """The beat, as a thread of the test: tick until the block ends."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            ticker.tick()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def fleet_yaml(git_server: GitServer, apps: dict[str, tuple[WorkRepo, str]]) -> str:
    """Each application on its path in its repository; repositories polled every second."""
    names = {repo.bare.stem: f"repo-{i}" for i, (repo, _) in enumerate(apps.values())}
    return textwrap.dedent("""\
        repositories:
        {repositories}
        clusters: []
        applications:
        {applications}
        """).format(
        repositories="\n".join(
            f'  - {{name: {name}, url: "{git_server.git_url(bare)}", interval: 1s}}'
            for bare, name in names.items()
        ),
        applications="\n".join(
            f"  - {{name: {app}, repository: {names[repo.bare.stem]}, path: {path},"
            f" namespace: {app}, targets: {{}}}}"
            for app, (repo, path) in apps.items()
        ),
    )


def write_all(repo: WorkRepo, files: dict[str, str]) -> None:
    for path, text in files.items():
        repo.write(path, text)


def desired_revision(store: Store, app: str) -> str | None:
    state = store.desired(AppName(app))
    return str(state.revision) if state else None


def abandoned_area(scratch: Path) -> Path:
    """What a fetch worker killed mid-render leaves: an area whose lock nobody holds."""
    area = scratch / "checkout-0123456789ab-killed"
    (area / "apps" / "big").mkdir(parents=True)
    (area / "apps" / "big" / "Chart.yaml").write_text("apiVersion: v2\n")
    Path(f"{area}.lock").touch()
    return area


@pytest.fixture
def runtime(redis_url: str, tmp_path: Path) -> Runtime:
    return configure_workers(redis_url, tmp_path / "test-cache")


def test_a_prefork_worker_renders_a_chart_of_300_configmaps_and_never_loads_helm(
    runtime: Runtime, redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> None:
    write_all(git_repo, under("apps/big", configmaps_chart(300)))
    git_repo.commit("a chart of 300 ConfigMaps")
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(fleet_yaml(git_server, {"big": (git_repo, "apps/big")}))
    stale = abandoned_area(tmp_path / "worker" / "scratch")
    with prefork_fetch_worker(redis_url, tmp_path / "worker") as worker:
        wait_for(lambda: not stale.exists(), timeout=60, what="the worker sweeping at start")
        with beating(Ticker(runtime.store, runtime.sender, fleet_file)):
            wait_for(
                lambda: desired_revision(runtime.store, "big"),
                timeout=90,
                what=f"the chart rendered by the prefork worker (log: {worker.log})",
            )
        state = runtime.store.desired(AppName("big"))
        assert state is not None and state.revision.sha == git_repo.head
        bundle = runtime.store.get_bundle(state.digest)
        assert bundle is not None and len(bundle.objects) == 300
        assert sum(len(str(o)) for o in bundle.objects) > 300_000
        pool = worker.pool()
        assert len(pool) == 3, pool  # the main process and two forked ones
        for pid in pool:
            assert "libhelm_c" not in Path(f"/proc/{pid}/maps").read_text(), pid
        wait_for(lambda: not any(worker.scratch.iterdir()), what="no scratch left")


def test_an_endless_render_is_killed_while_other_repositories_are_polled_and_rendered(
    runtime: Runtime,
    redis_url: str,
    tmp_path: Path,
    git_server: GitServer,
    make_git_repo: Callable[..., WorkRepo],
) -> None:
    stuck, live = make_git_repo(), make_git_repo()
    write_all(stuck, under("apps/endless", configmaps_chart(2, name="endless")))
    stuck.commit("a good chart first")
    write_all(live, under("apps/web", configmaps_chart(3, name="web")))
    write_all(live, under("apps/huge", configmaps_chart(30_000, name="huge")))
    live.commit("web, and a chart far over the memory limit")
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        fleet_yaml(
            git_server,
            {
                "endless": (stuck, "apps/endless"),
                "web": (live, "apps/web"),
                "huge": (live, "apps/huge"),
            },
        )
    )
    store = runtime.store
    with (
        prefork_fetch_worker(
            redis_url,
            tmp_path / "worker",
            FLEETSYNC_RENDER_TIMEOUT=str(TIME_LIMIT),
            FLEETSYNC_RENDER_MEMORY="256",
        ) as worker,
        beating(Ticker(store, runtime.sender, fleet_file)),
    ):
        wait_for(
            lambda: desired_revision(store, "endless") and desired_revision(store, "web"),
            timeout=60,
            what=f"the first renders (log: {worker.log})",
        )
        good = store.desired(AppName("endless"))
        huge = wait_for(lambda: store.source_error(AppName("huge")), what="huge refused")
        assert huge.message == (
            "huge: apps/huge: render exceeded its 256 MiB memory limit;"
            " make it lighter or raise FLEETSYNC_RENDER_MEMORY"
        )
        assert store.desired(AppName("huge")) is None

        write_all(stuck, under("apps/endless", ENDLESS_CHART))
        stuck.commit("a template that never ends")
        lock = store.key("lock", "fetch:repo-0")
        wait_for(lambda: worker.render_processes(), what="the endless render running")
        assert store.client.exists(lock)

        write_all(live, under("apps/web", configmaps_chart(4, name="web")))
        sha = live.commit("web changes while the endless render runs")
        wait_for(
            lambda: sha in (desired_revision(store, "web") or ""),
            timeout=TIME_LIMIT,
            what="the other repository polled and rendered meanwhile",
        )
        assert store.client.exists(lock), "the endless render ended before web was rendered"
        assert store.source_error(AppName("endless")) is None

        error = wait_for(
            lambda: store.source_error(AppName("endless")),
            timeout=TIME_LIMIT + 20,
            what="the endless render killed at its time limit",
        )
        assert error.message == (
            f"endless: apps/endless: render exceeded its {TIME_LIMIT} s time limit;"
            " make it lighter or raise FLEETSYNC_RENDER_TIMEOUT"
        )
        assert error.stage == "render" and stuck.head in error.revision
        assert store.desired(AppName("endless")) == good  # the last good state carries on
        assert store.stats().get("fetch_busy", 0) >= 1  # a fetch of it did not wait
        wait_for(lambda: not worker.render_processes(), what="no render process left")
        wait_for(lambda: not any(worker.scratch.iterdir()), what="no scratch left")
