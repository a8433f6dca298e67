"""The six scenarios of the benchmark: each takes a fresh rig and returns its figures.

A scenario that cannot finish records why instead of a number (`{"failed": reason}`); the
harness goes on with the next.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.profile_rollout import _record
from bench.rig import Rig, RigOptions, app_manifests, writes
from fleetsync.scheduler.watcher import BEAT_SECONDS as WATCHER_BEAT
from fleetsync.shared.render.kustomize import kubectl_binary
from tests.support.git_server import WorkRepo


@dataclass(frozen=True, slots=True)
class Sizes:
    fanout_clusters: tuple[int, ...]
    idle_repos: tuple[int, ...]
    idle_clusters: int
    idle_seconds: float
    monorepo_apps: int
    scale_pairs: tuple[int, ...]
    scale_clusters: int
    worker_curve_pairs: int
    worker_counts: tuple[int, ...]
    faulty_clusters: int
    faulty_bad: int
    timeout: float
    variant_clusters: tuple[int, int] = (8, 2)
    """Clusters and regions of the per-cluster values scenario (bench/variants.py)."""
    large_pairs: int = 0
    """The scale curve's largest point (0: none), on `large_clusters` clusters, with each
    number of apply processes of `worker_counts`; push mode beside each."""
    large_clusters: int = 1000


QUICK = Sizes(
    fanout_clusters=(10,),
    idle_repos=(10,),
    idle_clusters=2,
    idle_seconds=8.0,
    monorepo_apps=20,
    scale_pairs=(10, 40),
    scale_clusters=10,
    worker_curve_pairs=40,
    worker_counts=(1, 2),
    faulty_clusters=20,
    faulty_bad=2,
    timeout=60.0,
)
FULL = Sizes(
    fanout_clusters=(10, 100, 1000),
    idle_repos=(100, 1000),
    idle_clusters=2,
    idle_seconds=60.0,
    monorepo_apps=200,
    scale_pairs=(10, 100, 1000, 10000),
    scale_clusters=100,
    worker_curve_pairs=10000,
    worker_counts=(1, 2, 4),
    faulty_clusters=100,
    faulty_bad=5,
    timeout=600.0,
    variant_clusters=(1000, 10),
    large_pairs=50000,
    large_clusters=1000,
)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max": round(ordered[-1], 3),
    }


def _rollout(
    rig: Rig,
    repo: WorkRepo,
    pairs: list[tuple[str, str]],
    value: str,
    *,
    webhook: bool,
    timeout: float,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Commit a new value of the application, push it (or let polling find it) and time it;
    the requests counted are those made after the cluster traffic of earlier steps settled.
    With `profile`, py-spy records the apply workers until every pair is done."""
    # Longer than a beat of the watch process, which starts the watches of kinds new in the
    # inventories at its next beat; on 1,000 clusters, starting them (and the drift checks of
    # the clusters newly watched) takes minutes on a loaded machine.
    settled = rig.wait_kube_quiet(quiet=WATCHER_BEAT + 2.0, timeout=max(60.0, 0.2 * len(pairs)))
    rig.kube_counts(reset=True)
    repo.write("apps/web/app.yaml", app_manifests("web", value))
    sha = repo.commit(f"value {value}")
    spies = []
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        for name, proc in rig.processes().items():
            if name.startswith("apply"):
                spies.append(_record(proc.pid, timeout, profile / f"{name}.txt", gil=True))
        time.sleep(1.0)  # py-spy attaches
    cpu = rig.cpu_seconds()
    pushed = time.time()
    if webhook:
        assert rig.webhook("fleet") == 202
    done = rig.wait_converged(pairs, sha, timeout)
    spent = rig.cpu_seconds()
    for spy in spies:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it recorded and ends
        spy.wait()
    latencies = [at - pushed for at in done.values()]
    counts = rig.kube_counts()
    figures: dict[str, Any] = {"converged": len(done), "of": len(pairs), "settled": settled}
    if latencies:
        figures.update(
            {
                "total_seconds": round(max(latencies), 3),
                **percentiles(latencies),
                "latencies": [round(x, 3) for x in sorted(latencies)],
            }
        )
    figures["cpu_seconds"] = {n: round(spent[n] - cpu.get(n, 0.0), 2) for n in spent}
    figures["requests_per_cluster"] = round(sum(counts.values()) / len(pairs), 1)
    figures["writes_per_cluster"] = round(writes(counts) / len(pairs), 1)
    figures["requests_by_verb"] = {f"{v} {r}": n for (v, r), n in sorted(counts.items())}
    return figures


