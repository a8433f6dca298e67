"""`fleetsync refresh REPO... [--wait]`: poll repositories now, ahead of periodic polls."""

from __future__ import annotations

import time

import click

from fleetsync.scheduler.cli.options import open_sender, published_fleet, redis_option
from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority

_CLOCK_SKEW = 2.0


@click.command("refresh")
@click.argument("repositories", nargs=-1, required=True)
@click.option(
    "--wait", is_flag=True, help="Wait until each is polled, fetched and rendered; show results."
)
@click.option("--timeout", type=float, default=120.0, show_default=True)
@redis_option
def command(
    repositories: tuple[str, ...], wait: bool, timeout: float, redis_url: str | None
) -> None:
    """Poll REPOSITORIES now (a new commit is fetched, rendered and rolled out)."""
    store, sender = open_sender(redis_url)
    fleet = published_fleet(store)
    unknown = [r for r in repositories if r not in fleet.repositories]
    if unknown:
        declared = ", ".join(sorted(fleet.repositories)) or "none"
        raise click.ClickException(
            f"{', '.join(unknown)}: not declared; declared repositories: {declared}"
        )
    started = store.now()
    for repo in repositories:
        queued = sender.poll(repo, force=True, priority=Priority.MANUAL)
        click.echo(f"{repo}: {'refresh queued' if queued else 'a refresh is already queued'}")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    failed = []
    for repo in repositories:
        outcome = _wait_refreshed(store, RepoName(repo), started, deadline)
        if outcome is None:
            failed.append(f"{repo}: not refreshed within {timeout:.0f}s")
            continue
        click.echo(f"{repo}: {outcome}")
        for app in fleet.applications_of(RepoName(repo)):
            desired = store.desired(app.name)
            error = store.source_error(app.name)
            if error is not None and error.at >= started - _CLOCK_SKEW:
                failed.append(f"{app.name}: {error.stage} failed: {error.message}")
            click.echo(
                f"  {app.name}: desired {desired.revision if desired else 'none'}"
                + (f"; error: {error.message}" if error else "")
            )
    if failed:
        raise click.ClickException("; ".join(failed))


def _wait_refreshed(store: Store, repo: RepoName, since: float, deadline: float) -> str | None:
    """'at <revision>' once a poll that finished after `since` (the refresh was queued) has its
    sha fetched, the error if it failed, None at the deadline."""
    while time.monotonic() < deadline:
        state = store.repo_state(repo)
        if state.error and (state.error_at or 0) >= since - _CLOCK_SKEW:
            return f"error: {state.error}"
        polled = (state.polled_at or 0) > since
        if polled and state.sha and state.fetched_sha == state.sha:
            return f"at {state.revision}"
        time.sleep(0.3)
    return None
