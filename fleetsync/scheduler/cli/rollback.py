"""`fleetsync rollback APP --to REVISION [--wait]`: apply a previous revision and suspend
automated sync."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import open_sender, published_fleet, redis_option
from fleetsync.scheduler.cli.sync import report_wait
from fleetsync.scheduler.operations import rollback
from fleetsync.shared.errors import FleetsyncError


@click.command("rollback")
@click.argument("app")
@click.option(
    "--to",
    "to",
    required=True,
    help=(
        "A revision from `fleetsync history` (ref@sha1:<sha>, a sha or a unique prefix; for a"
        " chart, name@version)."
    ),
)
@click.option("--wait", is_flag=True, help="Show progress until every cluster runs it.")
@click.option("--timeout", type=float, default=300.0, show_default=True)
@redis_option
def command(app: str, to: str, wait: bool, timeout: float, redis_url: str | None) -> None:
    """Roll APP back to a revision it ran before, on every target cluster."""
    store, sender = open_sender(redis_url)
    started = store.now()
    try:
        pin, enqueued = rollback(store, sender, published_fleet(store), app, to)
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
    if pin.clusters:
        click.echo(
            f"{app}: rolling back each target cluster to the bundle it ran at {pin.revision}: "
            + ", ".join(f"{c} {v.revision.short}" for c, v in sorted(pin.clusters.items()))
            + "."
        )
    else:
        click.echo(f"{app}: rolling back to {pin.revision} on every target cluster.")
    click.echo(
        f"{app}: automated sync is suspended, so new commits are not applied; "
        f"`fleetsync resume {app}` returns it to the latest revision in Git."
    )
    if wait:
        # A per-cluster pin: each cluster at the revision of its own bundle.
        at = {c: str(v.revision) for c, v in pin.clusters.items()} or str(pin.revision)
        report_wait(store, app, [e.cluster for e in enqueued], started, timeout, at)
