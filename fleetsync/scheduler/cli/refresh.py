"""`fleetsync refresh REPO`: poll a repository now, ahead of periodic polls."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import open_sender, published_fleet, redis_option
from fleetsync.shared.tasking import Priority


@click.command("refresh")
@click.argument("repositories", nargs=-1, required=True)
@redis_option
def command(repositories: tuple[str, ...], redis_url: str | None) -> None:
    """Poll REPOSITORIES now (a new commit is fetched, rendered and rolled out)."""
    store, sender = open_sender(redis_url)
    fleet = published_fleet(store)
    unknown = [r for r in repositories if r not in fleet.repositories]
    if unknown:
        declared = ", ".join(sorted(fleet.repositories)) or "none"
        raise click.ClickException(
            f"{', '.join(unknown)}: not declared; declared repositories: {declared}"
        )
    for repo in repositories:
        queued = sender.poll(repo, force=True, priority=Priority.MANUAL)
        click.echo(f"{repo}: {'refresh queued' if queued else 'a refresh is already queued'}")
