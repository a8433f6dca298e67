"""`fleetsync suspend APP`: stop applying new revisions and healing drift (still reported)."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import open_sender, published_fleet, redis_option
from fleetsync.scheduler.operations import suspend
from fleetsync.shared.errors import FleetsyncError


@click.command("suspend")
@click.argument("app")
@redis_option
def command(app: str, redis_url: str | None) -> None:
    """Suspend automated sync of APP: changes and drift are reported, not applied."""
    store, sender = open_sender(redis_url)
    try:
        suspend(store, sender, published_fleet(store), app)
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{app}: suspended; `fleetsync sync {app}` still applies by hand, "
        f"`fleetsync resume {app}` re-enables automated sync."
    )
