"""A commit's fan-out to a few clusters, round after round, against kubectl loops in the same
run, with where the webhook's fixed latency goes (`python -m bench.fanout_latency`).

    python -m bench.fanout_latency --real 5 --rounds 5 [--out FILE]     # real API servers
    python -m bench.fanout_latency --clusters 5 --rounds 5 [--out FILE]  # kubesim

The rig of `python -m bench` (redis-server, a git daemon, fleetsync's processes as `fleetsync
up` starts them, the API for webhooks) on real API servers started with `realk8s` (about
400 MB each) or on kubesim. One application (a ConfigMap, a Service, a ServiceAccount) on every
cluster; each round commits a change to it, calls the webhook and waits until every cluster is
Synced at the commit, then pushes the same manifests with `kubectl apply --server-side`, one
cluster after the other and all at once. Each round's webhook is broken down by the processes'
own log lines (bench/stages.py); the workers log at DEBUG for that (Celery's per-task lines),
which costs them a little. Prints one JSON line (the command, commit and load beside it).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import runlog, stages
from bench.rig import Rig, RigOptions, writes
from fleetsync.shared.render.kustomize import kubectl_binary
from tests.support.git_server import WorkRepo
from tests.support.realk8s import running_real_clusters

QUIET_SECONDS = 3.0
"""No new log line for this long before a round: the previous one's health follow-ups and the
watcher's new watches are over."""


