"""`python -m bench.drift_watch` on a tiny fleet: both arms run on real processes, every edit and
delete is healed, and each figure is there. How fast is the benchmark's to report, not this
test's."""

from __future__ import annotations

import json

import pytest

from tests.bench.conftest import RunBench

pytestmark = pytest.mark.slow


def test_both_arms_heal_every_edit_and_delete_and_report_idle_costs(run_bench: RunBench) -> None:
    out = run_bench(
        "bench.drift_watch",
        "drift.json",
        "--clusters 3 --apps 2 --interval 5 --idle-seconds 3 --settle-quiet 3 "
        "--one-by-one 2 --timeout 90",
    )
    arms = json.loads(out.read_text())["arms"]
    assert set(arms) == {"watch", "interval"}
    for name, arm in arms.items():
        for what in ("edit", "delete"):
            assert (arm[what]["healed"], arm[what]["of"]) == (3, 3), (name, what, arm[what])
            assert arm[what]["p95"] > 0
        assert arm["idle"]["redis_commands_per_min"] > 0
    assert arms["watch"]["edit_one_at_a_time"]["healed"] == 2
    assert arms["watch"]["idle"]["cpu_seconds_per_min"]["watch"] >= 0
    assert "watch" not in arms["interval"]["idle"]["cpu_seconds_per_min"]
