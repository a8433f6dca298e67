"""`python -m bench.watch_memory` on a few hundred unowned ConfigMaps: it runs on real processes,
every object is created and edited, the watcher asks for no check of them and each figure is
there. What the memory comes out at is the benchmark's to report, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_unowned_objects_are_created_and_edited_and_ask_for_no_check(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.watch_memory",
            "--objects",
            "300",
            "--apps",
            "2",
            "--settle-quiet",
            "3",
            "--timeout",
            "90",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert (figures["create_failures"], figures["edit_failures"]) == (0, 0)
    assert figures["reconciles_meanwhile"] == 0
    for key in ("watching", "after_create", "after_edit"):
        assert figures[f"watcher_rss_mib_{key}"] > 0
    assert figures["watch_requests"] >= 3
