"""Watching the fleet converge: a live table of every (application, cluster) pair."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.live import Live
from rich.table import Table

from fleetsync.scheduler.views import PairView, pair_view, short_revision, target_statuses
from fleetsync.scheduler.views import styled as _styled
from fleetsync.shared.desired import desired_for_pair
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.model.rollout import Phase
from fleetsync.shared.store import Store


def converged(store: Store, *, app: str, sha: str) -> Callable[[PairView], bool]:
    """A pair is done when it is Synced and Healthy on what its cluster should run (its
    application's bundle, or with per-cluster variants the cluster's own: `desired_for_pair`),
    and `app`'s desired state comes from commit `sha` (applications the commit did not touch
    keep the revision that last changed them)."""

    def done(row: PairView) -> bool:
        moved = store.desired(AppName(app))
        if moved is None or moved.revision.sha != sha:
            return False
        own = desired_for_pair(store, AppName(row.application), ClusterName(row.cluster))
        return (
            own is not None
            and row.sync == "Synced"
            and row.health == "Healthy"
            and row.revision == str(own.revision)
            and row.digest == own.digest
        )

    return done


def current_rows(store: Store) -> list[PairView]:
    fleet = store.load_fleet()
    if fleet is None:
        return []
    return [
        pair_view(s)
        for app in sorted(fleet.applications)
        for s in target_statuses(store, fleet, app)
    ]


def table(title: str, rows: list[PairView], done: Callable[[PairView], bool]) -> Table:
    view = Table(title=title, title_justify="left")
    for col in ("APPLICATION", "CLUSTER", "SYNC", "HEALTH", "REVISION"):
        view.add_column(col, no_wrap=True)
    view.add_column("MESSAGE", no_wrap=True, overflow="ellipsis", max_width=48)
    for row in rows:
        mark = "[green]✓[/] " if done(row) else "  "
        view.add_row(
            mark + row.application,
            row.cluster,
            _styled(row.sync),
            _styled(row.health),
            short_revision(row.revision, sha_only=True),
            row.message[:60],
        )
    return view


def watch_until(
    store: Store,
    done: Callable[[PairView], bool],
    *,
    title: str,
    timeout: float,
    console: Console,
    stopped: Callable[[], bool] = lambda: False,
) -> list[PairView] | None:
    """Show the fleet until every pair is `done` (its rows returned), or None on timeout."""
    deadline = time.monotonic() + timeout
    live_view = console.is_terminal
    reported = -1
    live = Live(console=console, refresh_per_second=2) if live_view else None
    if live is not None:
        live.start()
    try:
        while not stopped():
            rows = current_rows(store)
            ready = sum(1 for r in rows if done(r))
            if live is not None:
                live.update(table(title, rows, done))
            elif ready != reported:
                console.print(f"{title}: {ready}/{len(rows)} pairs Synced and Healthy")
                reported = ready
            if rows and ready == len(rows):
                return rows
            if time.monotonic() > deadline:
                if live is None:
                    console.print(table(title, rows, done))
                return None
            time.sleep(0.5)
        return None
    finally:
        if live is not None:
            live.stop()


def follow_rollout(
    store: Store,
    app: str,
    sha: str,
    *,
    console: Console,
    timeout: float,
    stopped: Callable[[], bool] = lambda: False,
) -> bool:
    """Print each step of `app`'s rollout of commit `sha` (its canary wave, the bake, the next
    waves) until it completes; False when it stopped or did not complete within `timeout`."""
    deadline = time.monotonic() + timeout
    said = ""
    while not stopped() and time.monotonic() < deadline:
        r = store.rollout(app)
        plan = store.rollout_plan(app)
        if r is not None and plan is not None and r.revision.sha == sha:
            if r.wave < len(plan.waves):
                wave = plan.waves[r.wave]
                names = ", ".join(wave.clusters)
                where = f"wave {r.wave + 1}/{len(plan.waves)} '{wave.name}' ({names})"
            else:
                where = "every wave"
            line = f"{app}: rollout of {sha[:12]}: {where}: {r.phase}"
            if r.phase is Phase.BAKING and r.bake_started_at is not None:
                line += " (Synced and Healthy; baking before the next wave)"
            if line != said:
                console.print(line)
                said = line
            if r.phase is Phase.COMPLETE:
                return True
            if not r.phase.in_progress or r.phase is Phase.PAUSED:
                console.print(f"[red]{app}: rollout stopped: {r.reason}[/]")
                return False
        time.sleep(0.2)
    return False
