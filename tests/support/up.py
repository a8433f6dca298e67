"""`fleetsync up` as the end-to-end tests run it: one command line, one environment, one way to
wait for it and to stop it.

`with start_up(fleet_file, up_env(workdir)) as up:` runs `fleetsync up` on a fleet file with
nothing of the caller's FLEETSYNC_* settings, its cache, instance file and default data directory
under `workdir` and a half-second beat; it keeps `up`'s output (`Up.output`), and stops it with
SIGTERM as an operator would (killing what is left after 30 s).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from tests.support.processes import Proc
from tests.support.redis_server import free_port
from tests.support.waiting import wait_for

PYTHON_M_FLEETSYNC = (sys.executable, "-m", "fleetsync")


def up_env(workdir: Path, **extra: str) -> dict[str, str]:
    """`up`'s environment: none of the caller's FLEETSYNC_* settings; its cache
    (FLEETSYNC_CACHE_DIR), instance file (FLEETSYNC_STATE_DIR) and default data directory
    (XDG_DATA_HOME) under `workdir`; a half-second beat; then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETSYNC_")}
    return {
        **env,
        "FLEETSYNC_CACHE_DIR": str(workdir / "cache"),
        "FLEETSYNC_STATE_DIR": str(workdir / "state"),
        "XDG_DATA_HOME": str(workdir / "xdg-data"),
        "FLEETSYNC_TICK_SECONDS": "0.5",
        **extra,
    }


def up_argv(
    fleet_file: Path,
    *,
    api_port: int | None,
    flower: bool = False,
    redis_url: str | None = None,
    data_dir: Path | None = None,
    apply_concurrency: int = 4,
    program: Sequence[str] = PYTHON_M_FLEETSYNC,
) -> list[str]:
    """`fleetsync up -c FLEET_FILE`: the API on `api_port` (none if None), Flower only if asked,
    the embedded Redis unless `redis_url`, one fetch process."""
    argv = [*program, "up", "-c", str(fleet_file)]
    argv += ["--no-api"] if api_port is None else ["--api-port", str(api_port)]
    argv += ["--flower-port", str(free_port())] if flower else ["--no-flower"]
    if redis_url is not None:
        argv += ["--redis-url", redis_url]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    argv += ["--fetch-concurrency", "1", "--apply-concurrency", str(apply_concurrency)]
    return argv


class Up:
    """A running `fleetsync up`: its process (output kept as lines), API address and environment."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        api_port: int | None,
        *,
        cwd: Path | None = None,
    ) -> None:
        self.env = dict(env)
        self.api_port = api_port
        self.proc = Proc(argv, self.env, cwd=cwd)

    def __enter__(self) -> Up:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def api_url(self) -> str:
        assert self.api_port is not None, "started with --no-api"
        return f"http://127.0.0.1:{self.api_port}"

    def output(self) -> str:
        return self.proc.output()

    def ready(self) -> bool:
        """The API answers /readyz (a fleet is published)."""
        try:
            return httpx.get(f"{self.api_url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 90) -> None:
        """Until the API answers /readyz; fails with `up`'s output if `up` exits first."""

        def ready() -> bool:
            assert self.proc.alive(), f"fleetsync up exited:\n{self.output()[-4000:]}"
            return self.ready()

        wait_for(ready, timeout=timeout, interval=0.3, what="fleetsync up answering /readyz")

    def redis_url(self, timeout: float = 90) -> str:
        """The Redis `up` announces once it is up (its embedded one unless given one)."""
        line = self.proc.wait_line(r"fleetsync is up: Redis redis://", timeout=timeout)
        found = re.search(r"Redis (redis://\S+)", line)
        assert found is not None, line
        return found.group(1)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM to `up` (it stops its children); what is left after `timeout` is killed.
        Returns `up`'s exit code."""
        if self.proc.alive():
            self.proc.popen.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.popen.wait(timeout=timeout)
        return self.proc.stop()


def start_up(
    fleet_file: Path,
    env: Mapping[str, str],
    *,
    api: bool = True,
    flower: bool = False,
    redis_url: str | None = None,
    data_dir: Path | None = None,
    apply_concurrency: int = 4,
    program: Sequence[str] = PYTHON_M_FLEETSYNC,
    cwd: Path | None = None,
) -> Up:
    """`fleetsync up` started (see `up_argv`); stopped by `Up.stop` or at the end of a `with`."""
    api_port = free_port() if api else None
    argv = up_argv(
        fleet_file,
        api_port=api_port,
        flower=flower,
        redis_url=redis_url,
        data_dir=data_dir,
        apply_concurrency=apply_concurrency,
        program=program,
    )
    return Up(argv, env, api_port, cwd=cwd)
