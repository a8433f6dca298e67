"""`python -m bench.client_memory --clusters 1000`: what one Kubernetes client an apply worker
keeps costs in memory.

`kubesim serve` (a process of its own) serves C clusters; this process connects to each as a
reconcile does (`connect`: the kubeconfig read, the client's configuration), resolves a kind
(discovery, from the cluster or the discovery cache file) and reads one object (a connection
left open in the client's pool), keeping every client. Reported: this process's RSS before and
after, and the difference per client; the same again for the second half of the clusters (the
cost of one more client once many are kept); this process's CPU time per client built (the
kubeconfig read, the configuration, discovery, one request). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench import runlog
from fleetsync.shared.kube.client import connect, keep_clients
from fleetsync.shared.model.declaration import Cluster
from fleetsync.shared.model.ids import ClusterName


def _rss_mib() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.client_memory")
    parser.add_argument("--clusters", type=int, default=1000)
    args = parser.parse_args(argv)
    context = runlog.context("bench.client_memory", argv)
    keep_clients(args.clusters)
    with tempfile.TemporaryDirectory(prefix="fleetsync-client-memory-") as tmp:
        kubeconfigs = Path(tmp) / "kubeconfigs"
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "kubesim"),
                "serve",
                "--clusters",
                str(args.clusters),
                "--kubeconfig-dir",
                str(kubeconfigs),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if "serving" not in line:
                raise RuntimeError(f"kubesim did not start: {line}")
            names = sorted(p.stem for p in kubeconfigs.glob("sim-*.kubeconfig"))
            kept = []

            def serve(names: list[str]) -> float:
                started = time.process_time()
                for name in names:
                    cluster = Cluster(
                        name=ClusterName(name), kubeconfig=str(kubeconfigs / f"{name}.kubeconfig")
                    )
                    client = connect(cluster, cache_dir=Path(tmp) / "cache", timeout=20.0)
                    client.get(client.resolve("v1", "Namespace"), name="default")
                    kept.append(client)
                return time.process_time() - started

            half = len(names) // 2
            before = _rss_mib()
            first_seconds = serve(names[:half])
            middle = _rss_mib()
            second_seconds = serve(names[half:])
            after = _rss_mib()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {
        **context,
        "clusters": len(names),
        "rss_mib_before": round(before, 1),
        "rss_mib_half": round(middle, 1),
        "rss_mib_after": round(after, 1),
        "kib_per_client": round((after - before) * 1024 / len(names), 1),
        "kib_per_client_second_half": round((after - middle) * 1024 / (len(names) - half), 1),
        "cpu_ms_per_client_built": round(1000 * (first_seconds + second_seconds) / len(names), 2),
    }
    runlog.emit(result, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
