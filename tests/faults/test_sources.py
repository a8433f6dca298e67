"""Source and trigger faults under a running fleet: the git server down with a commit it has not
served yet, and a burst of sync requests for one application."""

from __future__ import annotations

import time

import httpx

from fleetsync.scheduler.views import application_detail
from fleetsync.shared.model.trigger import Trigger
from tests.faults.conftest import record
from tests.faults.world import API_TOKEN, StatusWatch, World, fault_figures
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_for

BURST = 200


def test_git_server_down_with_an_unfetched_commit(
    redis_world: tuple[World, RedisServer],
) -> None:
    world, _ = redis_world
    before, previous, restarts = world.converged_start()
    world.git.stop_daemon()
    try:
        sha = world.commit_web("after-git-outage")
        fleet = world.store.load_fleet()
        assert fleet is not None
        web = world.app("web")
        with StatusWatch(world, [previous, sha]) as watch:
            error = wait_for(
                lambda: application_detail(world.store, fleet, web).source_error,
                timeout=30,
                what="the repository error shown",
            )
            shown_at_old = all(
                s is not None and str(s.revision).endswith(previous)
                for (app, _), s in world.statuses().items()
                if app == web
            )
            world.git.start_daemon()
            back = time.monotonic()
            seconds = world.wait_converged(since=back)
    finally:
        world.git.start_daemon() if world.git._daemon is None else None
    figures = fault_figures(
        world,
        "git server down with a commit it has not served yet",
        seconds=seconds,
        before=before,
        restarts=restarts,
        wrong_statuses=len(watch.regressions) + (0 if shown_at_old else 1),
        notes="while down: the repository error shown for the application, pairs at the last "
        "fetched commit; converged counted from the server's return (polls back off)",
    )
    record(figures)
    assert "cannot" in error.message or "git" in error.message, error
    assert figures.wrong_statuses == 0 and figures.pairs_stuck == 0


def test_a_burst_of_sync_requests_for_one_application_is_coalesced(
    redis_world: tuple[World, RedisServer],
) -> None:
    world, _ = redis_world
    world.wait_converged()
    before = world.uids()
    restarts = world.restarts()
    web = world.app("web")
    stats_before = _reconciles(world)
    started = time.monotonic()
    since = world.store.now()
    with httpx.Client(
        base_url=f"http://127.0.0.1:{world.api_port}",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=30,
    ) as http:
        answers, depths = [], []
        for _ in range(BURST):
            answers.append(http.post(f"/api/v1/applications/{web}/sync").status_code)
            depths.append(world.store.queue_depths(("apply",))["apply"])
    assert set(answers) == {202}, answers
    wait_for(
        lambda: (
            all(
                any(
                    h.at is not None and h.at >= since - 2 and h.trigger is Trigger.MANUAL
                    for h in world.store.history(web, c, limit=3)
                )
                for c in world.clusters
            )
            and not world.store.client.keys("fleetsync:queued:apply:*")
        ),
        timeout=60,
        what="every cluster synced once and nothing left queued",
    )
    seconds = world.wait_converged(since=started)
    runs = _reconciles(world) - stats_before
    figures = fault_figures(
        world,
        f"a burst of {BURST} sync requests for one application (8 clusters)",
        seconds=seconds,
        before=before,
        restarts=restarts,
        wrong_statuses=0,
        notes=f"{BURST * len(world.clusters)} pair triggers ran as {runs} reconciles; at most "
        f"{max(depths)} reconciles queued at once (one per cluster at most)",
    )
    record(figures)
    # Coalesced: never more than one queued reconcile per pair, however many requests came.
    assert max(depths) <= len(world.clusters), depths
    assert runs < BURST * len(world.clusters), runs


def _reconciles(world: World) -> int:
    stats = world.store.stats()
    return sum(
        stats.get(f"reconcile_{r}", 0) for r in ("synced", "out_of_sync", "unknown", "failed")
    )
