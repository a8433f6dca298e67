"""`fleetsync rollout status|pause|resume|promote|abort APP`: follow and steer a progressive
rollout."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import (
    open_sender,
    open_store,
    published_fleet,
    redis_option,
)
from fleetsync.scheduler.cli.output import console, print_document, print_table
from fleetsync.scheduler.rollout_ops import (
    abort_rollout,
    pause_rollout,
    promote_rollout,
    resume_rollout,
)
from fleetsync.scheduler.rollout_views import RolloutView, rollout_view
from fleetsync.scheduler.views import NotFound, age, short_revision
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.model.rollout import Rollout


@click.group("rollout")
def command() -> None:
    """Follow and steer progressive rollouts (see `rollout` in fleet.yaml)."""


@command.command("status")
@click.argument("app")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    help="table (default), json or yaml.",
)
@redis_option
def status(app: str, output: str, redis_url: str | None) -> None:
    """The rollout of APP: its waves, each cluster's revision, sync and health, the bake's
    remaining time, and why it waits or stopped."""
    store = open_store(redis_url)
    try:
        view = rollout_view(store, published_fleet(store), app)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if view is None:
        raise click.ClickException(
            f"{app}: no rollout yet (it has no rollout policy, or no new desired state came "
            "since it has one)"
        )
    if output != "table":
        print_document(view, output)
        return
    _print(view)


def _print(view: RolloutView) -> None:
    out = console()
    out.print(
        f"{view.application}: rollout of {short_revision(view.revision)}"
        + (f" from {short_revision(view.previous)}" if view.previous else "")
        + f", started {age(view.started_at)} ago"
    )
    out.print(f"{view.phase}: {view.summary}")
    if view.reason and view.reason not in view.summary:
        out.print(f"why: {view.reason}")
    if view.bake_remaining is not None:
        out.print(f"bake: {view.bake_remaining:.0f}s of {view.bake:.0f}s remaining")
    out.print()
    rows = [
        [
            str(w.number),
            w.name,
            str(w.clusters),
            w.state,
            f"{w.ready} ready, {w.pending} pending, {w.failed} failed, {w.waiting} waiting",
        ]
        for w in view.waves
    ]
    print_table(out, ["WAVE", "NAME", "CLUSTERS", "STATE", "PROGRESS"], rows)
    out.print()
    rows = [
        [
            str(c.wave),
            c.cluster,
            c.state,
            short_revision(c.revision),
            c.sync.value,
            c.health.value,
            c.reason or c.message,
        ]
        for c in view.clusters
    ]
    header = ["WAVE", "CLUSTER", "STATE", "REVISION", "SYNC", "HEALTH", "MESSAGE"]
    print_table(out, header, rows)


def _done(r: Rollout, verb: str) -> None:
    click.echo(f"{r.application}: rollout of {r.revision.short} {verb}; now {r.phase}")


@command.command("pause")
@click.argument("app")
@redis_option
def pause(app: str, redis_url: str | None) -> None:
    """Stop APP's rollout where it is (every cluster keeps what it runs)."""
    store, sender = open_sender(redis_url)
    try:
        _done(pause_rollout(store, sender, published_fleet(store), app), "paused")
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc


@command.command("resume")
@click.argument("app")
@redis_option
def resume(app: str, redis_url: str | None) -> None:
    """Go on with APP's paused rollout (failed clusters of its wave get a new chance)."""
    store, sender = open_sender(redis_url)
    try:
        _done(resume_rollout(store, sender, published_fleet(store), app), "resumed")
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc


@command.command("promote")
@click.argument("app")
@redis_option
def promote(app: str, redis_url: str | None) -> None:
    """Skip the rest of the current wave's bake: the next wave starts once this one is ready."""
    store, sender = open_sender(redis_url)
    try:
        _done(promote_rollout(store, sender, published_fleet(store), app), "promoted")
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc


@command.command("abort")
@click.argument("app")
@redis_option
def abort(app: str, redis_url: str | None) -> None:
    """Stop APP's rollout and return the clusters it reached to the previous revision."""
    store, sender = open_sender(redis_url)
    try:
        _done(abort_rollout(store, sender, published_fleet(store), app), "aborted")
    except FleetsyncError as exc:
        raise click.ClickException(str(exc)) from exc
