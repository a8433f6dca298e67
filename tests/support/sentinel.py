"""Redis Sentinel for tests, with real processes: a master, a replica and three sentinels on
loopback (redis-server and redis-sentinel from Debian's packages), all with one password.
`failover_by_killing_the_master()` is the fault: SIGKILL of the master, then wait until the
sentinels have promoted the replica."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from fleetsync.scheduler.embedded_redis import RedisServer, free_port, redis_server_binary
from tests.support.waiting import wait_for

MASTER_NAME = "fleetsync"


def sentinel_argv(conf: Path) -> list[str]:
    binary = shutil.which("redis-sentinel")
    if binary:
        return [binary, str(conf)]
    return [redis_server_binary(), str(conf), "--sentinel"]


class SentinelSet:
    def __init__(self, workdir: Path, *, password: str = "sentinel-test-pw") -> None:
        self.workdir = workdir
        self.password = password
        self.nodes = [
            RedisServer(workdir / "node-a", password=password, persist=True),
            RedisServer(workdir / "node-b", password=password, persist=True),
        ]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self._sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"sentinel://:{self.password}@{hosts}/0?master={MASTER_NAME}"

    def __enter__(self) -> SentinelSet:
        a, b = self.nodes
        for node in self.nodes:
            node.extra_args = ("--masterauth", self.password)
        a.start()
        b.extra_args = (*b.extra_args, "--replicaof", "127.0.0.1", str(a.port))
        b.start()
        for port in self.sentinel_ports:
            self._sentinels.append(self._start_sentinel(port, a.port))
        wait_for(lambda: self.master_port() == a.port, timeout=30, what="the sentinels up")
        wait_for(lambda: self._replica_synced(b), timeout=30, what="the replica in sync")
        return self

    def _start_sentinel(self, port: int, master_port: int) -> subprocess.Popen[bytes]:
        directory = self.workdir / f"sentinel-{port}"
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
            f"sentinel auth-pass {MASTER_NAME} {self.password}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        conf.chmod(0o600)
        return subprocess.Popen(
            sentinel_argv(conf), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )

    def master_port(self) -> int | None:
        """The master's port as the first sentinel that answers sees it."""
        for port in self.sentinel_ports:
            try:
                client = redis.Redis(port=port, socket_timeout=1)
                found = client.sentinel_get_master_addr_by_name(MASTER_NAME)
                client.close()
            except redis.RedisError:
                continue
            if found:
                return int(found[1])
        return None

    def _replica_synced(self, node: RedisServer) -> bool:
        client = redis.Redis(port=node.port, password=self.password, socket_timeout=1)
        try:
            info = client.info("replication")
        except redis.RedisError:
            return False
        finally:
            client.close()
        return bool(info.get("master_link_status") == "up")

    def master(self) -> RedisServer:
        port = self.master_port()
        return next(n for n in self.nodes if n.port == port)

    def failover_by_killing_the_master(self, timeout: float = 60.0) -> float:
        """SIGKILL the master; wait until the sentinels name the replica; seconds it took."""
        old = self.master()
        started = time.monotonic()
        old.stop(kill=True)
        wait_for(
            lambda: (port := self.master_port()) is not None and port != old.port,
            timeout=timeout,
            what="the sentinels promoting the replica",
        )
        return time.monotonic() - started

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for proc in self._sentinels:
            proc.send_signal(signal.SIGTERM)
        for proc in self._sentinels:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for node in self.nodes:
            node.stop()
