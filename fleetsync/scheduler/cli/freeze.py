"""`fleetsync freeze [--reason R]`: hold every automated change of the fleet, at once."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import open_store, redis_option
from fleetsync.scheduler.rollout_ops import freeze


@click.command("freeze")
@click.option("--reason", default="", help="Why, shown with every held change.")
@click.option(
    "--manual-sync", is_flag=True, help="Still let `fleetsync sync` apply (by hand) while frozen."
)
@redis_option
def command(reason: str, manual_sync: bool, redis_url: str | None) -> None:
    """Freeze the fleet: automated syncs, self-heal and rollout steps wait (drift is still
    detected and reported) until `fleetsync unfreeze`. Kept in Redis: it outlives restarts."""
    store = open_store(redis_url)
    freeze(store, reason=reason, manual_sync=manual_sync)
    manual = "manual syncs still apply" if manual_sync else "manual syncs are refused too"
    click.echo(
        f"fleet frozen{': ' + reason if reason else ''} ({manual}); `fleetsync unfreeze` ends it"
    )
