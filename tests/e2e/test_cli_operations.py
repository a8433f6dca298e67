"""Operating a running fleet from the command line: status, sync --wait, history, diff,
suspend/resume and rollback, against real workers, Redis, git and kubesim clusters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fleetsync.scheduler.cli import main
from fleetsync.shared.model.status import SyncState
from fleetsync.shared.model.trigger import Trigger
from tests.support.fleet_harness import Harness
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap
from tests.support.shop_fleet import CLUSTERS, SETTINGS, running_shop
from tests.support.waiting import wait_for


@pytest.fixture
def fleet(
    redis_url: str,
    tmp_path: Path,
    git_server: GitServer,
    git_repo: WorkRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Harness]:
    monkeypatch.setenv("FLEETSYNC_CACHE_DIR", str(tmp_path / "cli-cache"))
    with running_shop(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        git_repo=git_repo,
        files={SETTINGS: configmap("settings", "one")},
    ) as harness:
        yield harness


def cli(h: Harness, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--redis-url", h.runtime.settings.redis_url])


def value_on(h: Harness, cluster: str) -> str:
    cm = h.live(cluster, "v1", "ConfigMap", "settings", "default")
    assert cm is not None
    return str(cm["data"]["value"])


def test_status_as_json_lists_every_pair_with_its_state(fleet: Harness) -> None:
    result = cli(fleet, "status", "-o", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["application"], r["cluster"]) for r in rows] == [("shop", "east"), ("shop", "west")]
    for row in rows:
        assert {"application", "cluster", "sync", "health", "revision", "message"} <= set(row)
        assert (row["sync"], row["health"]) == ("Synced", "Healthy")
        assert fleet.repo.head in row["revision"]


def test_sync_wait_reports_success_on_every_cluster(fleet: Harness) -> None:
    result = cli(fleet, "sync", "shop", "--wait", "--timeout", "60")
    assert result.exit_code == 0, result.output
    assert "Synced and Healthy on 2 clusters" in result.output
    assert any(h.trigger is Trigger.MANUAL for h in fleet.store.history("shop", "east"))


def test_sync_of_an_unknown_application_names_the_declared_ones(fleet: Harness) -> None:
    result = cli(fleet, "sync", "nope")
    assert result.exit_code != 0
    assert "nope: no such application; declared applications: shop" in result.output


def test_a_suspended_application_reports_a_new_commit_and_a_manual_sync_applies_it(
    fleet: Harness,
) -> None:
    assert cli(fleet, "suspend", "shop").exit_code == 0
    sha = fleet.commit("two", {SETTINGS: configmap("settings", "two")})
    fleet.wait_status(
        "shop",
        CLUSTERS,
        lambda s: s.sync is SyncState.OUT_OF_SYNC and "not applied yet" in s.message,
        "the new commit reported, not applied",
    )
    assert value_on(fleet, "east") == "one"
    result = cli(fleet, "sync", "shop", "--cluster", "east", "--wait", "--timeout", "60")
    assert result.exit_code == 0, result.output
    assert value_on(fleet, "east") == "two" and value_on(fleet, "west") == "one"
    assert cli(fleet, "resume", "shop").exit_code == 0
    fleet.wait_status(
        "shop",
        CLUSTERS,
        lambda s: sha in str(s.revision) and s.sync is SyncState.SYNCED,
        "both clusters on the new commit",
    )
    assert value_on(fleet, "west") == "two"


def test_rollback_applies_an_old_revision_everywhere_and_holds_it_until_resume(
    fleet: Harness,
) -> None:
    first = fleet.repo.head
    second = fleet.commit("two", {SETTINGS: configmap("settings", "two")})
    fleet.wait_status("shop", CLUSTERS, lambda s: second in str(s.revision), "second rollout")
    result = cli(fleet, "rollback", "shop", "--to", first[:10])
    assert result.exit_code == 0, result.output
    assert "automated sync is suspended" in result.output
    wait_for(
        lambda: value_on(fleet, "east") == "one" and value_on(fleet, "west") == "one",
        what="the old value back on both clusters",
    )
    fleet.commit("three", {SETTINGS: configmap("settings", "three")})
    fleet.wait_status(
        "shop",
        CLUSTERS,
        lambda s: s.sync is SyncState.OUT_OF_SYNC,
        "the third commit reported while rolled back",
    )
    assert value_on(fleet, "east") == "one"
    assert cli(fleet, "resume", "shop").exit_code == 0
    wait_for(
        lambda: value_on(fleet, "east") == "three" and value_on(fleet, "west") == "three",
        what="the latest value after resume",
    )


def test_rollback_to_a_revision_never_run_lists_the_known_ones(fleet: Harness) -> None:
    result = cli(fleet, "rollback", "shop", "--to", "deadbeef00")
    assert result.exit_code != 0
    assert "is not in its history; revisions it ran: main@sha1:" in result.output


def test_history_lists_each_reconcile_with_revision_and_changes(fleet: Harness) -> None:
    result = cli(fleet, "history", "shop", "--cluster", "west", "-o", "json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert entries and entries[-1]["counts"]["created"] == 1
    assert fleet.repo.head in entries[0]["revision"]


def test_diff_shows_an_edit_by_hand_and_exits_one(fleet: Harness) -> None:
    assert cli(fleet, "suspend", "shop").exit_code == 0
    runner = CliRunner()
    clean = runner.invoke(main, ["diff", "shop", "--cluster", "east", "-c", str(fleet.fleet_file)])
    assert clean.exit_code == 0, clean.output
    fleet.edit_by_hand("east", "settings", "default", {"value": "by-hand"})
    drifted = runner.invoke(
        main, ["diff", "shop", "--cluster", "east", "-c", str(fleet.fleet_file)]
    )
    assert drifted.exit_code == 1, drifted.output
    assert "-  value: by-hand" in drifted.output and "+  value: one" in drifted.output
