"""`fleetsync up`: the whole system as children of one command, started and stopped cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_demo import processes_mentioning
from tests.support.redis_server import free_port
from tests.support.up import Up, start_up, up_argv, up_env
from tests.support.waiting import wait_for


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text("repositories: []\nclusters: []\napplications: []\n")
    return path


@pytest.fixture
def up(tmp_path: Path, fleet_file: Path) -> Iterator[Up]:
    with start_up(fleet_file, up_env(tmp_path), flower=True) as running:
        yield running


def test_up_serves_then_stops_on_sigterm_leaving_no_process(up: Up, fleet_file: Path) -> None:
    up.wait_ready(timeout=60)
    assert len(processes_mentioning(str(fleet_file))) >= 4
    assert up.stop() == 0
    wait_for(
        lambda: processes_mentioning(str(fleet_file)) == [], timeout=10, what="every child gone"
    )
    output = up.output()
    assert "fleetsync is up" in output and "SIGTERM: stopping" in output
    redis_port = int(re.search(r"Redis redis://127\.0\.0\.1:(\d+)", output).group(1))  # type: ignore[union-attr]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()


def children(fleet_file: Path) -> dict[str, int]:
    """`up`'s children by role (beat, fetch, apply, notify, watch, api, flower): pid of each
    process group's leader."""
    found: dict[str, int] = {}
    for pid in processes_mentioning(str(fleet_file)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if os.getpgid(pid) != pid:
                continue  # a worker's pool child
        except OSError:
            continue
        words = [w.decode() for w in cmdline]
        for role, marker in (
            ("beat", "beat"),
            ("fetch", "poll,fetch"),
            ("apply", "apply"),
            ("notify", "notify"),
            ("api", "api"),
            ("watch", "watch"),
            ("flower", "flower"),
        ):
            if marker in words and "up" not in words:
                found[role] = pid
                break
    return found


def test_a_child_that_dies_is_restarted_and_the_rest_keep_running(up: Up, fleet_file: Path) -> None:
    up.wait_ready(timeout=60)
    before = wait_for(
        lambda: (found := children(fleet_file)).keys() >= {"beat", "api", "watch"} and found,
        what="beat, api and the watcher running",
    )
    os.kill(before["beat"], signal.SIGKILL)
    restarted = wait_for(
        lambda: (
            (found := children(fleet_file)).get("beat", before["beat"]) != before["beat"] and found
        ),
        timeout=30,
        what="a new beat",
    )
    assert restarted["api"] == before["api"]
    assert restarted["watch"] == before["watch"]
    assert up.proc.alive() and up.ready()
    assert up.stop() == 0
    wait_for(
        lambda: processes_mentioning(str(fleet_file)) == [], timeout=10, what="every child gone"
    )
    output = up.output()
    assert re.search(
        r"beat exited with code -9 after \d+s; restarting it in 1s \(restart 1\)", output
    )
    assert f"beat restarted (pid {restarted['beat']})" in output


CREDENTIAL_FLEET = """\
repositories:
  - name: platform
    url: git://127.0.0.1:9/platform.git
    credentials: {username_env: FLEETSYNC_TEST_GIT_USER, password_env: GIT_TOKEN_FOR_TEST}
clusters: []
applications: []
notifications:
  - {name: ops, url_env: FLEETSYNC_TEST_HOOK_URL, secret_env: HOOK_SECRET_FOR_TEST,
     events: [sync-failed]}
"""


def environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_each_child_gets_only_the_secrets_it_needs(tmp_path: Path, fleet_file: Path) -> None:
    fleet_file.write_text(CREDENTIAL_FLEET)
    secrets = {
        "FLEETSYNC_TEST_GIT_USER": "git-user",
        "GIT_TOKEN_FOR_TEST": "git-token-value",
        "FLEETSYNC_API_TOKEN": "api-token-value-0123456789",
        "FLEETSYNC_WEBHOOK_SECRET": "webhook-secret-value",
        "FLOWER_BASIC_AUTH": "user:flower-password",
        "FLEETSYNC_TEST_HOOK_URL": "https://hooks.example.com/secret-path",
        "HOOK_SECRET_FOR_TEST": "hook-signing-secret-value",
    }
    up = start_up(fleet_file, up_env(tmp_path, **secrets), flower=True, data_dir=tmp_path / "data")
    try:
        found = wait_for(
            lambda: len(kids := children(fleet_file)) == 7 and kids,
            timeout=60,
            what="the seven children",
        )
        wanted = {
            "beat": set(),
            "apply": set(),
            "notify": {"FLEETSYNC_TEST_HOOK_URL", "HOOK_SECRET_FOR_TEST"},
            "watch": set(),
            "fetch": {"FLEETSYNC_TEST_GIT_USER", "GIT_TOKEN_FOR_TEST"},
            "api": {"FLEETSYNC_API_TOKEN", "FLEETSYNC_WEBHOOK_SECRET"},
            "flower": {"FLOWER_BASIC_AUTH"},
        }
        for role, pid in found.items():
            env = environment(pid)
            assert {k for k in secrets if k in env} == wanted[role], role
            assert env["FLEETSYNC_FLEET"] == str(fleet_file.resolve()), role
    finally:
        up.stop()


@pytest.mark.parametrize("token", ["REPLACE_ME", "short-token"])
def test_up_refuses_to_start_with_a_placeholder_or_short_api_token(
    tmp_path: Path, fleet_file: Path, token: str
) -> None:
    done = subprocess.run(
        up_argv(fleet_file, api_port=free_port(), data_dir=tmp_path / "data"),
        env=up_env(tmp_path, FLEETSYNC_API_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "refusing to start: FLEETSYNC_API_TOKEN" in done.stderr
    assert token not in done.stderr and "Traceback" not in done.stderr
    assert processes_mentioning(str(fleet_file)) == []
