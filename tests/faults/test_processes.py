"""Process faults under a running fleet: kill -9 of the active beat while a standby runs."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from fleetsync.scheduler.beat import LEASE_NAME
from tests.faults.conftest import record
from tests.faults.world import (
    StatusWatch,
    World,
    fault_figures,
    match_count,
)
from tests.support.processes import beat_argv, fleetsync_env, running
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_for


def test_kill_9_of_the_active_beat_while_a_standby_runs(
    redis_world: tuple[World, RedisServer], tmp_path: Path
) -> None:
    world, redis = redis_world
    before, previous, restarts = world.converged_start()
    lease = world.store.key("lease", LEASE_NAME)
    env = fleetsync_env(
        redis.url,
        FLEETSYNC_FLEET=str(world.workdir / "fleet.yaml"),
        FLEETSYNC_CACHE_DIR=str(tmp_path / "cache"),
        FLEETSYNC_TICK_SECONDS="0.5",
    )
    with running(beat_argv(str(tmp_path / "schedule")), env) as standby:
        holder = wait_for(lambda: world.store.client.get(lease), what="an active beat").decode()
        leader = int(holder.split(":")[1])
        sha = world.commit_web("after-beat-kill")
        with StatusWatch(world, [previous, sha]) as watch:
            os.kill(leader, signal.SIGKILL)
            killed = time.monotonic()
            taken = wait_for(
                lambda: (
                    (now := world.store.client.get(lease)) is not None
                    and now.decode() != holder
                    and now.decode()
                ),
                timeout=60,
                what="another beat taking the lease",
            )
            takeover = time.monotonic() - killed
            seconds = world.wait_converged(since=killed)
        successor = "the standby" if str(standby.pid) in taken else "up's restarted beat"
    figures = fault_figures(
        world,
        "kill -9 of the active beat while a standby beat runs, a commit waiting",
        seconds=seconds,
        before=before,
        restarts=restarts,
        wrong_statuses=len(watch.regressions),
        notes=f"{successor} took the lease {takeover:.1f}s after the kill (the lease lasts 10s)",
    )
    record(figures)
    assert figures.lost_or_wrongly_deleted == 0 and figures.wrong_statuses == 0
    assert figures.pairs_stuck == 0


def test_kill_9_of_the_apply_worker_in_the_middle_of_a_rollout(
    redis_world: tuple[World, RedisServer],
) -> None:
    world, _ = redis_world
    before, previous, restarts = world.converged_start()
    for cluster in world.clusters:  # slow clusters: the rollout takes seconds, not one
        world.sim.cluster(cluster).set_fault(latency=0.15)
    try:
        worker = world.child_pid("apply@")
        sha = world.commit_web("after-apply-kill")
        web = world.app("web")

        def reached() -> int:
            return sum(
                1
                for (app, _), s in world.statuses().items()
                if app == web and s is not None and str(s.revision).endswith(sha)
            )

        mark = world.mark()
        with StatusWatch(world, [previous, sha]) as watch:
            wait_for(lambda: reached() >= 1, timeout=60, interval=0.05, what="the rollout begun")
            cut = reached()
            os.kill(worker, signal.SIGKILL)
            killed = time.monotonic()
            for cluster in world.clusters:
                world.sim.cluster(cluster).clear_faults()
            # A message Redis handed to the worker as it died (kombu's Redis transport records
            # it only once the worker read it) is sent again by the beat once it is overdue
            # and no queue nor worker holds it: no pair waits for its next drift check.
            seconds = world.wait_converged(since=killed, timeout=60)
    finally:
        for cluster in world.clusters:
            world.sim.cluster(cluster).clear_faults()
    assert world.up is not None
    after = world.up.lines[mark:]
    resent = match_count(r"enqueued again", after)
    stranded = match_count(r"stopped before starting it\); enqueued again", after)
    lost = match_count(r"its message was lost on its way to a worker", after)
    figures = fault_figures(
        world,
        "kill -9 of the apply worker in the middle of a rollout, 8 clusters",
        seconds=seconds,
        before=before,
        restarts=restarts,
        wrong_statuses=len(watch.regressions),
        notes=f"killed with {cut} of 8 clusters rolled out (each request slowed by 150 ms); up "
        f"started the worker again; the beat re-sent {resent + lost} tasks ({resent - stranded} "
        f"whose in-flight records lapsed, {stranded} the worker had taken but not started, "
        f"{lost} lost on their way to it), each running once its pair's lease expired",
    )
    record(figures)
    assert figures.lost_or_wrongly_deleted == 0 and figures.wrong_statuses == 0
    assert figures.pairs_stuck == 0
    assert figures.processes_restarted_by_up == 1
