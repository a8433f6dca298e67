"""Redis loses every key (FLUSHALL, or a restart without persistence) while fleetsync runs and
a commit waits: nobody touches fleet.yaml, yet the beat publishes the fleet again, every
repository is fetched, every pair reconciled; what Git dropped meanwhile is pruned through the
inventory mirrored in each cluster, and nothing Git still declares is deleted."""

from __future__ import annotations

import textwrap
from pathlib import Path

import redis

from fleetsync.shared.model.status import Health, SyncState
from kubesim import Simulator
from tests.support.fleet_harness import running_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for

CLUSTERS = ("c1", "c2")


def configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: '1'\n"


def fleet_yaml(url: str, sim: Simulator) -> str:
    clusters = "\n".join(
        f"  - {{name: {c}, kubeconfig: {sim.kubeconfig_path(c)}}}" for c in CLUSTERS
    )
    # A poll interval of an hour: only the recovery can make fleetsync see the waiting commit.
    return textwrap.dedent("""\
        repositories:
          - {{name: platform, url: "{url}", ref: main, interval: 1h}}
        clusters:
        {clusters}
        applications:
          - name: web
            repository: platform
            path: apps/web
            namespace: web
            targets: {{clusters: [c1, c2]}}
            sync: {{driftInterval: 1h}}
        """).format(url=url, clusters=clusters)


def test_after_redis_lost_everything_fleetsync_converges_by_itself_without_wrong_deletions(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> None:
    git_repo.write(
        "apps/web/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n"
    )
    git_repo.write("apps/web/keep.yaml", configmap("keep"))
    git_repo.write("apps/web/gone.yaml", configmap("gone"))
    git_repo.commit("web")
    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
        fleet_yaml=fleet_yaml,
    ) as h:
        h.wait_synced_healthy("web", CLUSTERS)
        uids = {c: h.live(c, "v1", "ConfigMap", "keep", "web")["metadata"]["uid"] for c in CLUSTERS}  # type: ignore[index]
        sha = h.commit("drop gone", {"apps/web/gone.yaml": None})
        redis.Redis.from_url(redis_url).flushall()
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
