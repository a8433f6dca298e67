"""`fleetsync demo --once`, the README's first command, run end to end as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line or environment contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            found.append(int(entry.name))
    return found


def test_the_demo_rolls_a_commit_out_to_every_simulated_cluster_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleetsync",
            "demo",
            "--once",
            "--workdir",
            str(workdir),
            "--clusters",
            "4",
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "every application Synced and Healthy on every cluster at" in output
    assert (
        "the commit rolled out: every application Synced and Healthy on every simulated" in output
    )
    assert "11/11 pairs Synced and Healthy" in output
    # The guestbook's commit goes to its canary first, bakes, then reaches the rest.
    canary = output.index("guestbook: rollout of")
    assert "wave 1/2 'canary' (sim-001): Baking" in output[canary:]
    assert "wave 2/2 'rest' (sim-00" in output[canary:]
    assert "every wave: Complete" in output[canary:]
    # The chart from the demo's own chart repository, at the version its range resolved to.
    assert "Helm chart repository http://127.0.0.1:" in output and "hello 0.1.0" in output
    assert "Open the web view: http://127.0.0.1:" in output
    assert processes_mentioning(str(workdir)) == []
    assert (workdir / "fleetsync.log").stat().st_size > 0
