"""`python -m bench.drift_watch`: drift healed by watches against interval checks alone.

Two arms on the same fleet, each its own rig (Redis, `kubesim serve`, a git daemon, beat, a
poll/fetch worker, an apply worker and, in the first arm, the watcher, as `fleetsync up` runs
them): K applications (a ConfigMap, a Service and a Deployment each) on C clusters, selfHeal on.

- idle: over `--idle-seconds` once converged and settled (no task for 15 s; with watches, once
  every cluster is watched), and no sooner than `--idle-after` seconds after the fleet was
  declared (so that the window holds the interval checks' steady rounds: the first one falls
  between half an interval and one interval after a pair is declared): CPU seconds per minute of
  each process (Redis's from its INFO cpu) and of all together, Kubernetes requests per minute
  by verb (writes apart), Redis commands per minute, drift checks run. Both arms at
  `--idle-drift` (today's default, 5m; with watches, pairs they cover are checked at their
  `watchedDriftInterval`, an hour by default); `--watch-idle-drift` gives the watch arm another.
  `--profile DIR` records the watcher with py-spy over the window (GIL samples, raw format).
- `--layout spread --objects configmap`: each application on one cluster (application i on
  cluster i mod C: 1,000 applications over 10 clusters are 1,000 pairs) and of one ConfigMap;
  `--idle-only` skips the edits and deletes below.
- edit: the first application's ConfigMap is changed on every cluster (a merge patch by the
  field manager `kubectl-edit`), then time from each edit to the healing reconcile's status
  (the pair's history entry, trigger drift, one object configured);
- delete: its Service is deleted on every cluster, then time to the status of the reconcile
  that created it again.
With watches the driftInterval is an hour, so every heal comes from a watch event; interval
checks alone use `--interval` (heal times spread over one interval: at the default 5 m they
would be 5 times those measured at 60 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.rig import Rig, RigOptions, app_manifests, writes
from bench.scenarios import percentiles
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.trigger import Trigger


class Clusters:
    """Each kubesim cluster's address and token, from its kubeconfig (as kubectl reads it)."""

    def __init__(self, rig: Rig) -> None:
        self.http = httpx.Client(timeout=10)
        self.where: dict[str, tuple[str, str]] = {}
        for name in rig.clusters:
            config = yaml.safe_load((rig.kubeconfigs / f"{name}.kubeconfig").read_text())
            server = config["clusters"][0]["cluster"]["server"]
            token = config["users"][0]["user"]["token"]
            self.where[name] = (server, token)

    def request(self, cluster: str, method: str, path: str, **kw: Any) -> int:
        server, token = self.where[cluster]
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return self.http.request(method, server + path, headers=headers, **kw).status_code


