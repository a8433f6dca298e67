"""`fleetsync diff APP --cluster C`: what a sync would change, as unified YAML diffs: objects
that differ, objects missing from the cluster (with the content a sync creates) and objects a
sync would prune (tracked in the cluster's inventory, no longer in Git).

Offline: renders the application from Git locally (like `render`) and reads the cluster's live
objects, writing nothing. Secret values are masked (a changed key shows as changed) unless
`--show-secrets`. Exit code 0 when in sync, 1 when something differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetsync.scheduler.cli.options import config_option
from fleetsync.scheduler.inspection import ObjectState, inspect_pair
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.reconcile import targets
from fleetsync.shared.settings import load_settings
from fleetsync.shared.source import render_at


@click.command("diff")
@click.argument("app")
@click.option("--cluster", required=True)
@config_option
@click.option(
    "--revision",
    default=None,
    help="Branch, tag, sha or a unique sha prefix (default: the declared ref).",
)
@click.option(
    "--show-secrets", is_flag=True, help="Show Secret values instead of masking them (local only)."
)
def command(app: str, cluster: str, config: Path, revision: str | None, show_secrets: bool) -> None:
    """Show what syncing APP at a revision would change on a cluster."""
    settings = load_settings()
    try:
        fleet = load_fleet(config)
        targets(fleet, app, cluster)
        resolved, result = render_at(
            fleet,
            AppName(app),
            revision=revision,
            mirror_dir=settings.mirror_dir,
            cluster=ClusterName(cluster),  # what this cluster gets: its overrides and values
        )
        report = inspect_pair(
            fleet,
            AppName(app),
            ClusterName(cluster),
            result.bundle,
            stored_inventory=None,
            cache_dir=settings.kube_cache_dir,
            show_secrets=show_secrets,
        )
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
    summary = report.summary() if report.differs else f"in sync ({report.summary()})"
    click.echo(f"# {app} at {resolved} against {cluster}: {summary}", err=True)
    for obj in report.objects:
        if obj.state is ObjectState.IN_SYNC:
            continue
        click.echo(f"# {obj.key}: {obj.state}: {obj.message}")
        if obj.diff:
            click.echo(obj.diff, nl=False)
    if report.differs:
        sys.exit(1)
