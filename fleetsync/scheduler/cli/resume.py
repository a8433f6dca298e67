"""`fleetsync resume APP`: back to Git's latest revision, automated sync on again."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import open_sender, published_fleet, redis_option
from fleetsync.scheduler.operations import resume
from fleetsync.shared.errors import FleetsyncError


@click.command("resume")
@click.argument("app")
@redis_option
def command(app: str, redis_url: str | None) -> None:
    """Resume automated sync of APP (dropping any rollback) and reconcile it everywhere."""
    store, sender = open_sender(redis_url)
    try:
        enqueued = resume(store, sender, published_fleet(store), app)
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{app}: resumed; reconciling {len(enqueued)} clusters to the latest revision.")
