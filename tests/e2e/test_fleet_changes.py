"""Changing the declaration while fleetsync runs: removing an application leaves its objects in
place unless `pruneOnRemoval` says otherwise; drift without selfHeal is reported, not healed;
automated sync off reports new revisions without applying them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetsync.shared.model.status import SyncState
from fleetsync.shared.tasking import Trigger
from kubesim import Simulator
from tests.support.fleet_harness import Harness, running_fleet
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap
from tests.support.waiting import wait_for

CLUSTERS = ("c1",)


def app_entry(name: str, sync: str) -> str:
    return (
        f"  - {{name: {name}, repository: platform, path: apps/{name}, namespace: default,"
        f" targets: {{clusters: [c1]}}, sync: {{{sync}}}}}\n"
    )


def fleet_text(url: str, sim: Simulator, apps: dict[str, str]) -> str:
    return (
        "repositories:\n"
        f'  - {{name: platform, url: "{url}", ref: main, interval: 1s}}\n'
        "clusters:\n"
        f"  - {{name: c1, kubeconfig: {sim.kubeconfig_path('c1')}}}\n"
        "applications:\n" + "".join(app_entry(n, s) for n, s in apps.items())
    )


APPS = {
    "kept": "pruneOnRemoval: false",
    "removed": "pruneOnRemoval: true",
    "watched": "selfHeal: false, driftInterval: 1s",
    "manual": "automated: false",
}


@pytest.fixture
def fleet(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> Iterator[Harness]:
    for name in APPS:
        git_repo.write(f"apps/{name}/cm.yaml", configmap(name))
    git_repo.commit("four apps")
    with running_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
        fleet_yaml=lambda url, sim: fleet_text(url, sim, APPS),
    ) as harness:
        for name in ("kept", "removed", "watched"):
            harness.wait_synced_healthy(name, CLUSTERS)
        yield harness


def _edit_fleet(h: Harness, apps: dict[str, str]) -> None:
    h.write_fleet(fleet_text(h.git_url, h.sim, apps))
    st = h.fleet_file.stat()
    os.utime(h.fleet_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_removing_applications_prunes_only_those_that_ask_for_it(fleet: Harness) -> None:
    _edit_fleet(fleet, {k: v for k, v in APPS.items() if k not in ("kept", "removed")})
    wait_for(
        lambda: fleet.live("c1", "v1", "ConfigMap", "removed", "default") is None,
        what="the pruneOnRemoval application's objects deleted",
    )
    # The pair is forgotten once its objects are gone.
    wait_for(lambda: fleet.store.status("removed", "c1") is None, what="the pair forgotten")
    assert fleet.live("c1", "v1", "ConfigMap", "kept", "default") is not None


def test_drift_without_self_heal_is_reported_with_the_objects_and_not_healed(
    fleet: Harness,
) -> None:
    fleet.edit_by_hand("c1", "watched", "default", {"value": "edited"})
    status = fleet.wait_status(
        "watched", CLUSTERS, lambda s: s.sync is SyncState.OUT_OF_SYNC, "drift reported"
    )["c1"]
    assert status.drifted == ("core/ConfigMap/default/watched",)
    assert "selfHeal is off" in status.message
    cm = fleet.live("c1", "v1", "ConfigMap", "watched", "default")
    assert cm is not None and cm["data"]["value"] == "edited"


def test_automated_sync_off_reports_revisions_until_a_manual_sync(fleet: Harness) -> None:
    assert fleet.live("c1", "v1", "ConfigMap", "manual", "default") is None
    status = fleet.wait_status(
        "manual",
        CLUSTERS,
        lambda s: s.sync is SyncState.OUT_OF_SYNC,
        "a new revision reported, not applied",
    )["c1"]
    assert "not applied yet" in status.message and "automated sync is off" in status.message
    fleet.runtime.sender.reconcile("manual", "c1", reason=Trigger.MANUAL)
    wait_for(
        lambda: fleet.live("c1", "v1", "ConfigMap", "manual", "default"),
        what="the manual sync applying it",
    )
