"""`fleetsync render APP`: render an application locally and print its YAML (like `flux build`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml

from fleetsync.scheduler.cli.options import config_option
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.settings import load_settings
from fleetsync.shared.source import render_at


@click.command("render")
@click.argument("app")
@config_option
@click.option(
    "--revision",
    default=None,
    help="Branch, tag, sha or a unique sha prefix (default: the declared ref); for a chart, "
    "a version or range.",
)
@click.option(
    "--cluster",
    default=None,
    help="Show what this cluster gets: its overrides, Helm variables and substituted values.",
)
def command(app: str, config: Path, revision: str | None, cluster: str | None) -> None:
    """Render APP at a revision and print its objects as YAML."""
    settings = load_settings()
    try:
        fleet = load_fleet(config)
        declared = fleet.applications.get(AppName(app))
        if cluster is None and declared is not None and declared.varies:
            click.echo(
                f"note: {app} differs per cluster (overrides, cluster variables): this is its "
                "render before them; give --cluster to see what a cluster gets",
                err=True,
            )
        resolved, result = render_at(
            fleet,
            AppName(app),
            revision=revision,
            mirror_dir=settings.mirror_dir,
            cluster=ClusterName(cluster) if cluster else None,
        )
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        (f"# {app} for cluster {cluster}" if cluster else f"# {app}")
        + f" at {resolved} ({result.renderer.value}, {len(result.bundle.objects)} objects, "
        f"digest {result.bundle.digest[:12]})",
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    yaml.safe_dump_all(
        [dict(o) for o in result.bundle.objects],
        sys.stdout,
        sort_keys=False,
        explicit_start=True,
    )