def manifests(name: str, value: str) -> str:
    """A ConfigMap, a Service and a ServiceAccount: objects that are Healthy once applied on a
    real API server too (a Deployment stays Progressing there, no kubelet running its Pods, and
    its health follow-ups would run beside every round)."""
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}, namespace: default}}
data: {{value: "{value}"}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {name}, namespace: default}}
"""


def run(
    work: Path, *, clusters: int, real: bool, rounds: int, timeout: float = 120.0
) -> dict[str, Any]:
    with ExitStack() as stack:
        if real:
            started = time.monotonic()
            servers = stack.enter_context(running_real_clusters(work / "realk8s", clusters))
            opts = RigOptions(
                clusters=clusters,
                with_api=True,
                task_lines=True,
                kubeconfigs=tuple(zip(servers.names, servers.kubeconfigs, strict=True)),
            )
            print(f"{clusters} real clusters up in {time.monotonic() - started:.1f} s", flush=True)
        else:
            opts = RigOptions(clusters=clusters, with_api=True, task_lines=True)
        rig = stack.enter_context(Rig(work / "rig", opts))
        repo = rig.repo("fleet")
        repo.write("apps/web/app.yaml", manifests("web", "0"))
        first = repo.commit("web")
        # No drift check due during the rounds: only the commit's reconciles run.
        rig.write_fleet({"fleet": 3600}, [("web", "fleet", "apps/web", "*")], drift="1h")
        pairs = [("web", c) for c in rig.clusters]
        if len(rig.wait_converged(pairs, first, timeout * 3)) < len(pairs):
            return {"failed": "the first rollout did not converge"}
        results = [_round(rig, repo, pairs, n, timeout) for n in range(1, rounds + 1)]
    return {
        "servers": "real (realk8s)" if real else "kubesim",
        "clusters": clusters,
        "rounds": results,
        "summary": summarize(results),
    }


def _round(
    rig: Rig, repo: WorkRepo, pairs: list[tuple[str, str]], n: int, timeout: float
) -> dict[str, Any]:
    _wait_quiet(rig.work / "processes.log", QUIET_SECONDS, timeout)
    rig.kube_counts(reset=True)
    offset = (rig.work / "processes.log").stat().st_size
    repo.write("apps/web/app.yaml", manifests("web", str(n)))
    sha = repo.commit(f"value {n}")
    pushed = time.time()
    assert rig.webhook("fleet") == 202
    done = rig.wait_converged(pairs, sha, timeout)
    _wait_quiet(rig.work / "processes.log", 1.0, timeout)  # the last lines are written
    lines = stages.read_lines(rig.work / "processes.log", offset)
    marks = stages.webhook_stages(lines, pushed, done)
    counts = rig.kube_counts()
    found: dict[str, Any] = {
        "converged": len(done),
        "of": len(pairs),
        "marks_ms": marks,
        "steps_ms": stages.step_times(marks),
        "first_reconcile_requests": stages.requests_of_first_reconcile(lines, pushed, marks),
        "kubectl": kubectl_loops(rig, value=f"{n}"),
    }
    if counts:
        found["requests_per_cluster"] = round(sum(counts.values()) / len(pairs), 1)
        found["writes_per_cluster"] = round(writes(counts) / len(pairs), 1)
    if len(done) == len(pairs):
        total = max(done.values()) - pushed
        found["all_synced_seconds"] = round(total, 3)
        loops = found["kubectl"]
        found["ratio_to_kubectl_sequential"] = round(total / loops["sequential_seconds"], 3)
        found["ratio_to_kubectl_parallel"] = round(total / loops["parallel_seconds"], 3)
    return found


def kubectl_loops(rig: Rig, *, value: str) -> dict[str, float]:
    """Push mode: `kubectl apply --server-side` of the same manifests to every cluster, one
    after the other, then all at once (each loop with a new value, so each writes)."""
    kubectl = str(kubectl_binary())
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "app.yaml"

        def push(cluster: str) -> int:
            argv = [kubectl, "--kubeconfig", str(rig.kubeconfigs / f"{cluster}.kubeconfig")]
            argv += ["apply", "--server-side", "--field-manager", "push-ci", "-f", str(manifest)]
            return subprocess.run(argv, capture_output=True, check=False).returncode

        manifest.write_text(manifests("pushed", value + "s"))
        started = time.monotonic()
        failures = sum(push(c) != 0 for c in rig.clusters)
        sequential = time.monotonic() - started
        manifest.write_text(manifests("pushed", value + "p"))
        started = time.monotonic()
        with ThreadPoolExecutor(len(rig.clusters)) as pool:
            failures += sum(code != 0 for code in pool.map(push, rig.clusters))
        parallel = time.monotonic() - started
    return {
        "sequential_seconds": round(sequential, 3),
        "parallel_seconds": round(parallel, 3),
        "failures": failures,
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds that converged: every mark and step, the totals, the ratios."""
    ok = [r for r in rounds if "all_synced_seconds" in r]
    if not ok:
        return {"failed": "no round converged"}

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    names = [name for name, _ in stages.STEPS]
    return {
        "rounds_converged": len(ok),
        "all_synced_seconds": _spread([r["all_synced_seconds"] for r in ok]),
        "first_synced_ms": _spread([r["marks_ms"]["first_synced"] for r in ok]),
        "kubectl_sequential_seconds": median([r["kubectl"]["sequential_seconds"] for r in ok]),
        "kubectl_parallel_seconds": median([r["kubectl"]["parallel_seconds"] for r in ok]),
        "ratio_to_kubectl_sequential": median([r["ratio_to_kubectl_sequential"] for r in ok]),
        "ratio_to_kubectl_parallel": median([r["ratio_to_kubectl_parallel"] for r in ok]),
        "marks_ms_median": {
            n: median([r["marks_ms"][n] for r in ok if n in r["marks_ms"]])
            for n in [*names, "fetch_end"]
            if any(n in r["marks_ms"] for r in ok)
        },
        "steps_ms_median": {
            n: median([r["steps_ms"][n] for r in ok if n in r["steps_ms"]])
            for n in names
            if any(n in r["steps_ms"] for r in ok)
        },
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


def _wait_quiet(log: Path, quiet: float, timeout: float) -> None:
    """Until `log` has not grown for `quiet` seconds (or `timeout` passed)."""
    deadline = time.monotonic() + timeout
    size, since = log.stat().st_size, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.2)
        now = log.stat().st_size
        if now != size:
            size, since = now, time.monotonic()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout_latency")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--real", type=int, metavar="N", help="N real API servers (realk8s)")
    where.add_argument("--clusters", type=int, metavar="N", help="N kubesim clusters")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=None, help="append the JSON line here")
    args = parser.parse_args(argv)
    context = runlog.context("bench.fanout_latency", argv)
    runlog.stop_cleanly_on_term()
    with tempfile.TemporaryDirectory(prefix="fleetsync-latency-") as tmp:
        result = run(
            Path(tmp),
            clusters=args.real or args.clusters,
            real=args.real is not None,
            rounds=args.rounds,
            timeout=args.timeout,
        )
    runlog.emit({**context, "load_average_end": runlog.load_average(), **result}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
