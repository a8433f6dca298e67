"""`python -m bench.watch_memory`: the watcher's memory beside objects fleetsync does not own.

One rig (Redis, `kubesim serve`, a git daemon, beat, workers and the watcher, as `fleetsync up`
runs them) with K applications (a ConfigMap, a Service and a Deployment each) on one cluster,
every cluster watched. Then N ConfigMaps that no application declares are created in the
applications' namespace (a kind the watcher watches), and each is edited once: without the
label selector on the watch request every one of those 2N changes would reach the watcher.
Reported: the watcher's RSS once watching, after the N creations and after the N edits; the
kubesim process's RSS beside it (it holds the objects); the reconciles run meanwhile (a drift
check the watcher asked for is one: none expected).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.drift_watch import Clusters, fleet, settle, wait_watched
from bench.rig import Rig, RigOptions


def unowned(clusters: Clusters, cluster: str, count: int, *, edit: bool) -> int:
    """Create (or, with `edit`, edit) `count` ConfigMaps fleetsync does not own: the failures."""

    def one(i: int) -> int:
        name = f"unowned-{i}"
        if edit:
            return clusters.request(
                cluster,
                "PATCH",
                f"/api/v1/namespaces/default/configmaps/{name}",
                params={"fieldManager": "kubectl-edit"},
                headers={"Content-Type": "application/merge-patch+json"},
                content=json.dumps({"data": {"value": "edited"}}),
            )
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"value": "x" * 64},
        }
        return clusters.request(
            cluster,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            headers={"Content-Type": "application/json"},
            content=json.dumps(body),
        )

    with ThreadPoolExecutor(8) as pool:
        return sum(1 for code in pool.map(one, range(count)) if code >= 300)


def reconciles(rig: Rig) -> int:
    """Reconciles run so far (each drift check is one, quiet ones included)."""
    return sum(n for k, n in rig.store.stats().items() if k.startswith("task:reconcile"))


def run(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    with Rig(work, RigOptions(clusters=1, watch=True)) as rig:
        # drift_watch's fleet: every application (ConfigMap, Service, Deployment) everywhere.
        shape = argparse.Namespace(
            apps=args.apps, objects="app", layout="all", timeout=args.timeout
        )
        pairs = fleet(rig, shape, "1h")
        figures: dict[str, Any] = {"pairs": len(pairs), "unowned_configmaps": args.objects}
        figures["seconds_to_watched"] = wait_watched(rig, args.timeout)
        settle(rig, quiet=args.settle_quiet)
        cluster = rig.clusters[0]
        clusters = Clusters(rig)
        before = reconciles(rig)
        figures["watcher_rss_mib_watching"] = round(rig.rss_mib("watch"), 1)
        figures["kubesim_rss_mib_watching"] = round(rig.rss_mib("kubesim"), 1)
        started = time.monotonic()
        figures["create_failures"] = unowned(clusters, cluster, args.objects, edit=False)
        figures["create_seconds"] = round(time.monotonic() - started, 1)
        time.sleep(args.settle_quiet)  # a bench: let any event reach the watcher
        figures["watcher_rss_mib_after_create"] = round(rig.rss_mib("watch"), 1)
        started = time.monotonic()
        figures["edit_failures"] = unowned(clusters, cluster, args.objects, edit=True)
        figures["edit_seconds"] = round(time.monotonic() - started, 1)
        time.sleep(args.settle_quiet)
        figures["watcher_rss_mib_after_edit"] = round(rig.rss_mib("watch"), 1)
        figures["kubesim_rss_mib_after_edit"] = round(rig.rss_mib("kubesim"), 1)
        figures["reconciles_meanwhile"] = reconciles(rig) - before
        figures["watch_requests"] = sum(
            n for (verb, _), n in rig.kube_counts().items() if verb == "watch"
        )
        return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.watch_memory", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--objects", type=int, default=10_000, help="ConfigMaps fleetsync does not own"
    )
    parser.add_argument("--apps", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--settle-quiet", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("bench/out/watch-memory.json"))
    args = parser.parse_args(argv)
    command = "python -m bench.watch_memory " + " ".join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="fleetsync-watch-memory-") as tmp:
        figures = {"command": command, **run(Path(tmp), args)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
