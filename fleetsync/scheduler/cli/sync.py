"""`fleetsync sync APP [--cluster C] [--wait]`: reconcile now, ahead of periodic work."""

from __future__ import annotations

import time
from collections.abc import Mapping

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from fleetsync.scheduler.cli.options import open_sender, published_fleet, redis_option
from fleetsync.scheduler.operations import request_sync
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Trigger

_SETTLING = (Health.PROGRESSING,)
_CLOCK_SKEW = 2.0


@click.command("sync")
@click.argument("app")
@click.option("--cluster", default=None, help="Only this target cluster.")
@click.option("--wait", is_flag=True, help="Show progress until every cluster is done.")
@click.option(
    "--timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds --wait waits before giving up.",
)
@redis_option
def command(
    app: str, cluster: str | None, wait: bool, timeout: float, redis_url: str | None
) -> None:
    """Reconcile APP on its clusters now (applies even when automated sync is off or the
    application is suspended)."""
    store, sender = open_sender(redis_url)
    fleet = published_fleet(store)
    started = store.now()
    try:
        requested = request_sync(sender, fleet, app, cluster, store=store)
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
    refused = [e for e in requested if e.refused]
    enqueued = [e for e in requested if not e.refused]
    for e in refused:
        click.echo(f"{app} on {e.cluster}: manual sync refused: {e.refused}", err=True)
    if refused and not enqueued:
        raise click.ClickException(f"{app}: manual sync refused on every cluster asked for")
    if not wait:
        for e in enqueued:
            click.echo(
                f"{app} on {e.cluster}: "
                f"{'sync queued' if e.queued else 'a reconcile is already queued'}"
            )
        if refused:
            raise SystemExit(1)
        return
    report_wait(store, app, [e.cluster for e in enqueued], started, timeout)
    if refused:
        raise SystemExit(1)


def report_wait(
    store: Store,
    app: str,
    clusters: list[str],
    since: float,
    timeout: float,
    revision: str | Mapping[str, str] | None = None,
) -> None:
    """Show the manual reconciles of `clusters` until they settle; fail unless every one ends
    Synced and Healthy (at `revision`, when given: one for every cluster, or each cluster's
    own)."""
    done = _watch(store, app, clusters, since, timeout)
    wanted = revision if isinstance(revision, Mapping) else dict.fromkeys(clusters, revision)
    failed = [c for c in clusters if not _succeeded(done.get(c), wanted.get(c))]
    if failed:
        reasons = "; ".join(f"{c}: {_why(done.get(c))}" for c in failed)
        raise click.ClickException(
            f"{app}: sync did not succeed on {len(failed)} of {len(clusters)} clusters: {reasons}"
        )
    at = (
        f" at {revision}"
        if isinstance(revision, str)
        else " at each cluster's own revision"
        if revision
        else ""
    )
    click.echo(f"{app}: Synced and Healthy{at} on {len(clusters)} clusters")


def _manual_result(store: Store, app: str, cluster: str, since: float) -> PairStatus | None:
    """The pair's current status, once a manual reconcile has finished since `since`."""
    finished = any(
        h.trigger is Trigger.MANUAL and h.at >= since - _CLOCK_SKEW
        for h in store.history(app, cluster, limit=5)
    )
    return store.status(app, cluster) if finished else None


def _settled(status: PairStatus | None) -> bool:
    return (
        status is not None
        and status.health not in _SETTLING
        and (status.sync is not SyncState.UNKNOWN or status.health is not Health.UNKNOWN)
    )


def _succeeded(status: PairStatus | None, revision: str | None = None) -> bool:
    return (
        status is not None
        and status.sync is SyncState.SYNCED
        and status.health is Health.HEALTHY
        and revision in (None, str(status.revision))
    )


def _why(status: PairStatus | None) -> str:
    if status is None:
        return "timed out waiting for the reconcile"
    return f"{status.sync.value}/{status.health.value}: {status.message}"


def _watch(
    store: Store, app: str, clusters: list[str], since: float, timeout: float
) -> dict[str, PairStatus | None]:
    console = Console(stderr=True)
    deadline = time.monotonic() + timeout
    results: dict[str, PairStatus | None] = dict.fromkeys(clusters)
    with Live(console=console, refresh_per_second=4, transient=not console.is_terminal) as live:
        while True:
            for c in clusters:
                results[c] = _manual_result(store, app, c, since)
            live.update(_table(app, clusters, results, store))
            if all(_settled(results[c]) for c in clusters) or time.monotonic() > deadline:
                return results
            time.sleep(0.5)


def _table(
    app: str, clusters: list[str], results: dict[str, PairStatus | None], store: Store
) -> Table:
    table = Table(title=f"sync {app}", title_justify="left")
    for col in ("CLUSTER", "STATE", "SYNC", "HEALTH", "MESSAGE"):
        table.add_column(col, overflow="fold")
    for c in clusters:
        status = results[c]
        if status is None:
            current = store.status(app, c)
            table.add_row(c, "queued", "-", "-", current.message if current else "")
        else:
            state = "done" if _settled(status) else "waiting for health"
            table.add_row(c, state, status.sync.value, status.health.value, status.message)
    return table
