"""The `kubesim` console script: `kubesim serve --clusters N` serves N simulated clusters.

On start it writes one kubeconfig per cluster plus `_combined.kubeconfig` into the kubeconfig
directory and prints one line, `kubesim: serving N clusters at URL (kubeconfigs in DIR)`, which a
parent process can wait for. It serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from kubesim.faults import ControllerSettings
from kubesim.simulator import cluster_names, open_fleet


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubesim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve simulated clusters until interrupted")
    serve.add_argument("--clusters", type=int, default=1, help="how many clusters (default 1)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    serve.add_argument(
        "--kubeconfig-dir",
        type=Path,
        default=None,
        help="where to write kubeconfigs (default: a new temporary directory)",
    )
    serve.add_argument("--name-prefix", default="sim-", help="cluster name prefix (sim-)")
    serve.add_argument(
        "--ready-delay",
        type=float,
        default=0.5,
        help="seconds until simulated workloads become ready (0.5)",
    )
    serve.add_argument(
        "--no-controllers",
        action="store_true",
        help="do not simulate controllers (status stays empty)",
    )
    return parser


async def _serve(args: argparse.Namespace, started: float) -> None:
    directory = args.kubeconfig_dir or Path(tempfile.mkdtemp(prefix="kubesim-"))
    directory.mkdir(parents=True, exist_ok=True)
    controllers = ControllerSettings(enabled=not args.no_controllers, ready_delay=args.ready_delay)
    fleet, server = await open_fleet(
        cluster_names(args.clusters, args.name_prefix), args.host, args.port, directory, controllers
    )
    elapsed = time.monotonic() - started
    print(
        f"kubesim: serving {args.clusters} clusters at {fleet.base_url} "
        f"(kubeconfigs in {directory}; started in {elapsed:.2f}s)",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    # One process serves every cluster: a connection each for every client of a thousand
    # clusters passes the soft limit on open files many systems start with.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    args = _parser().parse_args(argv)
    if args.clusters < 1:
        print("kubesim: --clusters must be at least 1", file=sys.stderr)
        return 2
    asyncio.run(_serve(args, started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
