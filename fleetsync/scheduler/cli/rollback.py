"""`fleetsync rollback APP --to REVISION`: apply a previous revision and suspend automated sync."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import open_sender, published_fleet, redis_option
from fleetsync.scheduler.operations import rollback
from fleetsync.shared.errors import FleetsyncError


@click.command("rollback")
@click.argument("app")
@click.option(
    "--to",
    "to",
    required=True,
    help="A revision from `fleetsync history` (ref@sha1:<sha>, or a sha prefix of 7+ characters).",
)
@redis_option
def command(app: str, to: str, redis_url: str | None) -> None:
    """Roll APP back to a revision it ran before, on every target cluster."""
    store, sender = open_sender(redis_url)
    try:
        pin = rollback(store, sender, published_fleet(store), app, to)
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{app}: rolling back to {pin.revision} on every target cluster.")
    click.echo(
        f"{app}: automated sync is suspended, so new commits are not applied; "
        f"`fleetsync resume {app}` returns it to the latest revision in Git."
    )
