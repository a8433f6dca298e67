"""Operators' intents outlive a total loss of Redis's data: one application rolled back to its
first commit, one suspended, one left to Git; a new commit for all three, then Redis loses every
key. Nobody touches anything: the beat publishes the fleet again, everything is fetched and
reconciled, the free application reaches the new commit, and the rollback and the suspension
are read back from their mirror in each cluster (`fleetsync-system/fleetsync-intents-<app>`),
so neither cluster of the pinned or suspended application moves."""

from __future__ import annotations

from pathlib import Path

from fleetsync.scheduler.operations import rollback, suspend
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.model.status import Health, SyncState
from tests.support.fleet_harness import Harness, loss_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for

CLUSTERS = ("c1", "c2")
APPS = ("pinned", "paused", "free")


def files(version: str) -> dict[str, str | None]:
    return {
        f"apps/{app}/settings.yaml": (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
            f"data:\n  version: '{version}'\n"
        )
        for app in APPS
    }


APPLICATIONS = "".join(
    f"- {{name: {a}, repository: platform, path: apps/{a}, namespace: {a},\n"
    "   targets: {clusters: [c1, c2]}, sync: {driftInterval: 1h, createNamespace: true}}\n"
    for a in APPS
)


def version_on(h: Harness, app: str, cluster: str) -> str | None:
    live = h.live(cluster, "v1", "ConfigMap", "settings", app)
    return None if live is None else str(live["data"]["version"])


def test_a_rollback_and_a_suspension_hold_after_redis_lost_everything(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> None:
    for path, text in files("1").items():
        git_repo.write(path, text or "")
    first = git_repo.commit("v1")
    with loss_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
        applications=APPLICATIONS,
    ) as h:
        for app in APPS:
            h.wait_synced_healthy(app, CLUSTERS)
        second = h.commit("v2", files("2"))
        h.runtime.sender.poll("platform", force=True)
        for app in APPS:
            h.wait_status(app, CLUSTERS, lambda s: str(s.revision).endswith(second), "v2")
        fleet = load_fleet(h.fleet_file)
        rollback(h.store, h.runtime.sender, fleet, "pinned", first[:12])
        suspend(h.store, h.runtime.sender, fleet, "paused")
        for cluster in CLUSTERS:
            wait_for(
                lambda c=cluster: version_on(h, "pinned", c) == "1",  # type: ignore[misc]
                what=f"the rollback applied on {cluster}",
            )
            for app in ("pinned", "paused"):
                wait_for(
                    lambda a=app, c=cluster: h.live(  # type: ignore[misc]
                        c, "v1", "Secret", f"fleetsync-intents-{a}", "fleetsync-system"
                    ),
                    what=f"{app}'s intents mirrored on {cluster}",
                )
        uids = {
            c: h.live(c, "v1", "ConfigMap", "settings", "paused")["metadata"]["uid"]
            for c in CLUSTERS
        }  # type: ignore[index]

        third = h.commit("v3", files("3"))
        h.lose_redis()

        h.wait_status(
            "free",
            CLUSTERS,
            lambda s: (
                str(s.revision).endswith(third)
                and s.sync is SyncState.SYNCED
                and s.health is Health.HEALTHY
            ),
            "the free application converged on v3 by itself",
        )
        pinned = h.wait_status(
            "pinned", CLUSTERS, lambda s: s.revision is not None, "a reconcile after the loss"
        )
        paused = h.wait_status(
            "paused", CLUSTERS, lambda s: "suspended" in s.message, "a reconcile after the loss"
        )
        pin = h.store.pin("pinned")
        assert pin is not None and pin.revision.sha == first, "the rollback was read back"
        assert h.store.is_suspended("pinned") and h.store.is_suspended("paused")
        for cluster in CLUSTERS:
            assert version_on(h, "pinned", cluster) == "1", cluster
            assert version_on(h, "paused", cluster) == "2", cluster
            kept = h.live(cluster, "v1", "ConfigMap", "settings", "paused")
            assert kept is not None and kept["metadata"]["uid"] == uids[cluster], cluster
            assert pinned[cluster].revision is not None
            assert pinned[cluster].revision.sha == first, pinned[cluster]
            assert "rolled back to" in pinned[cluster].message, pinned[cluster]
            assert paused[cluster].sync is SyncState.OUT_OF_SYNC, paused[cluster]
            assert f"{third} not applied yet" in paused[cluster].message, paused[cluster]
