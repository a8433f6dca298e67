"""`fleetsync up`: the whole system as children of one command, started and stopped cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_demo import processes_mentioning
from tests.support.redis_server import free_port
from tests.support.waiting import wait_for


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text("repositories: []\nclusters: []\napplications: []\n")
    return path


@pytest.fixture
def up(tmp_path: Path, fleet_file: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    api_port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fleetsync",
            "up",
            "-c",
            str(fleet_file),
            "--api-port",
            str(api_port),
            "--flower-port",
            str(free_port()),
            "--fetch-concurrency",
            "1",
            "--apply-concurrency",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "FLEETSYNC_CACHE_DIR": str(tmp_path / "cache"),
            "FLEETSYNC_TICK_SECONDS": "0.5",
        },
    )
    try:
        yield proc, api_port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_up_serves_then_stops_on_sigterm_leaving_no_process(
    up: tuple[subprocess.Popen[str], int], fleet_file: Path
) -> None:
    proc, port = up
    wait_for(lambda: ready(port), timeout=60, what="the API answering /readyz (fleet published)")
    assert len(processes_mentioning(str(fleet_file))) >= 4
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    wait_for(
        lambda: processes_mentioning(str(fleet_file)) == [], timeout=10, what="every child gone"
    )
    output = proc.stdout.read() if proc.stdout else ""
    assert "fleetsync is up" in output and "SIGTERM: stopping" in output
    redis_port = int(re.search(r"Redis redis://127\.0\.0\.1:(\d+)", output).group(1))  # type: ignore[union-attr]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()


def test_a_child_that_dies_stops_everything_and_up_exits_non_zero(
    up: tuple[subprocess.Popen[str], int], fleet_file: Path
) -> None:
    proc, port = up
    wait_for(lambda: ready(port), timeout=60, what="the API answering /readyz")
    beat = next(
        pid
        for pid in processes_mentioning(str(fleet_file))
        if b"beat" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    os.kill(beat, signal.SIGKILL)
    assert proc.wait(timeout=30) == 1
    wait_for(
        lambda: processes_mentioning(str(fleet_file)) == [],
        timeout=10,
        what="every child of `fleetsync up` gone",
    )
    output = proc.stdout.read() if proc.stdout else ""
    assert "beat exited with code" in output
