"""Benchmark kubesim: startup time, small-object request throughput, memory with many clusters.

Run:  python bench/kubesim_bench.py [--seconds 3] [--clusters 1000] [--connections 4]

Each figure comes from a `kubesim serve` child process, driven over real HTTP by raw keep-alive
sockets (a lean client, so the figure is the server's and not the client's). Throughput is also
given per CPU-second of the server process, read from /proc, which is the "one core" figure.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


def start_kubesim(clusters: int, directory: Path) -> tuple[subprocess.Popen[str], str, float]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesim.cli",
            "serve",
            "--clusters",
            str(clusters),
            "--kubeconfig-dir",
            str(directory),
            "--ready-delay",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.monotonic() - started
    if not line.startswith("kubesim: serving"):
        raise RuntimeError(f"kubesim did not start: {line!r}")
    return proc, line.split(" at ")[1].split()[0], elapsed


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RawClient:
    """One keep-alive connection sending prepared requests and reading whole responses."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def roundtrip(self, request: bytes) -> int:
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buf = rest[length:]
        return status


def request(
    method: str, path: str, token: str, body: bytes = b"", content_type: str = "application/json"
) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: kubesim\r\nAuthorization: Bearer {token}\r\n"
        f"User-Agent: kubesim-bench/1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def cluster_access(directory: Path, name: str) -> tuple[str, str]:
    config = json.loads((directory / f"{name}.kubeconfig").read_text())
    return config["clusters"][0]["cluster"]["server"], config["users"][0]["user"]["token"]


def configmap_body(name: str, value: str) -> bytes:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": "bench"}},
            "data": {"key": value},
        }
    ).encode()


def measure(
    url: str, requests: list[bytes], seconds: float, connections: int, pid: int
) -> dict[str, float]:
    counts = [0] * connections
    errors = [0] * connections
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        client = RawClient(url)
        n = 0
        while time.monotonic() < stop:
            status = client.roundtrip(requests[n % len(requests)])
            n += 1
            if status >= 300:
                errors[i] += 1
        counts[i] = n

    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_before
    total = sum(counts)
    return {
        "requests": total,
        "errors": sum(errors),
        "wall_s": round(wall, 2),
        "server_cpu_s": round(cpu, 2),
        "req_per_s": round(total / wall),
        "req_per_server_cpu_s": round(total / cpu) if cpu else 0,
    }


def throughput(seconds: float, connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        proc, url, _ = start_kubesim(4, directory)
        try:
            server, token = cluster_access(directory, "sim-001")
            prefix = server.removeprefix(url)
            base = f"{prefix}/api/v1/namespaces/default/configmaps"
            setup = RawClient(url)
            for i in range(20):
                setup.roundtrip(request("POST", base, token, configmap_body(f"cm-{i}", "v")))
            gets = [request("GET", f"{base}/cm-{i}", token) for i in range(20)]
            applies = [
                request(
                    "PATCH",
                    f"{base}/cm-{i}?fieldManager=bench",
                    token,
                    configmap_body(f"cm-{i}", "v"),
                    "application/apply-patch+yaml",
                )
                for i in range(20)
            ]
            changing = [
                request(
                    "PATCH",
                    f"{base}/cm-{i % 20}?fieldManager=bench&force=true",
                    token,
                    configmap_body(f"cm-{i % 20}", str(i)),
                    "application/apply-patch+yaml",
                )
                for i in range(40)
            ]
            return {
                "get": measure(url, gets, seconds, connections, proc.pid),
                "apply_unchanged": measure(url, applies, seconds, connections, proc.pid),
                "apply_changing": measure(url, changing, seconds, connections, proc.pid),
            }
        finally:
            proc.terminate()
            proc.wait(10)


def startup() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, _, elapsed = start_kubesim(1, Path(tmp))
        proc.terminate()
        proc.wait(10)
    return {"one_cluster_s": round(elapsed, 3)}


def memory(clusters: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        proc, url, elapsed = start_kubesim(clusters, directory)
        try:
            idle = rss_mib(proc.pid)
            client = RawClient(url)
            for c in range(1, clusters + 1):
                server, token = cluster_access(directory, f"sim-{c:0{max(3, len(str(clusters)))}d}")
                prefix = server.removeprefix(url)
                base = f"{prefix}/api/v1/namespaces/default/configmaps"
                for i in range(5):
                    client.roundtrip(
                        request(
                            "PATCH",
                            f"{base}/cm-{i}?fieldManager=bench",
                            token,
                            configmap_body(f"cm-{i}", "v"),
                            "application/apply-patch+yaml",
                        )
                    )
            loaded = rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    return {
        "clusters": clusters,
        "startup_s": round(elapsed, 2),
        "rss_idle_mib": round(idle),
        "rss_with_5_configmaps_each_mib": round(loaded),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    results = {
        "startup": startup(),
        "throughput": throughput(args.seconds, args.connections),
        "memory": memory(args.clusters),
    }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
