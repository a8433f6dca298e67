"""The apply path's figures (issue 16): the fleet-wide change at one size, and a commit's fan-out.

    python -m bench.apply_path scale --pairs 10000 --workers 1 [--batch 2] [--kubectl]
        [--profile DIR]
    python -m bench.apply_path fanout --clusters 100 [--profile DIR] [--no-kubectl]

`scale`: A applications x 100 clusters converged, then one commit changing every application;
the time from the push notification until every pair is Synced at it, the processes' CPU
seconds during the change, Redis commands, Kubernetes requests and Redis memory per pair, the
apply workers' memory; `--batch N` sets FLEETSYNC_CLUSTER_BATCH (0: one task per pair);
`--kubectl` then times push mode on the same clusters (one `kubectl apply --server-side` per
cluster carrying every application's ConfigMap, sequentially); `--profile` records the apply
workers and kubesim with py-spy during the change. `fanout`: scenario 1 and 2 of `python -m
bench` at one size; `--profile` records the apply worker from the webhook until every cluster is
Synced. Prints one JSON line, which says the command, the commit, when it started
and the load average at its start and end (`--out FILE` appends it there too).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench import runlog, scenarios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apply_path")
    sub = parser.add_subparsers(dest="what", required=True)
    scale = sub.add_parser("scale")
    scale.add_argument("--pairs", type=int, default=10_000)
    scale.add_argument("--clusters", type=int, default=100)
    scale.add_argument("--workers", type=int, default=1)
    scale.add_argument("--batch", type=int, default=2)
    scale.add_argument("--kubectl", action="store_true")
    scale.add_argument("--profile", type=Path, default=None)
    scale.add_argument("--profile-seconds", type=float, default=20.0)
    fanout = sub.add_parser("fanout")
    fanout.add_argument("--clusters", type=int, default=100)
    fanout.add_argument("--profile", type=Path, default=None)
    fanout.add_argument("--no-kubectl", action="store_true", help="skip the kubectl loops")
    for each in (scale, fanout):
        each.add_argument("--out", type=Path, default=None, help="append the JSON line here")
    args = parser.parse_args(argv)
    started = time.time()
    context = runlog.context("bench.apply_path", argv)
    runlog.stop_cleanly_on_term()
    with tempfile.TemporaryDirectory(prefix="fleetsync-apply-path-") as tmp:
        if args.what == "scale":
            result = scenarios.fleet_wide(
                Path(tmp),
                args.pairs,
                args.clusters,
                args.workers,
                scenarios.FULL,
                batch_from=args.batch,
                kubectl=args.kubectl,
                profile=args.profile,
                profile_seconds=args.profile_seconds,
            )
        else:
            result = scenarios.fanout(
                Path(tmp),
                args.clusters,
                scenarios.FULL,
                profile=args.profile,
                kubectl=not args.no_kubectl,
            )
    result["wall_seconds"] = round(time.time() - started, 1)
    runlog.emit({**context, "load_average_end": runlog.load_average(), **result}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
