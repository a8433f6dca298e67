"""`python -m bench.watch_memory` on a few hundred unowned ConfigMaps: it runs on real processes,
every object is created and edited, the watcher asks for no check of them and each figure is
there. What the memory comes out at is the benchmark's to report, not this test's."""

from __future__ import annotations

import json

import pytest

from tests.bench.conftest import RunBench

pytestmark = pytest.mark.slow


def test_unowned_objects_are_created_and_edited_and_ask_for_no_check(run_bench: RunBench) -> None:
    out = run_bench(
        "bench.watch_memory",
        "memory.json",
        "--objects 300 --apps 2 --settle-quiet 3 --timeout 90",
    )
    figures = json.loads(out.read_text())
    assert (figures["create_failures"], figures["edit_failures"]) == (0, 0)
    assert figures["reconciles_meanwhile"] == 0
    for key in ("watching", "after_create", "after_edit"):
        assert figures[f"watcher_rss_mib_{key}"] > 0
    assert figures["watch_requests"] >= 3
