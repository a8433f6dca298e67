"""`python -m bench [--quick | --full] [--scenario NAME ...] [--out DIR]`: fleet-scale figures.

Each scenario starts its own real system (Redis, kubesim, a git daemon, beat and workers as
processes) and measures it; the run writes results.json (machine, versions, every figure),
results.md (a table) and PNG plots into --out. --quick runs every scenario small, as CI's smoke
test of the harness; --full runs the issue's sizes.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import report, scenarios, variants

NAMES = ("fanout", "idle", "monorepo", "scale", "faulty", "variants", "variants-helm")


def run(name: str, sizes: scenarios.Sizes, work: Path) -> Any:
    if name == "fanout":
        return [scenarios.fanout(work / f"fanout-{c}", c, sizes) for c in sizes.fanout_clusters]
    if name == "idle":
        return [scenarios.idle(work / f"idle-{r}", r, sizes) for r in sizes.idle_repos]
    if name == "monorepo":
        return scenarios.monorepo(work / "monorepo", sizes.monorepo_apps, sizes)
    if name == "scale":
        # Push mode (a kubectl loop over the same clusters) beside the curve's largest points.
        largest = max(sizes.scale_pairs)
        curve = [
            scenarios.fleet_wide(
                work / f"scale-{p}", p, sizes.scale_clusters, 1, sizes, kubectl=p == largest
            )
            for p in sizes.scale_pairs
        ]
        curve += [
            scenarios.fleet_wide(
                work / f"workers-{w}", sizes.worker_curve_pairs, sizes.scale_clusters, w, sizes
            )
            for w in sizes.worker_counts
            if w != 1
        ]
        if sizes.large_pairs:
            curve += [
                scenarios.fleet_wide(
                    work / f"large-{w}",
                    sizes.large_pairs,
                    sizes.large_clusters,
                    w,
                    sizes,
                    kubectl=True,
                )
                for w in sizes.worker_counts
            ]
        return curve
    if name in ("variants", "variants-helm"):
        clusters, regions = sizes.variant_clusters
        how = "helm" if name == "variants-helm" else "substitute"
        return variants.variants(work / name, clusters, regions, sizes.timeout, how=how)
    return scenarios.faulty(work / "faulty", sizes.faulty_clusters, sizes.faulty_bad, sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="every scenario, small (default)")
    mode.add_argument("--full", action="store_true", help="the issue's sizes")
    parser.add_argument("--scenario", action="append", choices=NAMES)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--work", type=Path, default=None, help="keep each rig's files (logs, fleet.yaml) here"
    )
    args = parser.parse_args(argv)
    sizes = scenarios.FULL if args.full else scenarios.QUICK
    out = args.out or Path("bench/out") / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "command": "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "mode": "full" if args.full else "quick",
        "machine": report.machine(),
        "scenarios": {},
    }
    with tempfile.TemporaryDirectory(prefix="fleetsync-bench-") as tmp:
        work = args.work or Path(tmp)
        for name in args.scenario or NAMES:
            started = time.monotonic()
            try:
                results["scenarios"][name] = run(name, sizes, work / name)
            except Exception as exc:  # a failed scenario is a figure too: say why, go on
                traceback.print_exc()
                results["scenarios"][name] = {"failed": f"{type(exc).__name__}: {exc}"}
            results.setdefault("seconds", {})[name] = round(time.monotonic() - started, 1)
            print(f"bench: {name} done in {results['seconds'][name]} s", flush=True)
            _write(out, results)  # after every scenario: a long run interrupted keeps its figures
    print(f"bench: results in {out}")
    return 0


def _write(out: Path, results: dict[str, Any]) -> None:
    report.write_json(out, results)
    report.write_markdown(out, results, results["command"])
    report.write_plots(out, results)


if __name__ == "__main__":
    sys.exit(main())
