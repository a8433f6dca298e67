"""A rollback of an application whose bundle is bigger than one Kubernetes object may hold (about
2 MiB compressed, more than a Secret's 1 MiB) outlives a total loss of Redis's data: the pinned
bundle is mirrored in parts in each cluster, read back whole (its digest checked), and the
reconciles after the loss keep both clusters on the rolled-back revision with no render of it."""

from __future__ import annotations

import secrets
import zlib
from pathlib import Path

from fleetsync.scheduler.operations import rollback
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.kube.intents import PART_BYTES
from fleetsync.shared.model.status import Health, SyncState
from tests.support.fleet_harness import Harness, loss_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for

CLUSTERS = ("c1", "c2")
BLOBS = 20


def files(version: str) -> dict[str, str | None]:
    """A version marker and blobs of random hex (about half survives compression)."""
    found: dict[str, str | None] = {
        "apps/big/version.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: version\n"
            f"data:\n  version: '{version}'\n"
        )
    }
    for i in range(BLOBS):
        found[f"apps/big/blob-{i}.yaml"] = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: blob-{i}\n"
            f"data:\n  blob: '{secrets.token_hex(100_000)}'\n"
        )
    return found


BIG = """\
- {name: big, repository: platform, path: apps/big, namespace: big,
   targets: {clusters: [c1, c2]}, sync: {driftInterval: 1h, createNamespace: true}}
"""


def version_on(h: Harness, cluster: str) -> str | None:
    live = h.live(cluster, "v1", "ConfigMap", "version", "big")
    return None if live is None else str(live["data"]["version"])


def test_a_rollback_of_a_large_application_holds_after_redis_lost_everything(
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
        applications=BIG,
    ) as h:
        h.wait_synced_healthy("big", CLUSTERS)
        second = h.commit("v2", files("2"))
        h.runtime.sender.poll("platform", force=True)
        h.wait_status("big", CLUSTERS, lambda s: str(s.revision).endswith(second), "v2")
        pin, _ = rollback(h.store, h.runtime.sender, load_fleet(h.fleet_file), "big", first[:12])
        bundle = h.store.get_bundle(pin.digest)
        assert bundle is not None
        assert len(zlib.compress(bundle.canonical(), 6)) > 2 * PART_BYTES, "not large enough"
        for cluster in CLUSTERS:
            wait_for(
                lambda c=cluster: version_on(h, c) == "1",  # type: ignore[misc]
                what=f"the rollback applied on {cluster}",
            )
        h.wait_mirrored("big", "the rollback")
        for cluster in CLUSTERS:
            status = h.status("big", cluster)
            assert status is not None and "mirror" not in status.message, status

        h.lose_redis()

        after = h.wait_status(
            "big",
            CLUSTERS,
            lambda s: s.revision is not None and "rolled back to" in s.message,
            "a reconcile after the loss",
        )
        kept = h.store.pin("big")
        assert kept is not None and kept.digest == pin.digest, "the rollback was read back"
        assert h.bundle_in_redis(pin.digest), "the bundle read back"
        for cluster in CLUSTERS:
            assert version_on(h, cluster) == "1", cluster
            status = after[cluster]
            assert status.revision is not None and status.revision.sha == first, status
            # Git's latest (v2) is not applied: the status says so, and why.
            assert status.sync is SyncState.OUT_OF_SYNC and status.health is Health.HEALTHY
            assert "not applying (rolled back to" in status.message, status
