"""The beat's cost per tick of notifications (`python -m bench.notify_tick`).

A real redis-server holds A applications x C clusters, each pair's status written as a
reconcile writes it, and a declaration with one notification watching every event. The beat's
look (`shared/notices.py: due_notifications`) then runs as each tick runs it. Measured: wall
time and Redis commands per look, (1) the first looks (every pair of the fleet read, a slice a
look, until done), (2) steady,
nothing written since the last look, (3) N statuses written between looks, none a change of
state (drift checks), (4) N statuses written between looks, each a change of state (a failure:
one event each).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from fleetsync.scheduler.embedded_redis import running_redis
from fleetsync.shared.model.declaration import Application, Cluster, Fleet, Repository, Targets
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.notification import EventKind, Notification, NotifierKind
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.notices import due_notifications
from fleetsync.shared.store import Store

REV = Revision("main", "a" * 40)


def build(store: Store, apps: int, clusters: int) -> Fleet:
    names = [ClusterName(f"c{i:04d}") for i in range(clusters)]
    fleet = Fleet(
        repositories={RepoName("r"): Repository(RepoName("r"), "https://git.invalid/r.git")},
        clusters={c: Cluster(c, "/k") for c in names},
        applications={
            AppName(f"app{a:04d}"): Application(
                AppName(f"app{a:04d}"), RepoName("r"), f"apps/{a}", targets=Targets(clusters=names)
            )
            for a in range(apps)
        },
        notifications=(
            Notification(
                name="ops",
                kind=NotifierKind.WEBHOOK,
                events=tuple(EventKind),
                url_env="OPS_HOOK_URL",
            ),
        ),
    )
    store.publish_fleet(fleet, "bench")
    for app in fleet.applications:
        for cluster in names:
            store.record_status(status(app, cluster))
    return fleet


def status(app: str, cluster: str, *, failed: bool = False) -> PairStatus:
    return PairStatus(
        application=app,
        cluster=cluster,
        sync=SyncState.UNKNOWN if failed else SyncState.SYNCED,
        health=Health.UNKNOWN if failed else Health.HEALTHY,
        revision=REV,
        digest=Digest("d"),
        at=time.time(),
        message="cluster unreachable" if failed else "3 unchanged",
        failed=failed,
    )


def commands(store: Store) -> int:
    return int(store.client.info("stats")["total_commands_processed"])


def measure(
    store: Store, fleet: Fleet, looks: int, writes: int, *, failing: bool, scan: bool = False
) -> dict[str, float]:
    pairs = [(a, c) for a in sorted(fleet.applications) for c in sorted(fleet.clusters)]
    times: list[float] = []
    counts: list[int] = []
    sent: list[int] = []
    offset = 0
    for n in range(looks):
        if scan and n and store.notify_scan() is None:
            break
        for w in range(writes):
            app, cluster = pairs[(offset + w) % len(pairs)]
            written = status(app, cluster, failed=failing)
            store.record_status(replace(written, message=f"{written.message} ({w})"))
        offset += writes
        before = commands(store)
        started = time.perf_counter()
        deliveries = due_notifications(store, fleet)
        times.append(time.perf_counter() - started)
        counts.append(commands(store) - before - 1)
        sent.append(len(deliveries))
    return {
        "ms_mean": statistics.mean(times) * 1000,
        "ms_p95": sorted(times)[int(0.95 * (len(times) - 1))] * 1000,
        "redis_commands": statistics.mean(counts),
        "events": statistics.mean(sent),
        "looks": len(times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.notify_tick")
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--looks", type=int, default=20)
    parser.add_argument("--writes", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work, running_redis(Path(work)) as url:
        store = Store.connect(url)
        started = time.perf_counter()
        fleet = build(store, args.apps, args.clusters)
        print(
            f"{args.apps} applications x {args.clusters} clusters, one notification watching "
            f"every event; statuses written in {time.perf_counter() - started:.1f}s"
        )
        n = args.writes
        rows = [
            (
                "looks at every pair (5,000 a look), until done",
                measure(store, fleet, 1000, 0, failing=False, scan=True),
            ),
            ("steady: nothing written", measure(store, fleet, args.looks, 0, failing=False)),
            (
                f"{n} statuses written per look, no change of state",
                measure(store, fleet, args.looks, n, failing=False),
            ),
            (
                f"{n} statuses written per look, each a new failure",
                measure(store, fleet, args.looks, n, failing=True),
            ),
        ]
        print("| look | looks | ms (mean) | ms (p95) | Redis commands | events |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, row in rows:
            print(
                f"| {name} | {row['looks']:.0f} | {row['ms_mean']:.1f} | {row['ms_p95']:.1f} | "
                f"{row['redis_commands']:.0f} | {row['events']:.0f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
