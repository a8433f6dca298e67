"""`python -m bench.beat_tick` on a small fleet with short intervals: the first tick publishes
the declaration and plans the due-sets, the steady window sends every repository's poll and
every pair's drift check once (each comes due within its interval; a second is coalesced, no
worker taking the first), and an edit of fleet.yaml, read beside the ticks, is published by one
of them. What a tick costs is
the benchmark's to report, not this test's."""

from __future__ import annotations

import json

import pytest

from tests.bench.conftest import RunBench

pytestmark = pytest.mark.slow


def test_the_steady_window_sends_each_poll_and_drift_check_once(run_bench: RunBench) -> None:
    out = run_bench(
        "bench.beat_tick",
        "beat.jsonl",
        "--apps 60 --repos 6 --clusters 3 --poll 2 --drift 3 --seconds 5",
        timeout=300,
    )
    line = json.loads(out.read_text())
    assert line["first_read"]["publishing_tick"]["redis_commands"] > 0
    steady = line["steady"]
    assert steady["ticks"] >= 2
    assert (steady["polls_sent"], steady["drift_checks_sent"]) == (6, 60)
    edit = line["fleet_yaml_edit"]
    assert edit["publishing_tick"]["redis_commands"] > 0
    assert edit["read_wall_ms"] > 0 and edit["longest_gap_between_sends_ms"] > 0
