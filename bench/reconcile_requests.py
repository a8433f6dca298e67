"""Requests one reconcile of a 50-object application sends, counted by kubesim (issue 4).

    python bench/reconcile_requests.py [--json]

Starts kubesim in this process (one cluster, served over HTTP), connects fleetsync's client to it
and calls the apply engine's entry point, `sync_application`, directly: no Redis, no Celery (the
whole pipeline is `bench/apply_side.py`). The application is 2 Namespaces, 18 ConfigMaps,
10 Services, 10 Deployments and 10 Secrets across the two namespaces (50 objects, 5 kinds).

Printed, by verb and resource, for each of: the first sync, an unchanged re-sync, a re-sync with
one ConfigMap changed, a drift check and a live health check of the unchanged application.
Dry-run writes count under `<verb>-dry-run` (kubesim's counters); discovery requests (the
client's cached API list) are shown apart and are only paid by the first sync of a client.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleetsync.shared.kube.client import ClusterClient, connect
from fleetsync.shared.kube.inventory import Inventory
from fleetsync.shared.kube.sync import (
    SyncResult,
    assess_live_health,
    check_drift,
    sync_application,
)
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import Cluster, SyncPolicy
from fleetsync.shared.model.ids import ClusterName
from kubesim import ClusterHandle, ControllerSettings, Simulator

NAMESPACES = ("bench-a", "bench-b")
DISCOVERY = ("discovery", "version", "openapi")
WRITES = ("create", "update", "patch", "apply", "delete", "deletecollection")


def application(revision: int = 1) -> list[dict[str, Any]]:
    """50 objects of 5 kinds in 2 namespaces; `revision` changes ConfigMap cm-00 only."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in NAMESPACES
    ]

    def meta(name: str, i: int) -> dict[str, str]:
        return {"name": name, "namespace": NAMESPACES[i % 2]}

    for i in range(18):
        value = str(revision) if i == 0 else "1"
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": meta(f"cm-{i:02d}", i),
                "data": {"value": value, "mode": "steady"},
            }
        )
    for i in range(10):
        labels = {"app": f"web-{i:02d}"}
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(f"web-{i:02d}", i),
                "spec": {"selector": labels, "ports": [{"name": "http", "port": 80}]},
            }
        )
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta(f"web-{i:02d}", i),
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "example/web:1",
                                    "ports": [{"containerPort": 8080}],
                                    "env": [{"name": "MODE", "value": "steady"}],
                                }
                            ]
                        },
                    },
                },
            }
        )
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": meta(f"secret-{i:02d}", i),
                "type": "Opaque",
                "data": {"token": "c2VjcmV0"},
            }
        )
    assert len(objects) == 50
    return objects


def counted(handle: ClusterHandle, action: Callable[[], Any]) -> tuple[Any, dict[str, int]]:
    handle.reset_request_counts()
    result = action()
    counts = {f"{verb} {resource}": n for (verb, resource), n in handle.request_counts().items()}
    return result, dict(sorted(counts.items()))


def summary(counts: dict[str, int]) -> dict[str, int]:
    def total(test: Callable[[str, str], bool]) -> int:
        return sum(n for k, n in counts.items() if test(*k.split(" ", 1)))

    return {
        "total": total(lambda _v, r: r not in DISCOVERY),
        "writes": total(lambda v, _r: v in WRITES),
        "dry-runs": total(lambda v, _r: v.endswith("-dry-run")),
        "lists": total(lambda v, _r: v == "list"),
        "gets": total(lambda v, r: v == "get" and r not in DISCOVERY),
        "discovery": total(lambda _v, r: r in DISCOVERY),
    }


def measure(sim: Simulator, cache_dir: Path) -> dict[str, Any]:
    handle = sim.add_cluster("bench")
    handle.set_controllers(enabled=True, ready_delay=0.0)
    cluster = Cluster(name=ClusterName("bench"), kubeconfig=str(sim.kubeconfig_path("bench")))
    client = connect(cluster, cache_dir=cache_dir, timeout=10.0)

    def sync(revision: int, previous: Inventory) -> SyncResult:
        return sync_application(
            client=client,
            app="bench",
            bundle=Bundle.of(application(revision)),
            previous=previous,
            policy=SyncPolicy(),
            namespace=None,
            previous_nonempty=bool(previous),
        )

    runs: dict[str, Any] = {}

    def record(name: str, result: Any, counts: dict[str, int]) -> None:
        outcome = result.counts if isinstance(result, SyncResult) else str(result)
        runs[name] = {"outcome": outcome, "summary": summary(counts), "requests": counts}

    first, counts = counted(handle, lambda: sync(1, Inventory()))
    record("first sync", first, counts)
    again, counts = counted(handle, lambda: sync(1, first.inventory))
    record("unchanged re-sync", again, counts)
    changed, counts = counted(handle, lambda: sync(2, again.inventory))
    record("one object changed", changed, counts)
    drift, counts = counted(handle, lambda: _drift(client, application(2)))
    record("drift check (unchanged)", drift, counts)
    health, counts = counted(
        handle, lambda: assess_live_health(client, Bundle.of(application(2)))[0]
    )
    record("live health (unchanged)", health, counts)
    client.close()
    return runs


def _drift(client: ClusterClient, objects: list[dict[str, Any]]) -> str:
    return check_drift(
        client=client, app="bench", bundle=Bundle.of(objects), namespace=None
    ).summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        controllers = ControllerSettings(enabled=True, ready_delay=0.0)
        with Simulator(
            clusters=[], kubeconfig_dir=Path(tmp) / "kube", controllers=controllers
        ) as sim:
            runs = measure(sim, Path(tmp) / "cache")
    if args.json:
        print(json.dumps(runs, indent=2))
        return
    for name, run in runs.items():
        print(f"== {name}: {run['outcome']}")
        print("   " + ", ".join(f"{k}: {v}" for k, v in run["summary"].items()))
        for request, n in run["requests"].items():
            print(f"   {n:4d}  {request}")


if __name__ == "__main__":
    main()
