"""`python -m bench.client_memory` on a few clusters: it runs kubesim as a process of its own,
connects to every cluster and reports each figure. What a client costs is the benchmark's to
report, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_every_cluster_is_connected_and_each_figure_is_there(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.client_memory", "--clusters", "6"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["clusters"] == 6
    assert figures["rss_mib_after"] >= figures["rss_mib_before"] > 0
    assert figures["cpu_ms_per_client_built"] > 0
    for key in ("kib_per_client", "kib_per_client_second_half"):
        assert key in figures