def _web_everywhere(rig: Rig, sizes: Sizes) -> tuple[WorkRepo | None, list[tuple[str, str]]]:
    """One application, `web`, on every cluster of the rig, rolled out: its repository (None
    when the first rollout did not converge) and its pairs."""
    repo = rig.repo("fleet")
    repo.write("apps/web/app.yaml", app_manifests("web", "0"))
    sha = repo.commit("web")
    rig.write_fleet({"fleet": 3600}, [("web", "fleet", "apps/web", "*")])
    pairs = [("web", c) for c in rig.clusters]
    if len(rig.wait_converged(pairs, sha, sizes.timeout)) < len(pairs):
        return None, pairs
    return repo, pairs


def fanout(
    work: Path,
    clusters: int,
    sizes: Sizes,
    *,
    profile: Path | None = None,
    kubectl: bool = True,
) -> dict[str, Any]:
    """1 and 2: a commit to one application on C clusters, by webhook and by poll, then the
    same manifests pushed with kubectl, sequentially and 8 at a time. With `profile`, py-spy
    records the apply worker (its GIL samples) from the webhook until every cluster is Synced
    (`<profile>/apply.txt`). Without `kubectl`, no kubectl loop (comparisons of two builds)."""
    with Rig(work, RigOptions(clusters=clusters, with_api=True)) as rig:
        repo, pairs = _web_everywhere(rig, sizes)
        if repo is None:
            return {"failed": "the first rollout did not converge"}
        webhook = _rollout(
            rig, repo, pairs, "1", webhook=True, timeout=sizes.timeout, profile=profile
        )
        webhook["apply_worker_rss_mib"] = {
            n: round(rig.rss_mib(n), 1) for n in rig.processes() if n.startswith("apply")
        }
        rig.write_fleet({"fleet": 2}, [("web", "fleet", "apps/web", "*")])
        time.sleep(3)
        poll = _rollout(rig, repo, pairs, "2", webhook=False, timeout=sizes.timeout)
        if not kubectl:
            return {"clusters": clusters, "webhook": webhook, "poll": poll}
        baseline = kubectl_baseline(rig, value="3")
    result = {"clusters": clusters, "webhook": webhook, "poll": poll, "kubectl": baseline}
    if "total_seconds" in webhook:
        total = webhook["total_seconds"]
        result["ratio_to_kubectl_sequential"] = round(total / baseline["sequential_seconds"], 3)
        result["ratio_to_kubectl_parallel8"] = round(total / baseline["parallel8_seconds"], 3)
    return result


def kubectl_baseline(rig: Rig, *, value: str) -> dict[str, float]:
    """Push mode: `kubectl apply --server-side` of the same manifests to every cluster."""
    kubectl = str(kubectl_binary())
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "app.yaml"
        manifest.write_text(app_manifests("pushed", value, namespace="default"))

        def push(cluster: str) -> int:
            return subprocess.run(
                [
                    kubectl,
                    "--kubeconfig",
                    str(rig.kubeconfigs / f"{cluster}.kubeconfig"),
                    "apply",
                    "--server-side",
                    "--field-manager",
                    "push-ci",
                    "-f",
                    str(manifest),
                ],
                capture_output=True,
                check=False,
            ).returncode

        started = time.monotonic()
        failures = sum(push(c) != 0 for c in rig.clusters)
        sequential = time.monotonic() - started
        manifest.write_text(app_manifests("pushed", value + "b", namespace="default"))
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            failures += sum(code != 0 for code in pool.map(push, rig.clusters))
        parallel = time.monotonic() - started
    return {
        "sequential_seconds": round(sequential, 3),
        "parallel8_seconds": round(parallel, 3),
        "failures": failures,
    }


