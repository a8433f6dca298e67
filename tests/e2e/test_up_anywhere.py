"""`fleetsync up` run the way a new user runs it: from any directory (even one holding a
`fleetsync/` folder, such as the parent of a clone), and found by the other commands without
any environment variable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.redis_server import free_port
from tests.support.waiting import wait_for

FLEETSYNC = str(Path(sys.executable).parent / "fleetsync")


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_up_from_a_directory_holding_a_fleetsync_folder_and_status_finds_it(
    tmp_path: Path,
) -> None:
    shadow = tmp_path / "fleetsync"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the working directory shadowed')\n")
    (tmp_path / "fleet.yaml").write_text("repositories: []\nclusters: []\napplications: []\n")
    state = tmp_path / "state"
    env = {
        **{k: v for k, v in os.environ.items() if k != "FLEETSYNC_REDIS_URL"},
        "FLEETSYNC_STATE_DIR": str(state),
        "FLEETSYNC_CACHE_DIR": str(tmp_path / "cache"),
    }
    api_port = free_port()
    up = subprocess.Popen(
        [
            FLEETSYNC,
            "up",
            "-c",
            "fleet.yaml",
            "--api-port",
            str(api_port),
            "--no-flower",
            "--fetch-concurrency",
            "1",
            "--apply-concurrency",
            "1",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: ready(api_port) or up.poll() is not None,
            timeout=90,
            what="the API of `fleetsync up` answering",
        )
        assert up.poll() is None, up.stdout.read() if up.stdout else ""
        announced = json.loads((state / "instance.json").read_text())
        assert announced["api_url"] == f"http://127.0.0.1:{api_port}"
        assert oct((state / "instance.json").stat().st_mode & 0o777) == "0o600"

        status = subprocess.run(
            [FLEETSYNC, "status", "-o", "json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout) == []
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(30)
    assert not (state / "instance.json").exists()
    gone = subprocess.run(
        [FLEETSYNC, "status"], env=env, capture_output=True, text=True, timeout=60
    )
    # Stopped: the state file is gone, so status no longer reaches that instance's Redis.
    assert gone.returncode != 0 and announced["redis_url"] not in gone.stderr
