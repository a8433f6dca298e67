"""`fleetsync demo`: see fleetsync work in one command, on embedded defaults."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console

from fleetsync.scheduler.demo.run import DemoOptions, run_demo


@click.command("demo")
@click.option(
    "--once",
    is_flag=True,
    help="Exit once the commit has rolled out everywhere (0), or with the reason (1).",
)
@click.option("--clusters", type=click.IntRange(1, 200), default=6, show_default=True)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the repository, kubeconfigs, logs and Redis data (an append-only file in "
    "redis/) go (default: a new temp dir).",
)
@click.option(
    "--timeout", type=float, default=180.0, show_default=True, help="Seconds each rollout may take."
)
@click.option("--api-port", type=int, default=0, help="Default: a free port.")
@click.option("--flower-port", type=int, default=0, help="Default: a free port.")
def command(
    once: bool, clusters: int, workdir: Path | None, timeout: float, api_port: int, flower_port: int
) -> None:
    """Run a local Git repository, simulated clusters and fleetsync itself; show the fleet
    converge, commit a change and show it roll out."""
    where = workdir or Path(tempfile.mkdtemp(prefix="fleetsync-demo-"))
    if workdir is not None and workdir.exists() and any(workdir.iterdir()):
        raise click.ClickException(f"{workdir}: not empty; give a new or empty directory")
    code = run_demo(
        DemoOptions(
            workdir=where,
            clusters=clusters,
            once=once,
            timeout=timeout,
            api_port=api_port,
            flower_port=flower_port,
        ),
        Console(),
    )
    sys.exit(code)