def one_configmap(name: str, value: str) -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}, namespace: default}}
data: {{value: "{value}"}}
"""


def declare(rig: Rig, args: argparse.Namespace, drift: str) -> None:
    """fleet.yaml: every application on every cluster, or (spread) application i on cluster
    i mod C."""
    n = len(rig.clusters)
    rig.write_fleet(
        {"fleet": 3600},
        [
            (
                f"web{i}",
                "fleet",
                f"apps/web{i}",
                "*" if args.layout == "all" else rig.clusters[i % n],
            )
            for i in range(args.apps)
        ],
        drift=drift,
    )


def fleet(rig: Rig, args: argparse.Namespace, drift: str) -> list[tuple[str, str]]:
    repo = rig.repo("fleet")
    manifests = app_manifests if args.objects == "app" else one_configmap
    for i in range(args.apps):
        repo.write(f"apps/web{i}/app.yaml", manifests(f"web{i}", "0"))
    sha = repo.commit("apps")
    declare(rig, args, drift)
    n = len(rig.clusters)
    if args.layout == "all":
        pairs = [(f"web{i}", c) for i in range(args.apps) for c in rig.clusters]
    else:
        pairs = [(f"web{i}", rig.clusters[i % n]) for i in range(args.apps)]
    timeout = args.timeout
    done = rig.wait_converged(pairs, sha, timeout)
    if len(done) < len(pairs):
        raise RuntimeError(f"{len(done)} of {len(pairs)} pairs converged in {timeout} s")
    return pairs


def wait_watched(rig: Rig, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        states = rig.store.drift_detection(rig.clusters)
        if all(d.mode == "watching" for d in states.values()):
            return round(time.monotonic() - started, 2)
        time.sleep(0.5)
    raise RuntimeError("not every cluster watched in time")


def settle(rig: Rig, quiet: float = 15.0, limit: float = 300.0) -> float:
    """Wait until no task has run for `quiet` seconds (the rollout's health follow-ups and
    first drift checks done): the seconds it took."""
    started = time.monotonic()
    last, since = None, time.monotonic()
    while time.monotonic() - started < limit:
        done = sum(n for k, n in rig.store.stats().items() if k.startswith("task:"))
        if done != last:
            last, since = done, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(1.0)
    return round(time.monotonic() - started, 1)


def tasks_done(rig: Rig) -> dict[str, int]:
    return {k: n for k, n in rig.store.stats().items() if k.startswith("task:")}


def redis_cpu(rig: Rig) -> float:
    """Redis's own CPU seconds so far (INFO cpu: the server's main thread and children)."""
    info = rig.store.client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def idle(rig: Rig, seconds: float, profile: Path | None = None) -> dict[str, Any]:
    cpu, redis = rig.cpu_seconds(), rig.redis_commands()
    cpu["redis"] = redis_cpu(rig)
    calls = rig.redis_calls()
    tasks = tasks_done(rig)
    rig.kube_counts(reset=True)
    spy = None
    if profile is not None and "watch" in rig.processes():
        # The rig's own watcher, by its pid: py-spy samples it from outside the process.
        profile.mkdir(parents=True, exist_ok=True)
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--gil",
                "--rate",
                "50",
                "--format",
                "raw",
                "--duration",
                str(int(seconds)),
                "--pid",
                str(rig.processes()["watch"].pid),
                "-o",
                str(profile / "watcher.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    time.sleep(seconds)
    minutes = seconds / 60
    cpu_after, counts = rig.cpu_seconds(), rig.kube_counts()
    cpu_after["redis"] = redis_cpu(rig)
    tasks_after = tasks_done(rig)
    if spy is not None:
        spy.wait(timeout=60)

    def per_min(n: float) -> float:
        return round(n / minutes, 1)

    return {
        "seconds": seconds,
        "cpu_seconds_per_min": {
            k: round((cpu_after[k] - cpu.get(k, 0)) / minutes, 2) for k in cpu_after
        },
        "cpu_seconds_per_min_all": round(
            sum(cpu_after[k] - cpu.get(k, 0) for k in cpu_after) / minutes, 2
        ),
        "kube_requests_per_min": per_min(sum(counts.values())),
        "kube_writes": writes(counts),
        "tasks_per_min": {k: per_min(n - tasks.get(k, 0)) for k, n in sorted(tasks_after.items())},
        "kube_requests_per_min_by_verb": {
            f"{v} {r}": per_min(n) for (v, r), n in sorted(counts.items())
        },
        "redis_commands_per_min": per_min(rig.redis_commands() - redis),
        "redis_top_commands_per_min": {
            cmd: per_min(n) for cmd, n in (rig.redis_calls() - calls).most_common(6)
        },
        "watcher_rss_mib": round(rig.rss_mib("watch"), 1) if "watch" in rig.processes() else None,
    }


def heal(
    rig: Rig,
    clusters: Clusters,
    app: str,
    act: Callable[[str], int],
    healed: Callable[[PairStatus], bool],
    timeout: float,
) -> dict[str, Any]:
    """Do `act` on every cluster, then time each cluster's healing reconcile."""
    at: dict[str, float] = {}
    for cluster in rig.clusters:
        code = act(cluster)
        if code >= 300:
            raise RuntimeError(f"{cluster}: the change by hand was refused ({code})")
        at[cluster] = time.time()
    took: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(took) < len(at) and time.monotonic() < deadline:
        for cluster, t in at.items():
            if cluster in took:
                continue
            for entry in rig.store.history(app, cluster, limit=5):
                if entry.at > t and entry.trigger is Trigger.DRIFT and healed(entry):
                    took[cluster] = entry.at - t
                    break
        time.sleep(0.1)
    result: dict[str, Any] = {"healed": len(took), "of": len(at)}
    if took:
        result.update(percentiles(list(took.values())))
    return result


def one_by_one(
    rig: Rig,
    app: str,
    act: Callable[[str], int],
    healed: Callable[[PairStatus], bool],
    samples: int,
    timeout: float,
) -> dict[str, Any]:
    """`act` on one cluster at a time, each time waiting for its heal: the latency of one
    drift, without the queue 100 simultaneous ones make."""
    took: list[float] = []
    for cluster in rig.clusters[:samples]:
        if act(cluster) >= 300:
            raise RuntimeError(f"{cluster}: the change by hand was refused")
        t = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = next(
                (
                    e
                    for e in rig.store.history(app, cluster, limit=5)
                    if e.at > t and e.trigger is Trigger.DRIFT and healed(e)
                ),
                None,
            )
            if entry is not None:
                took.append(entry.at - t)
                break
            time.sleep(0.05)
    result: dict[str, Any] = {"healed": len(took), "of": samples}
    if took:
        result.update(percentiles(took))
    return result


