"""The benchmark harness's smoke test: `python -m bench --quick` runs every scenario small on
real processes and writes every figure, the table and the plots. It asserts that the harness
measured something, never how fast: speed is the benchmark's to report, not the suite's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Every scenario in one run, each with its own real processes: more than the suite's default
# five minutes on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return out, json.loads((out / "results.json").read_text()), done.stdout + done.stderr


def _no_failures(value: Any, where: str) -> None:
    if isinstance(value, dict):
        assert "failed" not in value, f"{where}: {value['failed']}"
        for key, inner in value.items():
            _no_failures(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            _no_failures(inner, f"{where}[{i}]")


def test_every_scenario_ran_without_a_failure_record(
    quick_run: tuple[Path, dict[str, Any], str],
) -> None:
    _, results, output = quick_run
    scenarios = results["scenarios"]
    assert set(scenarios) == {
        "fanout",
        "idle",
        "monorepo",
        "scale",
        "faulty",
        "variants",
        "variants-helm",
    }, output[-3000:]
    _no_failures(scenarios, "scenarios")
    assert results["machine"]["cores"] >= 1
    assert results["command"].startswith("python -m bench --quick")


def test_fanout_times_every_cluster_and_the_kubectl_baselines(
    quick_run: tuple[Path, dict[str, Any], str],
) -> None:
    (fanout,) = quick_run[1]["scenarios"]["fanout"]
    for trigger in ("webhook", "poll"):
        figures = fanout[trigger]
        assert figures["converged"] == figures["of"] == fanout["clusters"]
        assert len(figures["latencies"]) == fanout["clusters"]
        assert 0 < figures["p50"] <= figures["p95"] <= figures["max"] == figures["total_seconds"]
        assert figures["requests_per_cluster"] > 0
        assert figures["cpu_seconds"]["apply"] > 0  # each process's CPU during the round
    assert fanout["webhook"]["apply_worker_rss_mib"]["apply"] > 0
    kubectl = fanout["kubectl"]
    assert kubectl["failures"] == 0
    assert kubectl["sequential_seconds"] > 0 and kubectl["parallel8_seconds"] > 0
    assert fanout["ratio_to_kubectl_sequential"] > 0
    assert fanout["ratio_to_kubectl_parallel8"] > 0


def test_the_idle_fleet_counts_git_kubernetes_redis_and_cpu(
    quick_run: tuple[Path, dict[str, Any], str],
) -> None:
    (idle,) = quick_run[1]["scenarios"]["idle"]
    assert idle["ls_remote_per_min"] > 0
    # Exact counts, not speeds: an idle fleet fetches, renders and writes nothing.
    assert idle["fetches_per_min"] == 0
    assert idle["renders_per_min"] == 0
    assert idle["kube_writes_per_min"] == 0
    assert idle["redis_commands_per_min"] > 0
    assert {"beat", "fetch", "apply", "kubesim"} <= set(idle["cpu_seconds_per_min"])


def test_the_monorepo_commit_renders_one_application(
    quick_run: tuple[Path, dict[str, Any], str],
) -> None:
    mono = quick_run[1]["scenarios"]["monorepo"]
    assert mono["renders"] == 1
    assert mono["render_cache_hits"] == mono["applications"] - 1
    assert mono["converge_seconds"] is not None


def test_scale_and_faulty_report_convergence_and_memory(
    quick_run: tuple[Path, dict[str, Any], str],
) -> None:
    scale = quick_run[1]["scenarios"]["scale"]
    assert {f["apply_workers"] for f in scale} == {1, 2}
    for point in scale:
        assert point["converged"] == point["pairs"]
        assert point["converge_seconds"] is not None
        assert all(rss > 0 for rss in point["apply_worker_rss_mib"].values())
        assert len(point["apply_worker_rss_mib"]) == point["apply_workers"]
    faulty = quick_run[1]["scenarios"]["faulty"]
    healthy = faulty["clusters"] - faulty["slow"] - faulty["down"]
    assert faulty["healthy_with_faults"]["converged"] == healthy
    assert faulty["slowdown_ratio"] > 0


def test_per_cluster_values_render_once_per_region_and_reconcile_only_the_region_edited(
    quick_run: tuple[Path, dict[str, Any], str],
) -> None:
    for name, edit_renders in (("variants", 0), ("variants-helm", 1)):
        v = quick_run[1]["scenarios"][name]
        commit, edit = v["commit"], v["values_edit"]
        assert commit["bundles"] == v["regions"]
        assert commit["renders"] == (1 if name == "variants" else v["regions"])
        assert commit["reconciles"] == commit["converged"] == v["clusters"]
        assert edit["renders"] == edit_renders
        assert edit["reconciles"] == edit["converged"] == edit["region_clusters"]
        assert edit["region_clusters"] == v["clusters"] // v["regions"]


def test_the_table_and_plots_are_written(quick_run: tuple[Path, dict[str, Any], str]) -> None:
    out = quick_run[0]
    table = (out / "results.md").read_text()
    rows = ("1 fan-out", "2 kubectl", "3 idle", "4 monorepo", "5 scale", "6 faulty", "7 variants")
    for row in rows:
        assert f"| {row}" in table
    assert "failed" not in table
    for plot in ("latency.png", "scale.png"):
        assert (out / plot).read_bytes().startswith(b"\x89PNG")
