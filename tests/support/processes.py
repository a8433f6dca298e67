"""fleetsync's own processes for tests that need real ones (faults, restarts): started with a
given environment, their output collected line by line, waited on by what they say."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from tests.support.waiting import wait_for


class Proc:
    """A child process whose output (stdout and stderr together) is kept as lines."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.popen = subprocess.Popen(
            self.argv,
            env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            with self._lock:
                self.lines.append(raw.decode(errors="replace").rstrip())

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def count(self, pattern: str) -> int:
        with self._lock:
            return sum(1 for line in self.lines if re.search(pattern, line))

    def wait_line(self, pattern: str, *, timeout: float = 30.0, after: int = 0) -> str:
        """The first line (from line `after` on) matching `pattern`, once it is printed."""

        def found() -> str | None:
            with self._lock:
                for line in self.lines[after:]:
                    if re.search(pattern, line):
                        return line
            return None

        line: str = wait_for(found, timeout=timeout, what=f"{pattern!r} in {self.argv[2:5]}")
        return line

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.alive():
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._pump.join(timeout=5)
        return int(self.popen.returncode)


def fleetsync_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a fleetsync process on `redis_url` (FLEETSYNC_* from `extra`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETSYNC_")}
    return {**env, "FLEETSYNC_REDIS_URL": redis_url, **extra}


def beat_argv(schedule: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "fleetsync.scheduler.beat",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        schedule,
    ]


def worker_argv(
    queues: str, name: str, *, concurrency: int = 2, pool: str = "prefork"
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "fleetsync.workers.app",
        "worker",
        "-Q",
        queues,
        "-P",
        pool,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]


@contextmanager
def running(argv: Sequence[str], env: Mapping[str, str]) -> Iterator[Proc]:
    proc = Proc(argv, env)
    try:
        yield proc
    finally:
        proc.stop()
