"""`fleetsync status [APP]`: desired state per application and sync/health per cluster."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from fleetsync.scheduler.cli.options import open_store, published_fleet, redis_option
from fleetsync.scheduler.views import age, app_rows, pair_rows
from fleetsync.scheduler.views import short_revision as _short
from fleetsync.scheduler.views import styled as _styled


@click.command("status")
@click.argument("app", required=False)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
@redis_option
def command(app: str | None, output: str, redis_url: str | None) -> None:
    """Show every application (or APP): desired revision, source errors, and per target cluster
    its sync state, health, applied revision, age and message."""
    store = open_store(redis_url)
    fleet = published_fleet(store)
    if app is not None and app not in fleet.applications:
        raise click.ClickException(f"{app}: no such application")
    apps = app_rows(store, fleet, app)
    pairs = pair_rows(store, fleet, app)
    if output == "json":
        by_app = {a.application: a for a in apps}
        click.echo(
            json.dumps(
                [
                    {
                        **p.to_json(),
                        "desired_revision": by_app[p.application].desired_revision,
                        "source_error": by_app[p.application].source_error,
                    }
                    for p in pairs
                ],
                indent=2,
            )
        )
        return
    console = Console()
    error = store.fleet_error()
    if error:
        console.print(f"[red]fleet.yaml refused, running the last good declaration:[/]\n{error}")
    table = Table(title="applications", title_justify="left", expand=False)
    for col in ("APPLICATION", "REPOSITORY", "DESIRED", "DIGEST", "SOURCE"):
        table.add_column(col, overflow="fold")
    for a in apps:
        state = "[red]" + a.source_error + "[/]" if a.source_error else "ok"
        if a.suspended:
            state += f" [blue](suspended{', pinned at ' + _short(a.pinned) if a.pinned else ''})[/]"
        table.add_row(
            a.application, a.repository, _short(a.desired_revision), (a.digest or "-")[:12], state
        )
    console.print(table)
    pairs_table = Table(title="clusters", title_justify="left")
    for col in ("APPLICATION", "CLUSTER", "SYNC", "HEALTH", "REVISION", "AGE", "MESSAGE"):
        pairs_table.add_column(col, overflow="fold")
    for p in pairs:
        pairs_table.add_row(
            p.application,
            p.cluster,
            _styled(p.sync),
            _styled(p.health),
            _short(p.revision),
            age(p.at),
            p.message,
        )
    console.print(pairs_table)