def arm(work: Path, args: argparse.Namespace, *, watch: bool) -> dict[str, Any]:
    opts = RigOptions(clusters=args.clusters, watch=watch)
    with Rig(work, opts) as rig:
        # Idle: both arms at the same driftInterval (the watch arm's backstop checks and the
        # watcher together, against interval checks alone), unless `--watch-idle-drift`.
        idle_drift = (args.watch_idle_drift or args.idle_drift) if watch else args.idle_drift
        declared = time.monotonic()
        pairs = fleet(rig, args, idle_drift)
        figures: dict[str, Any] = {
            "watch": watch,
            "clusters": args.clusters,
            "applications": args.apps,
            "pairs": len(pairs),
            "seconds_to_converge": round(time.monotonic() - declared, 1),
        }
        if watch:
            figures["seconds_to_every_cluster_watched"] = wait_watched(rig, args.timeout)
        figures["settle_seconds"] = settle(rig, quiet=args.settle_quiet)
        wait = declared + args.idle_after - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        figures["idle_from_seconds_after_declared"] = round(time.monotonic() - declared, 1)
        figures["idle_drift_interval"] = idle_drift
        figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
        figures["idle"] = idle(rig, args.idle_seconds, args.profile)
        figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        if watch:
            figures["drift_detection"] = dict(
                Counter(d.describe() for d in rig.store.drift_detection(rig.clusters).values())
            )
        if args.idle_only:
            return figures
        interval = "1h" if watch else f"{args.interval}s"
        declare(rig, args, interval)
        time.sleep(3)  # the beat publishes the new driftInterval and plans the due-set again
        figures["drift_interval"] = interval
        clusters = Clusters(rig)
        limit = args.timeout if watch else 2 * args.interval + args.timeout

        def edit(cluster: str) -> int:
            return clusters.request(
                cluster,
                "PATCH",
                "/api/v1/namespaces/default/configmaps/web0",
                params={"fieldManager": "kubectl-edit"},
                headers={"Content-Type": "application/merge-patch+json"},
                content=json.dumps({"data": {"value": f"edited-{time.monotonic()}"}}),
            )

        def delete(cluster: str) -> int:
            return clusters.request(cluster, "DELETE", "/api/v1/namespaces/default/services/web0")

        figures["edit"] = heal(
            rig, clusters, "web0", edit, lambda s: s.counts.get("configured", 0) >= 1, limit
        )
        figures["delete"] = heal(
            rig, clusters, "web0", delete, lambda s: s.counts.get("created", 0) >= 1, limit
        )
        if watch and args.one_by_one:
            figures["edit_one_at_a_time"] = one_by_one(
                rig,
                "web0",
                edit,
                lambda s: s.counts.get("configured", 0) >= 1,
                args.one_by_one,
                args.timeout,
            )
            figures["delete_one_at_a_time"] = one_by_one(
                rig,
                "web0",
                delete,
                lambda s: s.counts.get("created", 0) >= 1,
                args.one_by_one,
                args.timeout,
            )
        return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.drift_watch", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--apps", type=int, default=10, help="applications, each on every cluster")
    parser.add_argument(
        "--interval",
        type=int,
        default=60,
        help="driftInterval (s) of the interval-only arm's edits and deletes",
    )
    parser.add_argument("--idle-drift", default="5m", help="driftInterval while idle (both arms)")
    parser.add_argument(
        "--watch-idle-drift", default=None, help="the watch arm's driftInterval while idle"
    )
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument(
        "--idle-after",
        type=float,
        default=0.0,
        help="the idle window starts no sooner than this many seconds after the fleet is declared",
    )
    parser.add_argument("--idle-only", action="store_true", help="no edits or deletes")
    parser.add_argument("--layout", choices=("all", "spread"), default="all")
    parser.add_argument("--objects", choices=("app", "configmap"), default="app")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the watcher here")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--settle-quiet",
        type=float,
        default=15.0,
        help="seconds without a task that count as settled before the idle window",
    )
    parser.add_argument("--arm", choices=("watch", "interval"), action="append")
    parser.add_argument(
        "--one-by-one",
        type=int,
        default=20,
        help="with watches, also edit (then delete) this many clusters one at "
        "a time, each after the last one healed",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out/drift-watch.json"))
    args = parser.parse_args(argv)
    if not args.idle_only and (args.layout != "all" or args.objects != "app"):
        parser.error("the edits and deletes need --layout all --objects app (or --idle-only)")
    results: dict[str, Any] = {
        "command": "python -m bench.drift_watch "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "arms": {},
    }
    with tempfile.TemporaryDirectory(prefix="fleetsync-drift-") as tmp:
        for name in args.arm or ("watch", "interval"):
            started = time.monotonic()
            results["arms"][name] = arm(Path(tmp) / name, args, watch=name == "watch")
            results["arms"][name]["run_seconds"] = round(time.monotonic() - started, 1)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
            print(json.dumps(results["arms"][name], indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