def idle(work: Path, repos: int, sizes: Sizes) -> dict[str, Any]:
    """3: R repositories, one application each on a few clusters, and no commit. Intervals
    grow with R so that one round of ls-remotes fits in an interval on a small machine."""
    interval = max(2.0, repos / 20)
    drift = 2 * interval
    with Rig(work, RigOptions(clusters=sizes.idle_clusters)) as rig:
        names = [f"repo-{i:04d}" for i in range(repos)]
        heads = {}
        for name in names:
            repo = rig.repo(name)
            repo.write("app/cm.yaml", _cm(name, "1"))
            heads[name] = repo.commit("init")
        targets = ",".join(rig.clusters)
        rig.write_fleet(
            {n: interval for n in names},
            [(n, n, "app", targets) for n in names],
            drift=f"{int(drift)}s",
        )
        pairs = [(n, c) for n in names for c in rig.clusters]
        deadline = time.monotonic() + sizes.timeout
        while time.monotonic() < deadline:
            if all(rig.converged([(n, c)], heads[n]) for n, c in pairs):
                break
            time.sleep(0.5)
        else:
            return {"failed": "the fleet did not converge before the idle window"}
        time.sleep(2 * interval)
        stats, cpu, redis = rig.store.stats(), rig.cpu_seconds(), rig.redis_commands()
        calls = rig.redis_calls()
        rig.kube_counts(reset=True)
        window = max(sizes.idle_seconds, 3 * drift)
        time.sleep(window)
        minutes = window / 60
        after, cpu_after = rig.store.stats(), rig.cpu_seconds()
        counts = rig.kube_counts()

        def per_min(n: float) -> float:
            return round(n / minutes, 1)

        return {
            "repositories": repos,
            "clusters": sizes.idle_clusters,
            "poll_interval": interval,
            "drift_interval": drift,
            "seconds": window,
            "ls_remote_per_min": per_min(after.get("ls_remote", 0) - stats.get("ls_remote", 0)),
            "floor_ls_remote_per_min": per_min(repos * window / interval),
            "fetches_per_min": per_min(after.get("fetch", 0) - stats.get("fetch", 0)),
            "renders_per_min": per_min(after.get("render", 0) - stats.get("render", 0)),
            "kube_requests_per_min": {
                f"{v} {r}": per_min(n) for (v, r), n in sorted(counts.items())
            },
            "kube_writes_per_min": per_min(writes(counts)),
            "redis_commands_per_min": per_min(rig.redis_commands() - redis),
            "redis_top_commands_per_min": {
                cmd: per_min(n) for cmd, n in (rig.redis_calls() - calls).most_common(6)
            },
            "cpu_seconds_per_min": {
                k: round((cpu_after[k] - cpu.get(k, 0)) / minutes, 2) for k in cpu_after
            },
        }


def monorepo(work: Path, apps: int, sizes: Sizes) -> dict[str, Any]:
    """4: one repository with A applications, a commit touching one of them."""
    with Rig(work, RigOptions(clusters=2)) as rig:
        repo = rig.repo("mono")
        names = [f"app-{i:03d}" for i in range(apps)]
        for name in names:
            repo.write(
                f"apps/{name}/cm.yaml",
                f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n",
            )
        first = repo.commit("init")
        rig.write_fleet({"mono": 2}, [(n, "mono", f"apps/{n}", "*") for n in names])
        pairs = [(n, c) for n in names for c in rig.clusters]
        if len(rig.wait_converged(pairs, first, sizes.timeout)) < len(pairs):
            return {"failed": "the first rollout did not converge"}
        time.sleep(3)
        stats = rig.store.stats()
        rig.kube_counts(reset=True)
        touched = names[len(names) // 2]
        repo.write(
            f"apps/{touched}/cm.yaml",
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {touched}}}\n"
            "data: {changed: 'yes'}\n",
        )
        sha = repo.commit("touch one")
        started = time.time()
        rig.refresh("mono")
        done = rig.wait_converged([(touched, c) for c in rig.clusters], sha, sizes.timeout)
        time.sleep(1)
        after = rig.store.stats()
        counts = rig.kube_counts()
        reconciles = sum(
            after.get(k, 0) - stats.get(k, 0)
            for k in after
            if k.startswith("reconcile_") and not k.startswith("reconcile_ms")
        )
        return {
            "applications": apps,
            "clusters": len(rig.clusters),
            "renders": after.get("render", 0) - stats.get("render", 0),
            "render_cache_hits": after.get("render_cache_hit", 0)
            - stats.get("render_cache_hit", 0),
            "reconciles": reconciles,
            "kube_writes": writes(counts),
            "converge_seconds": round(max(done.values()) - started, 3) if done else None,
        }


