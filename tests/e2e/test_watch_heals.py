"""Event-driven drift detection end to end: a watcher process's `Watcher` beside real Celery
workers, a beat, real Redis, git over the network and kubesim clusters over HTTP.

`driftInterval` is an hour: every heal seen here was started by a watch event, never by the
interval backstop (without the watcher these tests time out). Watcher processes sharing the
clusters, and taking over a killed one's, are in test_watch_takeover.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetsync.scheduler.cli import main
from fleetsync.scheduler.watcher import Watcher
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.tasking import Trigger
from tests.support.fleet_harness import Harness
from tests.support.git_server import GitServer, WorkRepo
from tests.support.waiting import wait_for
from tests.support.watcher_threads import running_watcher
from tests.support.web_app import edit_and_delete_by_hand, wait_healed, watched_web_fleet

CLUSTERS = ("c1", "c2")


@pytest.fixture
def fleet(
    redis_url: str, tmp_path: Path, git_server: GitServer, git_repo: WorkRepo
) -> Iterator[Harness]:
    with watched_web_fleet(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        repo=git_repo,
        clusters=CLUSTERS,
    ) as harness:
        yield harness


@pytest.fixture
def watcher(fleet: Harness, tmp_path: Path) -> Iterator[Watcher]:
    with running_watcher(fleet, tmp_path / "watcher-cache") as w:
        yield w


def watching_everything(fleet: Harness, watcher: Watcher) -> None:
    fleet.wait_synced_healthy("web", CLUSTERS)

    def ready() -> bool:
        states = fleet.store.drift_detection(CLUSTERS)
        return all(
            states[c].mode == "watching"
            and {"ConfigMap", "Deployment", "Namespace"} <= set(watcher.watched_kinds(c))
            for c in CLUSTERS
        )

    wait_for(ready, what="every kind of the inventory watched on both clusters")


def drift_heals(fleet: Harness, cluster: str) -> int:
    return sum(1 for h in fleet.store.history("web", cluster) if h.trigger is Trigger.DRIFT)


def test_an_edit_and_a_delete_by_hand_are_healed_without_waiting_for_the_interval(
    fleet: Harness, watcher: Watcher
) -> None:
    watching_everything(fleet, watcher)
    before = {c: drift_heals(fleet, c) for c in CLUSTERS}
    edit_and_delete_by_hand(fleet, "c2")
    wait_healed(fleet, "c2", "drift on c2 healed", deleted_too=True)
    wait_for(
        lambda: drift_heals(fleet, "c2") > before["c2"],
        what="the healing drift check in c2's history",
    )
    # c1 was not touched: its objects asked for nothing.
    assert drift_heals(fleet, "c1") == before["c1"]


def test_a_deployment_scaled_by_hand_is_scaled_back(fleet: Harness, watcher: Watcher) -> None:
    watching_everything(fleet, watcher)
    fleet.kube("c1").resources.get(api_version="apps/v1", kind="Deployment").patch(
        name="web",
        namespace="web",
        body={"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
        field_manager="kubectl-scale",
    )

    def scaled_back() -> bool:
        live = fleet.live("c1", "apps/v1", "Deployment", "web", "web")
        return bool(live and live["spec"]["replicas"] == 2 and drift_heals(fleet, "c1"))

    wait_for(scaled_back, timeout=30, what="the Deployment scaled back to 2")


def test_a_wiped_cluster_and_a_deleted_inventory_mirror_are_noticed(
    fleet: Harness, watcher: Watcher
) -> None:
    watching_everything(fleet, watcher)
    fleet.kube("c1").resources.get(api_version="v1", kind="ConfigMap").delete(
        name="fleetsync-inventory-web", namespace="fleetsync-system"
    )
    # The check the delete asked for finds the objects in sync, and writes the mirror again.
    wait_for(
        lambda: fleet.live("c1", "v1", "ConfigMap", "fleetsync-inventory-web", "fleetsync-system"),
        what="the inventory mirror written again",
    )
    # Everything of the application on c2 goes (its namespace, and so every object in it).
    fleet.kube("c2").resources.get(api_version="v1", kind="Namespace").delete(name="web")

    def back() -> bool:
        cm = fleet.live("c2", "v1", "ConfigMap", "web-config", "web")
        deploy = fleet.live("c2", "apps/v1", "Deployment", "web", "web")
        return bool(cm and deploy)

    wait_for(back, timeout=60, what="c2's objects back after the wipe")
    fleet.wait_status(
        "web",
        ["c2"],
        lambda s: s.sync is SyncState.SYNCED and s.health is Health.HEALTHY,
        "Synced and Healthy again",
    )


def test_a_flood_of_edits_on_one_pair_is_coalesced_and_does_not_delay_another(
    fleet: Harness, watcher: Watcher
) -> None:
    watching_everything(fleet, watcher)
    cms = fleet.kube("c1").resources.get(api_version="v1", kind="ConfigMap")
    stop = threading.Event()
    edits = [0]

    def fight() -> None:
        # Another controller rewriting a managed object as fast as it can (bounded).
        while not stop.is_set() and edits[0] < 400:
            cms.patch(
                name="web-extra",
                namespace="web",
                body={"data": {"value": f"other-{edits[0]}"}},
                content_type="application/merge-patch+json",
                field_manager="other-controller",
            )
            edits[0] += 1

    fighter = threading.Thread(target=fight, daemon=True)
    started = time.monotonic()
    fighter.start()
    try:
        wait_for(lambda: edits[0] >= 50, what="the flood under way")
        fleet.edit_by_hand("c2", "web-config", "web", {"value": "hand-edited"})
        wait_healed(fleet, "c2", "c2 healed during c1's flood")
    finally:
        stop.set()
        fighter.join(timeout=30)
    lasted = time.monotonic() - started
    sent = watcher.dispatcher.sent[("web", "c1")]
    # Each edit is an event asking for a check; the dispatcher sends a burst of 3 at once, then
    # one per gap (1 s), and a trailing one.
    assert edits[0] >= 50
    assert 1 <= sent <= lasted / 1.0 + 4, (sent, edits[0], lasted)


def test_a_cluster_refusing_watches_says_so_in_status_and_is_watched_once_it_allows(
    fleet: Harness, tmp_path: Path
) -> None:
    fleet.wait_synced_healthy("web", CLUSTERS)
    fleet.sim.cluster("c1").set_fault(watches="forbid")
    with running_watcher(fleet, tmp_path / "watcher-cache"):

        def reported() -> dict[str, str] | None:
            found = {c: d.describe() for c, d in fleet.store.drift_detection(CLUSTERS).items()}
            refused = "watches refused" in found["c1"] and found["c2"] == "watching"
            return found if refused else None

        found = wait_for(reported, what="c1 reported refusing watches, c2 watched")
        assert found["c1"].startswith("interval checks only: watches refused: cluster c1:")
        assert 'cannot watch resource "' in found["c1"]
        result = CliRunner().invoke(
            main, ["status", "--redis-url", fleet.runtime.settings.redis_url]
        )
        assert result.exit_code == 0, result.output
        assert "drift detection: 1 of 2 clusters watched" in result.output
        assert "c1: interval checks only: watches refused" in result.output
        # Once the cluster allows watches, it is watched again.
        fleet.sim.cluster("c1").clear_faults()
        wait_for(
            lambda: fleet.store.drift_detection(["c1"])["c1"].mode == "watching",
            what="c1 watched again",
        )


def test_a_cluster_whose_kubeconfig_changes_is_watched_through_the_new_one(
    fleet: Harness, watcher: Watcher, tmp_path: Path
) -> None:
    watching_everything(fleet, watcher)
    moved = tmp_path / "c2-moved.kubeconfig"
    moved.write_text(fleet.sim.kubeconfig_path("c2").read_text())
    fleet.write_fleet(
        fleet.fleet_file.read_text().replace(str(fleet.sim.kubeconfig_path("c2")), str(moved))
    )
    wait_for(lambda: watcher.kubeconfig_of("c2") == str(moved), what="c2 watched anew")
    wait_for(
        lambda: {"ConfigMap", "Deployment"} <= set(watcher.watched_kinds("c2")),
        what="c2's kinds watched again",
    )
    fleet.edit_by_hand("c2", "web-config", "web", {"value": "after-move"})
    wait_healed(fleet, "c2", "c2 healed through its new kubeconfig")


def test_a_cluster_declared_watch_false_is_left_to_interval_checks_and_says_so(
    fleet: Harness, watcher: Watcher
) -> None:
    watching_everything(fleet, watcher)
    c2 = f"{{name: c2, kubeconfig: {fleet.sim.kubeconfig_path('c2')}, labels: {{env: prod}}"
    watched = fleet.fleet_file.read_text()
    assert c2 + "}" in watched
    fleet.write_fleet(watched.replace(c2 + "}", c2 + ", watch: false}"))
    wait_for(
        lambda: watcher.owned == ["c1"] and watcher.watched_kinds("c2") == [],
        what="c2 no longer watched",
    )
    unwatched = fleet.store.load_fleet().unwatched()
    assert unwatched == {"c2"}
    found = {
        c: d.describe()
        for c, d in fleet.store.drift_detection(CLUSTERS, unwatched=unwatched).items()
    }
    assert found == {"c1": "watching", "c2": "interval checks only: watch: false in fleet.yaml"}
    result = CliRunner().invoke(main, ["status", "--redis-url", fleet.runtime.settings.redis_url])
    assert result.exit_code == 0, result.output
    assert "drift detection: 1 of 2 clusters watched" in result.output
    assert "c2: interval checks only: watch: false in fleet.yaml" in result.output
    # Turned on again, c2 is watched and an edit there is healed by its watch.
    fleet.write_fleet(watched)
    wait_for(
        lambda: (
            fleet.store.drift_detection(["c2"])["c2"].mode == "watching"
            and {"ConfigMap", "Deployment"} <= set(watcher.watched_kinds("c2"))
        ),
        what="c2 watched again",
    )
    fleet.edit_by_hand("c2", "web-config", "web", {"value": "watched-again"})
    wait_healed(fleet, "c2", "c2 healed by its watch")
