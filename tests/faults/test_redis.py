"""Redis faults under a running fleet: a crash and restart with its append-only file, and the
loss of every key."""

from __future__ import annotations

import time

import httpx
import redis as redis_client

from tests.faults.conftest import record
from tests.faults.world import API_TOKEN, StatusWatch, World, aof_holds, fault_figures
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_for


def operator(world: World, action: str, app: str) -> None:
    """An operator's suspend or resume through the API: set in Redis, and each cluster's
    reconcile writes it to the intents' mirror there."""
    with httpx.Client(
        base_url=f"http://127.0.0.1:{world.api_port}",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=30,
    ) as http:
        answer = http.post(f"/api/v1/applications/{app}/{action}")
    assert answer.status_code in (200, 202), answer.text


def test_redis_killed_and_restarted_with_its_append_only_file(
    redis_world: tuple[World, RedisServer],
) -> None:
    world, redis = redis_world
    before, previous, restarts = world.converged_start()
    api = world.app("api")
    operator(world, "suspend", api)
    wait_for(
        lambda: aof_holds(redis.workdir, f"app:{api}:suspended".encode()),
        what="the suspension written to the append-only file (fsync every second)",
    )
    mark = world.mark()
    redis.stop(kill=True)
    assert world.up is not None
    world.up.wait_line(r"beat \| .*cannot reach Redis", after=mark)
    sha = world.commit_web("after-restart")
    with StatusWatch(world, [previous, sha]) as watch:
        redis.start()
        back = time.monotonic()
        seconds = world.wait_converged(since=back)
    assert world.store.is_suspended(api), "an operator's suspension lost in the restart"
    # Resumed as an operator does, and mirrored in every cluster before the next test: Redis
    # loses its data there, and reads its intents back from the clusters.
    resumed = world.store.now()
    operator(world, "resume", api)
    wait_for(
        lambda: all(
            (s := world.store.status(api, c)) is not None and s.at >= resumed
            for c in world.clusters
        ),
        what="the resume reconciled (and mirrored) on every cluster",
    )
    figures = fault_figures(
        world,
        "Redis killed (SIGKILL) and restarted with its append-only file, a commit waiting",
        seconds=seconds,
        before=before,
        restarts=restarts,
        wrong_statuses=len(watch.regressions),
        notes="the suspension set before the crash survived; every process stood by and resumed",
    )
    record(figures)
    assert figures.lost_or_wrongly_deleted == 0 and figures.wrong_statuses == 0, watch.regressions
    assert figures.processes_restarted_by_up == 0, world.up.output()


def test_redis_loses_every_key_with_a_commit_waiting(
    redis_world: tuple[World, RedisServer],
) -> None:
    world, redis = redis_world
    before, previous, restarts = world.converged_start()
    sha = world.commit_web("after-flush", drop_extra=True)
    with StatusWatch(world, [previous, sha]) as watch:
        redis_client.Redis.from_url(redis.url).flushall()
        lost = time.monotonic()
        seconds = world.wait_converged(since=lost)
    assert world.up is not None
    world.up.wait_line(r"beat \| .*publishing it again")
    figures = fault_figures(
        world,
        "Redis loses every key (FLUSHALL) while a commit removing an object waits",
        seconds=seconds,
        before=before,
        restarts=restarts,
        wrong_statuses=len(watch.regressions),
        notes="the beat re-published the fleet by itself; the removed object was pruned "
        "through the inventory mirrored in each cluster",
    )
    record(figures)
    assert figures.lost_or_wrongly_deleted == 0 and figures.orphans == 0
    assert figures.wrong_statuses == 0, watch.regressions
    assert figures.processes_restarted_by_up == 0, world.up.output()
