"""Redis loses every key (FLUSHALL, or a restart without persistence) while fleetsync runs and
a commit waits: nobody touches fleet.yaml, yet the beat publishes the fleet again, every
repository is fetched, every pair reconciled; what Git dropped meanwhile is pruned through the
inventory mirrored in each cluster, and nothing Git still declares is deleted."""

from __future__ import annotations

from pathlib import Path

from fleetsync.shared.model.status import Health, SyncState
from tests.support.fleet_harness import loss_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for

CLUSTERS = ("c1", "c2")


def configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: '1'\n"


# The poll interval is an hour: only the recovery can make fleetsync see the waiting commit.
WEB = """\
- name: web
  repository: platform
  path: apps/web
  namespace: web
  targets: {clusters: [c1, c2]}
  sync: {driftInterval: 1h}
"""


def test_after_redis_lost_everything_fleetsync_converges_by_itself_without_wrong_deletions(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> None:
    git_repo.write(
        "apps/web/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n"
    )
    git_repo.write("apps/web/keep.yaml", configmap("keep"))
    git_repo.write("apps/web/gone.yaml", configmap("gone"))
    git_repo.commit("web")
    with loss_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
        applications=WEB,
    ) as h:
        h.wait_synced_healthy("web", CLUSTERS)
        uids = {c: h.live(c, "v1", "ConfigMap", "keep", "web")["metadata"]["uid"] for c in CLUSTERS}  # type: ignore[index]
        sha = h.commit("drop gone", {"apps/web/gone.yaml": None})
        h.lose_redis()
        h.wait_status(
            "web",
            CLUSTERS,
            lambda s: (
                str(s.revision).endswith(sha)
                and s.sync is SyncState.SYNCED
                and s.health is Health.HEALTHY
            ),
            "the waiting commit applied after the loss",
        )
        for cluster in CLUSTERS:
            assert h.live(cluster, "v1", "ConfigMap", "gone", "web") is None, cluster
            kept = h.live(cluster, "v1", "ConfigMap", "keep", "web")
            assert kept is not None and kept["metadata"]["uid"] == uids[cluster], cluster
        assert h.store.fleet_digest() is not None
        wait_for(lambda: h.store.due_at("poll", "platform"), what="the poll due-set planned")
