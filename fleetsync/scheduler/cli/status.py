"""`fleetsync status [APP]`: desired state per application and sync/health per cluster, like
`kubectl get`: `-o wide|json|yaml`, `--cluster` and `-l` (cluster label selector) filters,
`--watch` to follow changes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import click

from fleetsync.scheduler.cli.options import open_store, published_fleet, redis_option
from fleetsync.scheduler.cli.output import console, print_document, print_table
from fleetsync.scheduler.fleet_index import FleetIndex
from fleetsync.scheduler.rollout_views import freeze_view, rollout_summaries
from fleetsync.scheduler.views import (
    FilterError,
    NotFound,
    PairView,
    age,
    filtered_applications,
    pair_view,
    parse_filters,
    short_revision,
    unreconciled,
)
from fleetsync.shared.fleet.durations import format_duration
from fleetsync.shared.model.declaration import Fleet, Selector
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.store import DriftDetection, Store


@click.command("status")
@click.argument("app", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json", "yaml"]),
    default="table",
    help="table (default), wide (more columns), json or yaml.",
)
@click.option("--cluster", default=None, help="Only pairs on this cluster.")
@click.option(
    "-l",
    "--selector",
    default=None,
    help="Only pairs on clusters matching this label selector (env=prod,region in (eu,us)).",
)
@click.option("-w", "--watch", is_flag=True, help="Print again whenever something changes.")
@click.option("--interval", type=float, default=2.0, show_default=True, hidden=True)
@redis_option
def command(
    app: str | None,
    output: str,
    cluster: str | None,
    selector: str | None,
    watch: bool,
    interval: float,
    redis_url: str | None,
) -> None:
    """Show every application (or APP): desired revision, source errors, and per target cluster
    its sync state, health, applied revision, age and message."""
    store = open_store(redis_url)
    index = FleetIndex(store)
    shown = None
    while True:
        fleet = published_fleet(store)
        snapshot = index.snapshot(fleet)
        if watch and shown == snapshot.position:
            time.sleep(interval)
            continue
        shown = snapshot.position
        try:
            filters = parse_filters(fleet, cluster=cluster, selector=selector)
            if app is not None and app not in fleet.applications:
                raise NotFound(f"{app}: no such application")
        except (FilterError, NotFound) as exc:
            raise click.ClickException(str(exc)) from exc
        apps = [a for a in filtered_applications(snapshot, filters) if app in (None, a)]
        pairs = _pairs(store, snapshot.targets, apps, filters.cluster, filters.selector, fleet)
        _print(store, fleet, apps, pairs, output)
        if not watch:
            return
        time.sleep(interval)


def _pairs(
    store: Store,
    targets: Mapping[AppName, tuple[ClusterName, ...]],
    apps: list[AppName],
    cluster: str,
    selector: Selector | None,
    fleet: Fleet,
) -> list[PairView]:
    wanted = [
        (a, c)
        for a in apps
        for c in targets.get(a, ())
        if (not cluster or c == cluster)
        and (selector is None or selector.matches(fleet.clusters[c].labels))
    ]
    found = store.statuses_of(wanted)
    return [pair_view(s or unreconciled(a, c)) for (a, c), s in zip(wanted, found, strict=True)]


def _print(
    store: Store, fleet: Fleet, apps: list[AppName], pairs: list[PairView], output: str
) -> None:
    states = store.app_states(list(apps))
    rollouts = rollout_summaries(store, fleet, list(apps))
    detection = store.drift_detection(
        sorted({p.cluster for p in pairs}), unwatched=fleet.unwatched()
    )
    if output in ("json", "yaml"):
        print_document(
            [
                {
                    **_pair_fields(p),
                    "desired_revision": (
                        d.revision if (d := states[p.application].desired) else None
                    ),
                    "source_error": (
                        e.message if (e := states[p.application].source_error) else None
                    ),
                    "suspended": states[p.application].suspended,
                    "warnings": list(d.warnings) if (d := states[p.application].desired) else [],
                    "rollout": r.words if (r := rollouts.get(p.application)) else None,
                    "drift_detection": _pair_detection(fleet, detection, p),
                }
                for p in pairs
            ],
            output,
        )
        return
    out = console()
    error = store.fleet_error()
    if error:
        out.print(f"fleet.yaml refused, running the last good declaration:\n{error}", style="red")
    frozen = freeze_view(store)
    if frozen.frozen:
        out.print(
            f"fleet frozen {age(frozen.at)} ago: {frozen.reason or 'no reason given'}; automated "
            "changes wait until `fleetsync unfreeze`",
            style="red",
        )
    wide = output == "wide"
    app_rows = []
    for name in apps:
        s = states[name]
        source = f"error: {s.source_error.message}" if s.source_error else "ok"
        if s.pin:
            source += f" (rolled back to {short_revision(s.pin.revision)}, suspended)"
        elif s.suspended:
            source += " (suspended)"
        for warning in s.desired.warnings if s.desired else ():
            source += f"\nwarning: {warning}"
        row = [name, short_revision(s.desired.revision if s.desired else None)]
        if wide:
            row.append((s.desired.digest if s.desired else "-")[:12])
        rollout = rollouts.get(name)
        app_rows.append([*row, source, rollout.words if rollout else "-"])
    app_header = ["APPLICATION", "DESIRED", *(["DIGEST"] if wide else []), "SOURCE", "ROLLOUT"]
    print_table(out, app_header, app_rows)
    out.print()
    header = ["APPLICATION", "CLUSTER", "SYNC", "HEALTH", "REVISION", "AGE"]
    if wide:
        header += ["TRIGGER", "DURATION", "CHANGES", "HOOKS"]
    header.append("MESSAGE")
    rows = []
    for p in pairs:
        row = [p.application, p.cluster, p.sync.value, p.health.value]
        row += [short_revision(p.revision), age(p.at)]
        if wide:
            changes = ", ".join(f"{n} {a}" for a, n in p.counts.items() if n) or "-"
            hooks = ", ".join(f"{h.phase} {h.name or h.key} {h.state}" for h in p.hooks) or "-"
            row += [p.reason or "-", f"{p.duration:.2f}s" if p.at else "-", changes, hooks]
        rows.append([*row, p.message])
    print_table(out, header, rows)
    _print_detection(out, detection)


def _pair_detection(fleet: Fleet, detection: Mapping[str, DriftDetection], pair: PairView) -> str:
    """How drift is found on the pair now, with how often the interval checks it."""
    found = detection[pair.cluster]
    application = fleet.applications.get(AppName(pair.application))
    if application is None:
        return found.describe()
    every = application.sync.drift_every(watched=found.covers(pair.application))
    return found.describe_pair(pair.application, format_duration(every))


def _print_detection(out: Any, detection: Mapping[str, DriftDetection]) -> None:
    """Which clusters are watched for drift, and why the others are not (interval checks)."""
    if not detection:
        return
    watched = [c for c, d in detection.items() if d.mode == "watching"]
    out.print()
    out.print(
        f"drift detection: {len(watched)} of {len(detection)} clusters watched"
        + (" (their pairs' interval checks at watchedDriftInterval)" if watched else "")
    )
    for cluster, d in detection.items():
        if d.mode != "watching" or d.uncovered:
            out.print(f"  {cluster}: {d.describe()}", style="yellow")


def _pair_fields(p: PairView) -> dict[str, object]:
    return {
        "application": p.application,
        "cluster": p.cluster,
        "sync": p.sync.value,
        "health": p.health.value,
        "revision": p.revision,
        "digest": p.digest,
        "message": p.message,
        "at": p.at,
        "reason": p.reason,
        "hooks": [asdict(h) for h in p.hooks],
    }
