"""`fleetsync history APP --cluster C`: what the last reconciles of a pair did."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from fleetsync.scheduler.cli.options import open_store, published_fleet, redis_option
from fleetsync.scheduler.views import age
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.reconcile import targets


@click.command("history")
@click.argument("app")
@click.option("--cluster", required=True)
@click.option("-n", "--limit", type=int, default=20, show_default=True)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
@redis_option
def command(app: str, cluster: str, limit: int, output: str, redis_url: str | None) -> None:
    """Show the newest reconciles of APP on a cluster: revision, result and changes."""
    store = open_store(redis_url)
    try:
        targets(published_fleet(store), app, cluster)
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
    entries = store.history(app, cluster, limit=limit)
    if output == "json":
        click.echo(json.dumps([e.to_json() for e in entries], indent=2))
        return
    table = Table(title=f"{app} on {cluster}", title_justify="left")
    for col in ("AGE", "REVISION", "SYNC", "HEALTH", "TRIGGER", "CHANGES", "MESSAGE"):
        table.add_column(col, overflow="fold")
    for e in entries:
        changes = ", ".join(f"{n} {a}" for a, n in e.counts.items() if n) or "-"
        table.add_row(
            age(e.at),
            str(e.revision or "-"),
            e.sync.value,
            e.health.value,
            e.trigger.label,
            changes,
            e.message,
        )
    Console().print(table)
