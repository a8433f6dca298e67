"""`fleetsync unfreeze`: end the freeze."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import open_store, redis_option
from fleetsync.scheduler.rollout_ops import unfreeze


@click.command("unfreeze")
@redis_option
def command(redis_url: str | None) -> None:
    """End the freeze: held changes and rollouts go on."""
    was = unfreeze(open_store(redis_url))
    click.echo("fleet unfrozen" if was is not None else "the fleet was not frozen")
