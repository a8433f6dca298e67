"""`python -m bench.fanout_latency` on two kubesim clusters, one round: the webhook's fan-out
converges, every step of its time is found in the processes' own log lines, in the order the
pipeline takes them, and the kubectl loops ran. How long each step takes is the benchmark's to
report, not this test's."""

from __future__ import annotations

import json

import pytest

from bench.stages import STEPS
from tests.bench.conftest import RunBench

pytestmark = pytest.mark.slow


def test_a_round_finds_every_step_of_the_webhook_in_order(run_bench: RunBench) -> None:
    out = run_bench(
        "bench.fanout_latency",
        "latency.jsonl",
        "--clusters 2 --rounds 1 --timeout 120",
    )
    line = json.loads(out.read_text().splitlines()[-1])
    assert line["command"].startswith("python -m bench.fanout_latency") and line["load_average"]
    (only,) = line["rounds"]
    assert (only["converged"], only["of"]) == (2, 2)
    marks = only["marks_ms"]
    order = [name for name, _ in STEPS]
    assert [name for name in order if name in marks] == order
    assert [marks[name] for name in order] == sorted(marks[name] for name in order)
    assert marks["fetch_end"] >= marks["rendered"]
    assert only["kubectl"]["failures"] == 0
    assert only["kubectl"]["sequential_seconds"] > 0 and only["kubectl"]["parallel_seconds"] > 0
    assert only["writes_per_cluster"] == 1.0
    assert line["summary"]["rounds_converged"] == 1
