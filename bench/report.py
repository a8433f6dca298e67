"""The benchmark's output: one JSON file with the machine and every figure, a Markdown table,
and PNG plots (per-cluster latency of the fan-out, the scale curves)."""

from __future__ import annotations

import json
import os
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(meminfo[1]) / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: version(p) for p in ("fleetsync", "celery", "kubernetes", "redis")},
    }


def write_json(out: Path, results: dict[str, Any]) -> Path:
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=2))
    return path


def _fig(value: Any, key: str, unit: str = "") -> str:
    if isinstance(value, dict) and key in value and value[key] is not None:
        return f"{value[key]}{unit}"
    if isinstance(value, dict) and "failed" in value:
        return f"failed: {value['failed']}"
    return "-"


def write_markdown(out: Path, results: dict[str, Any], command: str) -> Path:
    rows = [
        f"Command: `{command}`  ",
        f"Machine: {results['machine']['cores']} cores, "
        f"{results['machine']['memory_gib']} GiB, Python {results['machine']['python']}",
        "",
    ]
    s = results["scenarios"]
    rows += ["| scenario | figure | measured |", "| --- | --- | --- |"]
    for f in s.get("fanout", []):
        c = f.get("clusters")
        rows.append(
            f"| 1 fan-out, {c} clusters | webhook to all Synced (total / p50 / p95) | "
            f"{_fig(f.get('webhook'), 'total_seconds', ' s')} / "
            f"{_fig(f.get('webhook'), 'p50', ' s')} / {_fig(f.get('webhook'), 'p95', ' s')}"
            " |"
        )
        rows.append(
            f"| 1 fan-out, {c} clusters | poll to all Synced (total) | "
            f"{_fig(f.get('poll'), 'total_seconds', ' s')} |"
        )
        rows.append(
            f"| 1 fan-out, {c} clusters | requests / writes per cluster | "
            f"{_fig(f.get('webhook'), 'requests_per_cluster')} / "
            f"{_fig(f.get('webhook'), 'writes_per_cluster')} |"
        )
        rows.append(
            f"| 2 kubectl, {c} clusters | sequential / 8 parallel | "
            f"{_fig(f.get('kubectl'), 'sequential_seconds', ' s')} / "
            f"{_fig(f.get('kubectl'), 'parallel8_seconds', ' s')} |"
        )
        rows.append(
            f"| 2 ratio, {c} clusters | fleetsync / sequential, / parallel | "
            f"{f.get('ratio_to_kubectl_sequential', '-')} / "
            f"{f.get('ratio_to_kubectl_parallel8', '-')} |"
        )
    for f in s.get("idle", []):
        r = f.get("repositories")
        rows.append(
            f"| 3 idle, {r} repositories | ls-remote per min (floor) | "
            f"{_fig(f, 'ls_remote_per_min')} ({_fig(f, 'floor_ls_remote_per_min')}) |"
        )
        rows.append(
            f"| 3 idle, {r} repositories | fetches / renders / kube writes per min | "
            f"{_fig(f, 'fetches_per_min')} / {_fig(f, 'renders_per_min')} / "
            f"{_fig(f, 'kube_writes_per_min')} |"
        )
        rows.append(
            f"| 3 idle, {r} repositories | Redis commands per min | "
            f"{_fig(f, 'redis_commands_per_min')} |"
        )
        top = f.get("redis_top_commands_per_min") or {}
        if top:
            rows.append(
                f"| 3 idle, {r} repositories | busiest Redis commands per min | "
                + ", ".join(f"{k} {v}" for k, v in top.items())
                + " |"
            )
        cpu = f.get("cpu_seconds_per_min") or {}
        rows.append(
            f"| 3 idle, {r} repositories | CPU s per min | "
            + (", ".join(f"{k} {v}" for k, v in cpu.items()) or "-")
            + " |"
        )
    m = s.get("monorepo")
    if m:
        rows.append(
            f"| 4 monorepo, {m.get('applications')} apps | renders / reconciles / "
            f"kube writes | {_fig(m, 'renders')} / {_fig(m, 'reconciles')} / "
            f"{_fig(m, 'kube_writes')} |"
        )
        rows.append(f"| 4 monorepo | converge | {_fig(m, 'converge_seconds', ' s')} |")
    for f in s.get("scale", []):
        rows.append(
            f"| 5 scale, {f.get('pairs')} pairs, {f.get('apply_workers')} apply worker(s)"
            f" | converge / apply RSS MiB | {_fig(f, 'converge_seconds', ' s')} / "
            f"{f.get('apply_worker_rss_mib', '-')} |"
        )
    fa = s.get("faulty")
    if fa:
        rows.append(
            f"| 6 faulty, {fa.get('clusters')} clusters ({fa.get('slow')} slow, "
            f"{fa.get('down')} down) | healthy converge without / with faults | "
            f"{_fig(fa.get('all_healthy'), 'total_seconds', ' s')} / "
            f"{_fig(fa.get('healthy_with_faults'), 'total_seconds', ' s')} |"
        )
    for name in ("variants", "variants-helm"):
        v = s.get(name)
        if not v:
            continue
        if "failed" in v:
            rows.append(f"| 7 {name} | - | failed: {v['failed']} |")
            continue
        commit, edit = v.get("commit", {}), v.get("values_edit", {})
        rows.append(
            f"| 7 {name}, {v.get('clusters')} clusters in {v.get('regions')} regions | "
            "a commit: renders / bundles / reconciles; one region's values: renders / "
            "bundles made / reconciles | "
            f"{commit.get('renders')} / {commit.get('bundles')} / {commit.get('reconciles')}; "
            f"{edit.get('renders')} / {edit.get('substitutions') or edit.get('renders')} / "
            f"{edit.get('reconciles')} |"
        )
    path = out / "results.md"
    path.write_text("\n".join(rows) + "\n")
    return path


def write_plots(out: Path, results: dict[str, Any]) -> list[Path]:
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for f in results["scenarios"].get("fanout", []):
        for trigger in ("webhook", "poll"):
            lat = (f.get(trigger) or {}).get("latencies") or []
            if lat:
                ax.plot(
                    lat,
                    [(i + 1) / len(lat) for i in range(len(lat))],
                    label=f"{f['clusters']} clusters, {trigger}",
                )
    ax.set_xlabel("seconds from push to Synced")
    ax.set_ylabel("fraction of clusters")
    ax.set_title("fan-out: per-cluster latency (CDF)")
    ax.legend(fontsize=8)
    paths.append(out / "latency.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    scale = [f for f in results["scenarios"].get("scale", []) if f.get("converge_seconds")]
    for workers in sorted({f["apply_workers"] for f in scale}):
        points = sorted(
            (f["pairs"], f["converge_seconds"]) for f in scale if f["apply_workers"] == workers
        )
        ax.plot(
            [p for p, _ in points],
            [t for _, t in points],
            marker="o",
            label=f"{workers} apply worker(s)",
        )
    ax.set_xscale("log")
    ax.set_xlabel("(application, cluster) pairs")
    ax.set_ylabel("seconds to converge after a fleet-wide change")
    ax.set_title("scale curve")
    ax.legend(fontsize=8)
    paths.append(out / "scale.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    return paths
