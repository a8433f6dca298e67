"""`fleetsync validate`: check a fleet declaration offline, before the scheduler ever sees it.

Errors go to stderr as `file:line: key: message`, every one of them, and the exit status is 1; a
file that cannot be read exits 2. A valid fleet prints what it declares (repositories, clusters,
applications with the clusters they resolve to, the distinct renders each needs and which
clusters share each) and its warnings: tables on a terminal, plain
aligned columns otherwise, so that the output also reads well in CI logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleetsync.shared.fleet import (
    FleetFileError,
    FleetIssue,
    check_fleet,
    display_url,
    format_duration,
)
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.variants.grouping import render_groups


@click.command("validate")
@click.option(
    "-c",
    "--config",
    "config",
    type=click.Path(path_type=Path),
    envvar="FLEETSYNC_FLEET",
    default=Path("fleet.yaml"),
    show_default=True,
    show_envvar=True,
    help="The fleet declaration (fleet.yaml) to check.",
)
def command(config: Path) -> None:
    """Check a fleet declaration: list every error, or summarise what it declares."""
    try:
        report = check_fleet(config)
    except FleetFileError as exc:
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        click.echo("give the fleet file with -c/--config or FLEETSYNC_FLEET", err=True)
        raise click.exceptions.Exit(2) from None
    if report.fleet is None:
        for issue in report.errors:
            click.echo(str(issue), err=True)
        click.echo(f"{config}: {_count(len(report.errors), 'error')}, not valid", err=True)
        raise click.exceptions.Exit(1)
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, no_color=True, width=100_000)
    _print_summary(console, config, report.fleet, report.warnings)


def _print_summary(
    console: Console, config: Path, fleet: Fleet, warnings: Sequence[FleetIssue]
) -> None:
    counts = (
        _count(len(fleet.repositories), "repository", "repositories"),
        _count(len(fleet.clusters), "cluster"),
        _count(len(fleet.applications), "application"),
    )
    console.print(Text(f"{config}: valid: {', '.join(counts)}"))
    repositories = [
        (
            r.name,
            display_url(r.url),
            f"({r.type} repository)" if r.is_chart_source else r.ref,
            format_duration(r.interval),
        )
        for _, r in sorted(fleet.repositories.items())
    ]
    _print_table(console, "repositories", ("name", "url", "ref", "interval"), repositories)
    clusters = [
        (
            c.name,
            ", ".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
            "watch" if c.watch else "interval only",
        )
        for _, c in sorted(fleet.clusters.items())
    ]
    _print_table(console, "clusters", ("name", "labels", "drift detection"), clusters)
    applications = [
        (
            a.name,
            a.repository,
            a.path,
            a.renderer.value,
            ", ".join(fleet.targets_of(a.name)) or "(none)",
        )
        for _, a in sorted(fleet.applications.items())
    ]
    header = ("name", "repository", "path", "renderer", "target clusters")
    _print_table(console, "applications", header, applications)
    if fleet.notifications:
        notifications = [
            (
                n.name,
                n.kind.value,
                f"${n.url_env}" if n.url_env else display_url(n.url or "", path=False),
                ", ".join(e.value for e in n.events),
                ", ".join(n.applications) or "(every)",
                ", ".join(n.clusters) or "(every)",
                "yes" if n.secret_env else "no",
            )
            for n in fleet.notifications
        ]
        columns = ("name", "kind", "url", "events", "applications", "clusters", "signed")
        _print_table(console, "notifications", columns, notifications)
    shared = ("application", "renders", "clusters sharing each")
    _print_table(console, "renders the fleet needs", shared, _renders(fleet))
    if warnings:
        console.print()
        console.print(Text(f"{_count(len(warnings), 'warning')}:"))
        for issue in warnings:
            console.print(Text(f"  {issue}"))


def _renders(fleet: Fleet) -> list[tuple[str, str, str]]:
    """Per application, how many distinct renders its targets need (the overrides they pick,
    their Helm values' variables resolved) and which clusters share each; an application that
    substitutes gets one bundle per distinct value of what its output reads, after the render."""
    rows: list[tuple[str, str, str]] = []
    for name, app in sorted(fleet.applications.items()):
        targets = [fleet.clusters[c] for c in fleet.targets_of(name)]
        found = render_groups(app, targets)
        shares = " | ".join(_few([str(c) for c in g.clusters]) for g in found.groups)
        count = str(len(found.groups))
        if app.substitute:
            count += " (then substituted per cluster)"
        rows.append((name, count, shares or "(no target)"))
    return rows


def _few(names: Sequence[str], shown: int = 5) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" +{more} more" if more > 0 else "")


def _print_table(
    console: Console, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    """A rich table on a terminal (columns fold to fit it); aligned plain columns otherwise."""
    console.print()
    if not rows:
        console.print(Text(f"{title}: none"))
        return
    columns = [name.upper() for name in header]
    if not console.is_terminal:
        widths = [max(len(cell) for cell in column) for column in zip(columns, *rows, strict=True)]
        console.print(Text(f"{title}:"))
        for row in (columns, *rows):
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            console.print(Text("  " + "  ".join(cells).rstrip()))
        return
    table = Table(title=title, title_justify="left", box=box.ROUNDED, header_style="bold")
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
