"""How the CLI prints tables and documents: kubectl-style aligned columns, coloured on a terminal
and full width when piped (never wrapped at 80 columns), or JSON / YAML of the read model."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click
import yaml
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleetsync.scheduler.views import STATE_STYLE, as_json


def console() -> Console:
    """A console for stdout: a terminal's width on a terminal; unbounded and plain when piped."""
    found = Console(highlight=False)
    if found.is_terminal:
        return found
    return Console(highlight=False, no_color=True, width=1_000_000, soft_wrap=True)


def print_table(
    out: Console, header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = ""
) -> None:
    """Aligned columns: a borderless rich table on a terminal (columns fold to fit), plain
    padded text when piped, one line per row whatever its width."""
    if title:
        out.print(Text(title, style="bold" if out.is_terminal else ""))
    if not out.is_terminal:
        widths = [max(len(c) for c in column) for column in zip(header, *rows, strict=True)]
        for row in (header, *rows):
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            out.print(Text("   ".join(cells).rstrip()), crop=False, overflow="ignore")
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell, style=STATE_STYLE.get(cell, "")) for cell in row))
    out.print(table)


def print_document(value: object, output: str) -> None:
    """The read-model value as JSON (`-o json`) or YAML (`-o yaml`) on stdout."""
    data = as_json(value)
    if output == "yaml":
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), nl=False)
    else:
        click.echo(json.dumps(data, indent=2))
