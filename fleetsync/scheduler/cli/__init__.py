"""The `fleetsync` command line: one click group, one module per command family.

Offline commands (validate, render, diff) call `fleetsync.shared` directly; the others read and
write state through the store and enqueue tasks through `fleetsync.shared.tasking`.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

import click

from fleetsync import __version__
from fleetsync.scheduler.cli.options import REDIS_URL_META, unreachable
from fleetsync.shared.logcontext import FORMAT_ENV, FORMATS, configure_logging
from fleetsync.shared.open_files import raise_open_files_limit
from fleetsync.shared.tasking import BROKER_UNAVAILABLE

# Each module defines a click command (or group) named `command`; order is the help order.
_COMMAND_MODULES = (
    "validate",
    "render",
    "diff",
    "status",
    "history",
    "refresh",
    "sync",
    "rollback",
    "suspend",
    "resume",
    "rollout",
    "freeze",
    "unfreeze",
    "up",
    "demo",
    "api",
    "watch",
    "completion",
)


class FleetsyncGroup(click.Group):
    """Turns "Redis went away while a command ran" into one clear line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BROKER_UNAVAILABLE as exc:
            url = ctx.meta.get(REDIS_URL_META, "the configured Redis")
            raise unreachable(url, exc) from exc


@click.group(cls=FleetsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleetsync")
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
@click.option(
    "--log-format",
    type=click.Choice(FORMATS),
    envvar=FORMAT_ENV,
    default="text",
    show_default=True,
    help="Log lines as text or as JSON objects (for log pipelines); the processes "
    "`up` starts log the same way.",
)
def main(verbose: bool, log_format: str) -> None:
    """fleetsync: pull-based GitOps for fleets of Kubernetes clusters."""
    os.environ[FORMAT_ENV] = log_format
    configure_logging(log_format, level=logging.DEBUG if verbose else logging.WARNING)
    raise_open_files_limit()  # before `up` starts the processes that inherit it


for _name in _COMMAND_MODULES:
    main.add_command(importlib.import_module(f"fleetsync.scheduler.cli.{_name}").command)
