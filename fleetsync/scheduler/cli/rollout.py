"""`fleetsync rollout status|pause|resume|promote|abort|pin|unpin APP`: follow and steer a
progressive rollout. The actions are one table (`rollout_ops.ACTIONS`), each a command of the
same shape."""

from __future__ import annotations

import click

from fleetsync.scheduler.cli.options import (
    open_sender,
    open_store,
    published_fleet,
    redis_option,
)
from fleetsync.scheduler.cli.output import console, print_document, print_table
from fleetsync.scheduler.rollout_ops import ACTIONS, RolloutAction, act_on_rollout
from fleetsync.scheduler.rollout_views import RolloutView, rollout_view
from fleetsync.scheduler.views import NotFound, age, short_revision
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.planning.rollout import waiting_note


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
    if view.pinned and view.pinned_at is not None:
        why = f": {view.pin_reason}" if view.pin_reason else ""
        out.print(
            f"pinned by the operator {age(view.pinned_at)} ago{why} "
            "(a newer commit waits instead of superseding it)"
        )
    if view.waiting:
        out.print(f"waiting: {view.waiting}")
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


def _register(action: RolloutAction) -> None:
    """`fleetsync rollout ACTION APP` for one action of the table (`rollout_ops.ACTIONS`)."""

    def run(app: str, redis_url: str | None, reason: str = "") -> None:
        store, sender = open_sender(redis_url)
        try:
            r = act_on_rollout(
                store, sender, published_fleet(store), app, action.name, reason=reason
            )
        except FleetsyncError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{r.application}: rollout of {r.revision.short} {action.done}; now {r.phase}")
        note = waiting_note(r)
        if note is not None:
            click.echo(note)

    run.__doc__ = action.help
    if action.takes_reason:
        run = click.option("--reason", default="", help="Why, for the status and the log.")(run)
    command.command(action.name)(redis_option(click.argument("app")(run)))


for _action in ACTIONS.values():
    _register(_action)
