"""`fleetsync history APP [--cluster C] [--revision REV]`: what the last reconciles did, on one
cluster or on every cluster of the application, newest first; at one revision if asked (a unique
sha prefix will do)."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import open_store, published_fleet, redis_option
from fleetsync.scheduler.cli.output import console, print_document, print_table
from fleetsync.scheduler.views import FilterError, NotFound, age, history, short_revision


@click.command("history")
@click.argument("app")
@click.option("--cluster", default=None, help="Only this cluster (default: every cluster).")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option(
    "--revision",
    default=None,
    help="Only reconciles at this revision (ref@sha1:<sha>, a sha or a unique prefix of one).",
)
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table")
@redis_option
def command(
    app: str,
    cluster: str | None,
    limit: int,
    revision: str | None,
    output: str,
    redis_url: str | None,
) -> None:
    """Show the newest reconciles of APP: revision, result, trigger and changes."""
    store = open_store(redis_url)
    try:
        fleet = published_fleet(store)
        entries = history(store, fleet, app, cluster, limit=limit, revision=revision)
    except (NotFound, FilterError) as exc:
        raise click.ClickException(str(exc)) from exc
    if output != "table":
        print_document(entries, output)
        return
    rows = [
        [
            age(e.at),
            e.cluster,
            short_revision(e.revision),
            e.sync.value,
            e.health.value,
            e.reason or "-",
            ", ".join(f"{n} {a}" for a, n in e.counts.items() if n) or "-",
            e.message,
        ]
        for e in entries
    ]
    header = ["AGE", "CLUSTER", "REVISION", "SYNC", "HEALTH", "TRIGGER", "CHANGES", "MESSAGE"]
    print_table(console(), header, rows, title=f"{app} on {cluster or 'every cluster'}")
