"""`fleetsync diff APP --cluster C`: what a sync would change, as a unified YAML diff.

Offline: renders the application from Git locally (like `render`) and compares it with the
cluster's live objects, reading only. Exit code 0 when in sync, 1 when something differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetsync.scheduler.cli.options import config_option
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.kube import render_diff
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.reconcile import preview
from fleetsync.shared.settings import load_settings
from fleetsync.shared.source import render_at


@click.command("diff")
@click.argument("app")
@click.option("--cluster", required=True)
@config_option
@click.option("--revision", default=None, help="Branch, tag or sha (default: the declared ref).")
def command(app: str, cluster: str, config: Path, revision: str | None) -> None:
    """Show what syncing APP at a revision would change on a cluster."""
    settings = load_settings()
    try:
        fleet = load_fleet(config)
        resolved, result = render_at(
            fleet, AppName(app), revision=revision, mirror_dir=settings.mirror_dir
        )
        report = preview(
            fleet,
            AppName(app),
            ClusterName(cluster),
            result.bundle,
            cache_dir=settings.kube_cache_dir,
        )
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"# {app} at {resolved} against {cluster}: {report.summary()}", err=True)
    if report.drifted:
        click.echo(render_diff(report))
        sys.exit(1)
