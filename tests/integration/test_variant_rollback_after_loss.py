"""A rollback of an application with per-cluster variants outlives a total loss of Redis's
data: each cluster's intents mirror keeps that cluster's own pinned bundle, so after a FLUSHALL
every cluster is read back onto its own bundle of the revision rolled back to (not another
cluster's, not Git's latest)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from fleetsync.scheduler.operations import rollback
from fleetsync.shared.fleet import load_fleet
from tests.support.fleet_harness import Harness, loss_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for

CLUSTERS = ("eu-1", "us-1")


def settings(version: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: settings}}
        data: {{region: "${{cluster.values.region}}", version: "{version}"}}
        """)


REGIONS = {c: f"values: {{region: {c.split('-')[0]}}}" for c in CLUSTERS}
WEB = """\
- {name: web, repository: platform, path: apps/web, namespace: web,
   substitute: true, targets: {clusters: [eu-1, us-1]},
   sync: {driftInterval: 1h, createNamespace: true}}
"""


def data_on(h: Harness, cluster: str) -> dict[str, str]:
    live = h.live(cluster, "v1", "ConfigMap", "settings", "web")
    return dict(live["data"]) if live is not None else {}


def test_each_cluster_keeps_its_own_rolled_back_bundle_after_redis_lost_everything(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> None:
    git_repo.write("apps/web/settings.yaml", settings("1"))
    first = git_repo.commit("v1")
    with loss_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
        applications=WEB,
        cluster_fields=REGIONS,
    ) as h:
        h.wait_synced_healthy("web", CLUSTERS)
        second = h.commit("v2", {"apps/web/settings.yaml": settings("2")})
        h.runtime.sender.poll("platform", force=True)
        h.wait_status("web", CLUSTERS, lambda s: str(s.revision).endswith(second), "v2")
        rollback(h.store, h.runtime.sender, load_fleet(h.fleet_file), "web", first[:12])
        want = {"eu-1": {"region": "eu", "version": "1"}, "us-1": {"region": "us", "version": "1"}}
        for cluster in CLUSTERS:
            wait_for(
                lambda c=cluster: data_on(h, c) == want[c],  # type: ignore[misc]
                what=f"the rollback applied on {cluster}",
            )
        h.wait_mirrored("web", "the rollback")
        pinned = {c: h.status("web", c) for c in CLUSTERS}

        h.lose_redis()

        after = h.wait_status(
            "web",
            CLUSTERS,
            lambda s: s.revision is not None and "rolled back to" in s.message,
            "a reconcile of each pair after the loss",
        )
        assert h.store.pin("web") is not None, "the rollback was read back"
        for cluster in CLUSTERS:
            assert data_on(h, cluster) == want[cluster], cluster
            before = pinned[cluster]
            assert before is not None and after[cluster].digest == before.digest, cluster
            assert h.bundle_in_redis(before.digest), f"{cluster}'s own bundle read back"
