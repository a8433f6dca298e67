"""The beat's cost per tick with many applications in rollout (`python -m bench.rollout_tick`).

A real redis-server holds A applications, each on C clusters, each in a rollout of 3 waves whose
first wave is baking (its clusters' statuses written as the reconcile writes them); the rollout
controller (`scheduler/rollouts.py`) then ticks as the beat does. Measured: wall time and Redis
commands per tick, (1) right after a restart (every rollout looked at), (2) steady, nothing
changing (what a fleet baking costs), (3) with N pair statuses written between ticks (drift
checks and health updates arriving). No cluster is involved: the controller reads only Redis.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fleetsync.scheduler.embedded_redis import running_redis
from fleetsync.scheduler.rollouts import RolloutController
from fleetsync.shared.model.declaration import (
    Application,
    Cluster,
    Fleet,
    Repository,
    RolloutPolicy,
    Selector,
    Targets,
    WaveSpec,
)
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.rollout import ClusterProgress, Held, Phase, Rollout, RolloutPlan
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.planning.waves import assign_waves
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender, make_celery

OLD = Revision("main", "a" * 40)
NEW = Revision("main", "b" * 40)


def build(store: Store, apps: int, clusters: int, bake: float) -> Fleet:
    names = [ClusterName(f"c{i:04d}") for i in range(clusters)]
    policy = RolloutPolicy(
        waves=(
            WaveSpec("canary", selector=Selector(match_labels={"ring": "canary"})),
            WaveSpec("forty", percent=40),
        ),
        bake=bake,
    )
    fleet = Fleet(
        repositories={RepoName("r"): Repository(RepoName("r"), "https://git.invalid/r.git")},
        clusters={
            c: Cluster(c, "/k", labels={"ring": "canary" if i < max(1, clusters // 10) else "main"})
            for i, c in enumerate(names)
        },
        applications={
            AppName(f"app{a:04d}"): Application(
                AppName(f"app{a:04d}"),
                RepoName("r"),
                f"apps/{a}",
                targets=Targets(selector=Selector()),
                rollout=policy,
            )
            for a in range(apps)
        },
    )
    store.publish_fleet(fleet, "bench")
    plan = RolloutPlan(assign_waves(policy, {c: fleet.clusters[c].labels for c in names}))
    now = store.now()
    for app in fleet.applications:
        store.start_rollout(
            Rollout(
                id=f"{app}-r",
                application=app,
                revision=NEW,
                digest=Digest("new"),
                started_at=now,
                waves=len(plan.waves),
                phase=Phase.BAKING,
                bake_started_at=now,
                previous=OLD,
            ),
            plan,
            {c: Held(OLD, Digest("old")) for c in names},
            {c: ClusterProgress(released_at=now - 1, since=now) for c in plan.waves[0].clusters},
        )
        for c in plan.waves[0].clusters:
            store.record_status(synced(app, c))
    return fleet


def synced(app: str, cluster: str) -> PairStatus:
    return PairStatus(
        application=app,
        cluster=cluster,
        sync=SyncState.SYNCED,
        health=Health.HEALTHY,
        revision=NEW,
        digest=Digest("new"),
        at=time.time(),
        message="3 unchanged",
    )


def commands(store: Store) -> int:
    return int(store.client.info("stats")["total_commands_processed"])


def measure(
    store: Store, controller: RolloutController, fleet: Fleet, ticks: int, writes: int
) -> dict[str, float]:
    apps = sorted(fleet.applications)
    waves = store.rollout_plan(apps[0])
    assert waves is not None
    canaries = waves.waves[0].clusters
    times, counts, looked = [], [], []
    for n in range(ticks):
        for w in range(writes):
            app = apps[(n * writes + w) % len(apps)]
            store.record_status(synced(app, canaries[w % len(canaries)]))
        before = commands(store)
        started = time.perf_counter()
        report = controller.tick(fleet)
        times.append(time.perf_counter() - started)
        counts.append(commands(store) - before - 1)
        looked.append(report.looked)
    return {
        "ms_mean": statistics.mean(times) * 1000,
        "ms_p95": sorted(times)[int(0.95 * (len(times) - 1))] * 1000,
        "redis_commands": statistics.mean(counts),
        "rollouts_looked_at": statistics.mean(looked),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollout_tick")
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--writes", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work, running_redis(Path(work)) as url:
        store = Store.connect(url)
        started = time.perf_counter()
        fleet = build(store, args.apps, args.clusters, bake=3600)
        print(
            f"{args.apps} applications x {args.clusters} clusters in rollout (wave 1 baking), "
            f"set up in {time.perf_counter() - started:.1f}s"
        )
        controller = RolloutController(store, Sender(make_celery(Settings(redis_url=url)), store))
        rows = [
            ("first tick after a restart (every rollout)", measure(store, controller, fleet, 1, 0)),
            ("steady: nothing changes", measure(store, controller, fleet, args.ticks, 0)),
            (
                f"{args.writes} pair statuses written per tick",
                measure(store, controller, fleet, args.ticks, args.writes),
            ),
        ]
        print("| tick | ms (mean) | ms (p95) | Redis commands | rollouts stepped |")
        print("| --- | --- | --- | --- | --- |")
        for name, row in rows:
            print(
                f"| {name} | {row['ms_mean']:.1f} | {row['ms_p95']:.1f} | "
                f"{row['redis_commands']:.0f} | {row['rollouts_looked_at']:.0f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
