"""`fleetsync up` run the way a new user runs it: from any directory (even one holding a
`fleetsync/` folder, such as the parent of a clone), and found by the other commands without
any environment variable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.up import start_up, up_env

FLEETSYNC = str(Path(sys.executable).parent / "fleetsync")


def test_up_from_a_directory_holding_a_fleetsync_folder_and_status_finds_it(
    tmp_path: Path,
) -> None:
    shadow = tmp_path / "fleetsync"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the working directory shadowed')\n")
    (tmp_path / "fleet.yaml").write_text("repositories: []\nclusters: []\napplications: []\n")
    state = tmp_path / "state"
    env = up_env(tmp_path)
    with start_up(Path("fleet.yaml"), env, program=(FLEETSYNC,), cwd=tmp_path) as up:
        up.wait_ready(timeout=90)
        announced = json.loads((state / "instance.json").read_text())
        assert announced["api_url"] == up.api_url
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
    assert not (state / "instance.json").exists()
    gone = subprocess.run(
        [FLEETSYNC, "status"], env=env, capture_output=True, text=True, timeout=60
    )
    # Stopped: the state file is gone, so status no longer reaches that instance's Redis.
    assert gone.returncode != 0 and announced["redis_url"] not in gone.stderr