def fleet_wide(
    work: Path,
    pairs: int,
    clusters: int,
    workers: int,
    sizes: Sizes,
    *,
    batch_from: int = 2,
    kubectl: bool = False,
    profile: Path | None = None,
    profile_seconds: float = 20.0,
) -> dict[str, Any]:
    """5: apps x clusters pairs, one commit changing every application; one task per pair, or
        one per cluster where it has `batch_from` changed applications or more; with `kubectl`,
        then push mode on the same clusters: one `kubectl apply --server-side` per cluster carrying
        every application's ConfigMap (objects of the same count and size, other names). With
    `profile`, py-spy records the apply workers during the change (`<profile>/<process>.txt`)."""
    clusters = min(clusters, pairs)
    apps = max(1, pairs // clusters)
    # Each apply worker keeps a client per cluster the fleet declares (FLEETSYNC_KUBE_CLIENTS
    # unset), as in the fan-out.
    env = (("FLEETSYNC_CLUSTER_BATCH", str(batch_from)),)
    # The first rollout and the change each converge at some tens of pairs a second per apply
    # process on a loaded machine: give each a deadline that grows with the pairs.
    deadline = max(sizes.timeout * 2, pairs / 10)
    with Rig(work, RigOptions(clusters=clusters, apply_workers=workers, env=env)) as rig:
        repo = rig.repo("fleet")
        names = [f"app-{i:03d}" for i in range(apps)]
        for name in names:
            repo.write(f"apps/{name}/cm.yaml", _cm(name, "1"))
        first = repo.commit("init")
        rig.write_fleet({"fleet": 2}, [(n, "fleet", f"apps/{n}", "*") for n in names])
        all_pairs = [(n, c) for n in names for c in rig.clusters]
        setup_started = time.time()
        if len(rig.wait_converged(all_pairs, first, deadline)) < len(all_pairs):
            return {"pairs": len(all_pairs), "failed": "the first rollout did not converge"}
        setup_seconds = time.time() - setup_started
        for name in names:
            repo.write(f"apps/{name}/cm.yaml", _cm(name, "2"))
        sha = repo.commit("change every application")
        cpu, commands, calls = rig.cpu_seconds(), rig.redis_commands(), rig.redis_calls()
        rig.kube_counts(reset=True)
        rig.kube_connections_accepted(reset=True)
        spies = []
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
            for name, proc in rig.processes().items():
                if name.startswith("apply") or name == "kubesim":
                    spies.append(
                        _record(proc.pid, profile_seconds, profile / f"{name}.txt", gil=True)
                    )
            time.sleep(1.0)  # py-spy attaches
        started = time.time()
        rig.refresh("fleet")
        done = rig.wait_converged(all_pairs, sha, deadline)
        for spy in spies:
            spy.wait()
        spent = rig.cpu_seconds()
        requests = rig.kube_counts()
        # Less the two admin requests' own (each on a connection of its own).
        opened = rig.kube_connections_accepted() - 2
        rss = {n: round(rig.rss_mib(n), 1) for n in rig.processes() if n.startswith("apply")}
        held = {n: rig.kube_connections(n) for n in rig.processes() if n.startswith("apply")}
        memory = rig.store.client.info("memory")
        redis_memory = int(memory["used_memory"])
        result: dict[str, Any] = {
            "pairs": len(all_pairs),
            "applications": apps,
            "clusters": clusters,
            "apply_workers": workers,
            "batch_from": batch_from,
            "converged": len(done),
            "converge_seconds": round(max(done.values()) - started, 3)
            if len(done) == len(all_pairs)
            else None,
            "apply_worker_rss_mib": rss,
            "apply_worker_kube_connections": held,
            "kube_connections_per_cluster": round(sum(held.values()) / clusters / workers, 2),
            "kube_connections_opened_per_pair": round(opened / len(all_pairs), 2),
            "cpu_seconds": {n: round(spent[n] - cpu.get(n, 0.0), 2) for n in spent},
            "redis_commands_per_pair": round((rig.redis_commands() - commands) / len(all_pairs), 1),
            "redis_calls_per_pair_by_command": {
                command: round(n / len(all_pairs), 2)
                for command, n in sorted((rig.redis_calls() - calls).items())
                if n
            },
            "kube_requests_per_pair": round(sum(requests.values()) / len(all_pairs), 2),
            "kube_writes_per_pair": round(writes(requests) / len(all_pairs), 2),
            "kube_requests_by_verb": {
                f"{verb} {resource}": n for (verb, resource), n in sorted(requests.items())
            },
            "redis_memory_bytes_per_pair": round(redis_memory / len(all_pairs)),
            "redis_memory_mib": round(redis_memory / 2**20, 1),
            "redis_rss_mib": round(int(memory["used_memory_rss"]) / 2**20, 1),
            "rss_mib": {n: round(rig.rss_mib(n), 1) for n in rig.processes()},
            "first_rollout_seconds": round(setup_seconds, 1),
        }
        if kubectl:
            result["kubectl"] = kubectl_fleet(rig, names)
            if result["converge_seconds"]:
                seconds = result["kubectl"]["sequential_seconds"]
                result["ratio_to_kubectl_sequential"] = round(
                    result["converge_seconds"] / seconds, 3
                )
        return result


def kubectl_fleet(rig: Rig, names: list[str]) -> dict[str, float]:
    """Push mode for the fleet-wide change: one `kubectl apply --server-side` per cluster,
    carrying every application's ConfigMap, one cluster after the other. A first loop creates
    the objects (4 clusters at a time: it is not timed); the second, timed, updates them (as
    fleetsync's change does)."""
    kubectl = str(kubectl_binary())
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "all.yaml"

        def push(cluster: str) -> bool:
            argv = [kubectl, "--kubeconfig", str(rig.kubeconfigs / f"{cluster}.kubeconfig")]
            argv += ["apply", "--server-side", "--field-manager", "push-ci", "-f", str(manifest)]
            return subprocess.run(argv, capture_output=True, check=False).returncode != 0

        manifest.write_text("---\n".join(_cm(f"push-{n}", "1") for n in names))
        with ThreadPoolExecutor(4) as pool:
            failures = sum(pool.map(push, rig.clusters))
        manifest.write_text("---\n".join(_cm(f"push-{n}", "2") for n in names))
        started = time.monotonic()
        failures += sum(push(c) for c in rig.clusters)
        sequential = time.monotonic() - started
    return {"sequential_seconds": round(sequential, 3), "failures": failures}


def _cm(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{v: '{value}'}}\n"


def faulty(work: Path, clusters: int, bad: int, sizes: Sizes) -> dict[str, Any]:
    """6: the same commit with and without `bad` slow and `bad` down clusters."""
    with Rig(work, RigOptions(clusters=clusters, with_api=True)) as rig:
        repo, pairs = _web_everywhere(rig, sizes)
        if repo is None:
            return {"failed": "the first rollout did not converge"}
        healthy_fleet = _rollout(rig, repo, pairs, "1", webhook=True, timeout=sizes.timeout)
        slow, down = rig.clusters[:bad], rig.clusters[bad : 2 * bad]
        for c in slow:
            rig.set_fault(c, latency=1.0)
        for c in down:
            rig.set_fault(c, down=True, down_mode="hang")
        healthy_pairs = [("web", c) for c in rig.clusters[2 * bad :]]
        with_faults = _rollout(rig, repo, healthy_pairs, "2", webhook=True, timeout=sizes.timeout)
    result: dict[str, Any] = {
        "clusters": clusters,
        "slow": bad,
        "down": bad,
        "all_healthy": healthy_fleet,
        "healthy_with_faults": with_faults,
    }
    if "total_seconds" in healthy_fleet and "total_seconds" in with_faults:
        result["slowdown_ratio"] = round(
            with_faults["total_seconds"] / healthy_fleet["total_seconds"], 3
        )
    return result
