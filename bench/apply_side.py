"""Apply-side figures (issue 4): requests per reconcile, time for a new revision to reach a
fleet, and apply-worker memory over many clusters.

    python bench/apply_side.py [--clusters 100] [--memory-clusters 1000] [--objects 50]

Real parts: a redis-server, kubesim serving the clusters over HTTP, and a real Celery worker on
the `apply` queue (threads pool, in this process) running fleetsync's reconcile task. The source
side is skipped: bundles are written to the store as the fetch task would write them, and one
reconcile per cluster is enqueued the way its fan-out does.

1. requests per reconcile of an application of N objects (kubesim's counters): first sync,
   unchanged re-sync, one object changed;
2. a new revision reaching C clusters: seconds from the fan-out until every cluster reports
   Synced at the new digest (p50/p95/max per cluster);
3. RSS of this process (the apply worker) after reconciling one application on M clusters,
   with fleetsync's client cache bounded at 64 clusters.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleetsync.shared.fleet import fleet_digest
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    Fleet,
    Repository,
    Targets,
)
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import SyncState
from fleetsync.shared.store import DesiredState, Store
from fleetsync.shared.tasking import Priority, Trigger
from kubesim import ControllerSettings, Simulator
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.redis_server import running_redis


def objects(n: int, revision: int) -> list[dict[str, object]]:
    bundle: list[dict[str, object]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}
    ]
    kinds = ("ConfigMap", "Service", "Deployment")
    for i in range(n - 1):
        kind = kinds[i % 3] if i < 30 else "ConfigMap"
        meta = {"name": f"o{i:03d}", "namespace": "bench"}
        if kind == "ConfigMap":
            value = str(revision) if i == 0 else "1"
            bundle.append(
                {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"value": value}}
            )
        elif kind == "Service":
            bundle.append(
                {
                    "apiVersion": "v1",
                    "kind": kind,
                    "metadata": meta,
                    "spec": {"selector": {"app": meta["name"]}, "ports": [{"port": 80}]},
                }
            )
        else:
            labels = {"app": meta["name"]}
            bundle.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": kind,
                    "metadata": meta,
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
                        },
                    },
                }
            )
    return bundle


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def publish(store: Store, sim: Simulator, names: list[str]) -> Fleet:
    repo = Repository(name=RepoName("bench"), url="git://127.0.0.1:9/unused.git")
    clusters = {
        ClusterName(n): Cluster(name=ClusterName(n), kubeconfig=str(sim.kubeconfig_path(n)))
        for n in names
    }
    app = Application(
        name=AppName("bench"),
        repository=repo.name,
        path="app",
        namespace="bench",
        targets=Targets(clusters=tuple(clusters)),
    )
    fleet = Fleet(repositories={repo.name: repo}, clusters=clusters, applications={app.name: app})
    store.publish_fleet(fleet, fleet_digest(fleet))
    return fleet


def roll_out(
    store: Store, rt: object, names: list[str], n_objects: int, revision: int
) -> dict[str, float]:
    digest = set_desired(store, n_objects, revision)
    started = time.time()
    for name in names:
        rt.sender.reconcile(
            "bench",
            name,
            reason=Trigger.CHANGE,  # type: ignore[attr-defined]
            priority=Priority.CHANGE,
        )
    done: dict[str, float] = {}
    deadline = time.monotonic() + 300
    while len(done) < len(names) and time.monotonic() < deadline:
        for name in names:
            if name in done:
                continue
            status = store.status("bench", name)
            if status is not None and status.digest == digest and status.sync is SyncState.SYNCED:
                done[name] = status.at - started
        time.sleep(0.05)
    latencies = sorted(done.values())
    if len(latencies) < len(names):
        return {"converged": len(latencies), "of": len(names), "timed_out": 1.0}
    return {
        "clusters": len(names),
        "total_seconds": round(max(latencies), 2),
        "p50_seconds": round(statistics.median(latencies), 2),
        "p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "max_seconds": round(max(latencies), 2),
    }


def set_desired(store: Store, n_objects: int, revision: int) -> Digest:
    digest = store.put_bundle(Bundle.of(objects(n_objects, revision)))
    store.set_desired(
        AppName("bench"),
        DesiredState(
            revision=Revision(ref="main", sha=f"{revision:040d}"),
            digest=digest,
            renderer="plain",
            rendered_at=time.time(),
        ),
    )
    return digest


def one_reconcile(store: Store, rt: object, sim: Simulator, cluster: str) -> dict[str, int]:
    """The requests one manual reconcile of the pair sends, counted by kubesim."""
    time.sleep(0.5)  # let follow-up health checks of an earlier reconcile finish
    handle = sim.cluster(cluster)
    before = store.status("bench", cluster)
    handle.reset_request_counts()
    rt.sender.reconcile(
        "bench",
        cluster,  # type: ignore[attr-defined]
        reason=Trigger.MANUAL,
        priority=Priority.MANUAL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = store.status("bench", cluster)
        if now is not None and (before is None or now.at > before.at):
            break
        time.sleep(0.02)
    return {
        f"{verb} {res}": n
        for (verb, res), n in sorted(handle.request_counts().items())
        if res not in ("discovery", "version", "openapi")
    }


def requests_per_reconcile(
    store: Store, rt: object, sim: Simulator, n_objects: int
) -> dict[str, object]:
    cluster = "c0000"
    set_desired(store, n_objects, 1)
    first = one_reconcile(store, rt, sim, cluster)
    unchanged = one_reconcile(store, rt, sim, cluster)
    set_desired(store, n_objects, 2)
    changed = one_reconcile(store, rt, sim, cluster)
    return {
        "objects": n_objects,
        "first_sync": first,
        "unchanged": unchanged,
        "one_object_changed": changed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--memory-clusters", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="fleetsync-bench-") as tmp:
        work = Path(tmp)
        (work / "redis").mkdir()
        names = [f"c{i:04d}" for i in range(max(args.clusters, args.memory_clusters))]
        with (
            running_redis(work / "redis") as url,
            Simulator(
                clusters=names,
                kubeconfig_dir=work / "kube",
                controllers=ControllerSettings(True, 0.0, False),
            ) as sim,
        ):
            rt = configure_workers(url, work / "cache")
            store = rt.store
            with running_worker(("apply",), concurrency=args.concurrency):
                publish(store, sim, names[: args.clusters])
                results["requests_per_reconcile"] = requests_per_reconcile(
                    store, rt, sim, args.objects
                )
                roll_out(store, rt, names[: args.clusters], args.objects, 3)  # warm clients
                results["new_revision"] = roll_out(
                    store, rt, names[: args.clusters], args.objects, 4
                )
                rss_before = rss_mib()
                publish(store, sim, names[: args.memory_clusters])
                results["memory_rollout"] = roll_out(
                    store, rt, names[: args.memory_clusters], 10, 5
                )
                results["worker_rss_mib"] = {
                    "before": round(rss_before, 1),
                    "after_memory_rollout": round(rss_mib(), 1),
                    "clusters": args.memory_clusters,
                }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
