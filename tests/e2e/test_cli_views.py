"""The CLI as kubectl and argocd users expect it: status with -o wide|yaml, filters and --watch,
full-width output when piped, history for a whole application, diff showing what a sync would
prune and create (Secret values masked), rollback and refresh --wait, short shas, completion.
Real workers, Redis, git and kubesim clusters."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from fleetsync.scheduler.cli import main
from tests.support.fleet_harness import Harness
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap
from tests.support.shop_fleet import CLUSTERS, SETTINGS, running_shop
from tests.support.waiting import wait_for

LONG = "a message far longer than eighty columns, " * 4


def secret(password: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Secret
        metadata:
          name: credentials
        stringData:
          password: {password}
          user: operator
        """)


@pytest.fixture
def fleet(
    redis_url: str,
    tmp_path: Path,
    git_server: GitServer,
    git_repo: WorkRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Harness]:
    monkeypatch.setenv("FLEETSYNC_CACHE_DIR", str(tmp_path / "cli-cache"))
    files = {
        SETTINGS: configmap("settings", "one"),
        "apps/shop/extra.yaml": configmap("extra", LONG),
        "apps/shop/secret.yaml": secret("hunter2-original"),
    }
    with running_shop(
        redis_url=redis_url,
        tmp_path=tmp_path,
        git_server=git_server,
        git_repo=git_repo,
        files=files,
        labelled=True,
    ) as harness:
        yield harness


def cli(h: Harness, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--redis-url", h.runtime.settings.redis_url])


def offline(h: Harness, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "-c", str(h.fleet_file)])


def test_status_outputs_filters_and_full_width_rows_when_piped(fleet: Harness) -> None:
    wide = cli(fleet, "status", "-o", "wide")
    assert wide.exit_code == 0, wide.output
    lines = wide.output.splitlines()
    header = next(line for line in lines if line.startswith("APPLICATION") and "CLUSTER" in line)
    assert "TRIGGER" in header and "DURATION" in header and "CHANGES" in header
    rows = [line for line in lines if line.startswith("shop ") and "east" in line]
    # Piped: one line per pair, whatever its width (no wrapping at 80 columns).
    assert len(rows) == 1 and "3 created" in rows[0] and len(rows[0]) > 80

    as_yaml = yaml.safe_load(cli(fleet, "status", "-o", "yaml").output)
    assert [(r["cluster"], r["sync"], r["health"]) for r in as_yaml] == [
        ("east", "Synced", "Healthy"),
        ("west", "Synced", "Healthy"),
    ]
    only_west = json.loads(cli(fleet, "status", "--cluster", "west", "-o", "json").output)
    assert [r["cluster"] for r in only_west] == ["west"]
    by_label = json.loads(cli(fleet, "status", "-l", "side!=west", "-o", "json").output)
    assert [r["cluster"] for r in by_label] == ["east"]
    bad = cli(fleet, "status", "-l", "side in (east")
    assert bad.exit_code != 0 and "unbalanced parentheses" in bad.output
    unknown = cli(fleet, "status", "--cluster", "mars")
    assert unknown.exit_code != 0 and "mars: no such cluster" in unknown.output


def test_status_watch_prints_again_when_something_changes(fleet: Harness) -> None:
    redis_url = fleet.runtime.settings.redis_url
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fleetsync",
            "status",
            "--watch",
            "--interval",
            "0.2",
            "--redis-url",
            redis_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert watch.stdout is not None
        seen: list[str] = []

        def headers() -> int:
            seen.append(watch.stdout.readline())  # type: ignore[union-attr]
            return sum(1 for line in seen if line.startswith("APPLICATION") and "CLUSTER" in line)

        wait_for(lambda: headers() >= 1, timeout=30, interval=0, what="the first listing")
        assert cli(fleet, "sync", "shop", "--cluster", "east").exit_code == 0
        wait_for(lambda: headers() >= 2, timeout=30, interval=0, what="a second listing")
    finally:
        watch.kill()
        watch.wait()


def test_history_of_a_whole_application_lists_every_cluster(fleet: Harness) -> None:
    result = cli(fleet, "history", "shop", "-o", "json")
    assert result.exit_code == 0, result.output
    assert {e["cluster"] for e in json.loads(result.output)} == {"east", "west"}
    table = cli(fleet, "history", "shop")
    assert "east" in table.output and "west" in table.output
    head = fleet.repo.head
    at = cli(fleet, "history", "shop", "--revision", head[:6], "-o", "json")
    assert at.exit_code == 0, at.output
    entries = json.loads(at.output)
    assert entries and all(e["revision"] == f"main@sha1:{head}" for e in entries)
    unusable = cli(fleet, "history", "shop", "--revision", "zz")
    assert unusable.exit_code == 1
    assert "a prefix of at least 4 hex digits" in unusable.output


def test_diff_shows_what_a_sync_would_prune_and_create_with_secrets_masked(
    fleet: Harness,
) -> None:
    assert cli(fleet, "suspend", "shop").exit_code == 0
    first = fleet.repo.head
    fleet.commit(
        "next",
        {
            "apps/shop/extra.yaml": None,
            "apps/shop/added.yaml": configmap("added", "brand-new"),
            "apps/shop/secret.yaml": secret("hunter2-rotated"),
        },
    )
    result = offline(fleet, "diff", "shop", "--cluster", "east")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "core/ConfigMap/default/extra: prune" in out
    assert "core/ConfigMap/default/added: missing" in out and "+  value: brand-new" in out
    assert "core/Secret/default/credentials: modified" in out
    assert "*** (changed)" in out
    assert "hunter2" not in out
    assert base64.b64encode(b"hunter2-rotated").decode() not in out
    assert base64.b64encode(b"hunter2-original").decode() not in out

    shown = offline(fleet, "diff", "shop", "--cluster", "east", "--show-secrets")
    # revealed as the server stores it: stringData is compared as the base64 `data` it becomes
    assert base64.b64encode(b"hunter2-rotated").decode() in shown.output

    same = offline(fleet, "diff", "shop", "--cluster", "east", "--revision", first[:7])
    assert same.exit_code == 0, same.output
    assert "in sync" in same.output and f"shop at {first}@sha1:{first}" in same.output


def test_rollback_and_refresh_wait_and_take_short_shas(fleet: Harness) -> None:
    first = fleet.repo.head
    second = fleet.commit("two", {SETTINGS: configmap("settings", "two")})
    refreshed = cli(fleet, "refresh", "platform", "--wait", "--timeout", "60")
    assert refreshed.exit_code == 0, refreshed.output
    assert f"platform: at main@sha1:{second}" in refreshed.output
    fleet.wait_status("shop", CLUSTERS, lambda s: second in str(s.revision), "second rollout")

    rolled = cli(fleet, "rollback", "shop", "--to", first[:5], "--wait", "--timeout", "60")
    assert rolled.exit_code == 0, rolled.output
    assert f"Synced and Healthy at main@sha1:{first} on 2 clusters" in rolled.output


def test_completion_scripts_for_bash_and_zsh() -> None:
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef")):
        result = CliRunner().invoke(main, ["completion", shell])
        assert result.exit_code == 0 and "_FLEETSYNC_COMPLETE" in result.output
        assert marker in result.output
