"""Cluster faults under a running fleet (kubesim's knobs): some clusters hanging or answering
errors during a rollout, and a cluster wiped of everything fleetsync put there."""

from __future__ import annotations

import time

import httpx

from fleetsync.shared.kube.inventory import INVENTORY_NAMESPACE, mirror_name
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from tests.faults.conftest import record
from tests.faults.world import StatusWatch, World, fault_figures
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_for


def _converged_on(world: World, clusters: tuple[str, ...]) -> bool:
    for cluster in clusters:
        for app in (world.app("web"), world.app("api")):
            if not world.pair_converged(app, world.store.status(app, cluster)):
                return False
        config = world.objects(cluster).found.get((world.namespace, "ConfigMap", "web-config"))
        if config is None or config[1].get("value") != world.web_value:
            return False
    return True


def test_a_hanging_and_a_failing_cluster_during_a_rollout(
    redis_world: tuple[World, RedisServer],
) -> None:
    world, _ = redis_world
    before, previous, restarts = world.converged_start()
    hanging, failing = world.clusters[-2], world.clusters[-1]
    healthy = tuple(c for c in world.clusters if c not in (hanging, failing))
    web = world.app("web")
    world.sim.cluster(hanging).set_fault(down=True, down_mode="hang")
    world.sim.cluster(failing).set_fault(error_rate=1.0, error_code=429)
    try:
        sha = world.commit_web("during-cluster-faults")
        started = time.monotonic()
        with StatusWatch(world, [previous, sha]) as watch:
            wait_for(
                lambda: _converged_on(world, healthy),
                timeout=60,
                interval=0.2,
                what="the healthy clusters converged while two hang or fail",
            )
            healthy_seconds = time.monotonic() - started
            refused = wait_for(
                lambda: (
                    (s := world.store.status(web, failing)) is not None
                    and s.sync is SyncState.UNKNOWN
                    and s
                ),
                timeout=30,
                what="the failing cluster's pair shown Unknown with its reason",
            )
            assert isinstance(refused, PairStatus)
            lies = [
                c
                for c in (hanging, failing)
                if world.pair_converged(web, world.store.status(web, c))
            ]
            world.sim.cluster(hanging).clear_faults()
            world.sim.cluster(failing).clear_faults()
            cleared = time.monotonic()
            seconds = world.wait_converged(since=cleared)
    finally:
        world.sim.cluster(hanging).clear_faults()
        world.sim.cluster(failing).clear_faults()
    figures = fault_figures(
        world,
        "1 of 8 clusters hanging and 1 answering 429 during a rollout",
        seconds=seconds,
        before=before,
        restarts=restarts,
        wrong_statuses=len(watch.regressions) + len(lies),
        notes=f"the 6 healthy clusters converged in {healthy_seconds:.1f}s while the others "
        f"hung or failed; the failing one was shown Unknown ({refused.message[:60]}...); "
        "converged counted from the faults' end (a hung request waits out its 20 s timeout)",
    )
    record(figures)
    assert refused.health is Health.UNKNOWN and "429" in refused.message, refused
    assert figures.wrong_statuses == 0 and figures.pairs_stuck == 0
    assert figures.lost_or_wrongly_deleted == 0


def test_a_wiped_cluster_is_noticed_and_reapplied(
    redis_world: tuple[World, RedisServer],
) -> None:
    world, _ = redis_world
    world.wait_converged()
    wiped = world.clusters[0]
    before = {k: uid for k, uid in world.uids().items() if k[0] != wiped}
    restarts = world.restarts()
    handle = world.sim.cluster(wiped)
    gone = (world.namespace, f"{world.namespace}-api", INVENTORY_NAMESPACE)
    started, wiped_at = time.monotonic(), world.store.now()
    with httpx.Client(
        base_url=handle.server, headers={"Authorization": f"Bearer {handle.token}"}, timeout=10
    ) as http:

        def uid(ns: str) -> str | None:
            found = http.get(f"/api/v1/namespaces/{ns}")
            return None if found.status_code == 404 else str(found.json()["metadata"]["uid"])

        wiped_uids = {ns: uid(ns) for ns in gone}
        for ns in gone:
            assert http.delete(f"/api/v1/namespaces/{ns}").status_code in (200, 202)
        # Wiped: each namespace as it was is gone (the watcher may already have had fleetsync
        # create the first again while the last was being deleted).
        wait_for(
            lambda: all(uid(ns) != wiped_uids[ns] for ns in gone),
            what="the cluster wiped",
        )
        shown_synced = sum(
            1
            for (app, c), s in world.statuses().items()
            if c == wiped and world.pair_converged(app, s) and s is not None and s.at < wiped_at
        )

        def checked_since() -> bool:
            found = [world.store.status(world.app(a), wiped) for a in ("web", "api")]
            return all(s is not None and s.at >= wiped_at for s in found)

        # Nobody brings the drift checks forward: the watcher sees the deletions.
        wait_for(checked_since, timeout=60, what="the wiped cluster's pairs checked again")
        noticed = time.monotonic() - started
        seconds = world.wait_converged(since=started)
        mirrors = [
            http.get(
                f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/{mirror_name(world.app(a))}"
            ).status_code
            for a in ("web", "api")
        ]
    figures = fault_figures(
        world,
        "a cluster wiped (its objects and fleetsync-system deleted)",
        seconds=seconds,
        before=before,
        restarts=restarts,
        wrong_statuses=shown_synced,
        notes=f"counted from the wipe: the watcher's drift checks had both pairs checked again "
        f"{noticed:.1f}s after it, everything applied again and the inventory mirrors "
        f"rewritten; until then its {shown_synced} pairs still showed Synced/Healthy (lost "
        "objects counted on the other clusters: the wipe itself deleted this one's)",
    )
    record(figures)
    assert mirrors == [200, 200], "the inventory mirrors written again"
    assert figures.lost_or_wrongly_deleted == 0 and figures.pairs_stuck == 0
