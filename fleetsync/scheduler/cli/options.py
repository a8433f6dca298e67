"""Options and connections the CLI commands share."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from fleetsync.scheduler.instance import local_instance
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.settings import Settings, load_settings
from fleetsync.shared.store import RedisUrlError, Store, check_url
from fleetsync.shared.tasking import Sender, make_celery
from fleetsync.shared.urls import display_url

REDIS_URL_META = "fleetsync.redis_url"
"""Where a command notes the Redis it talks to, for the error shown if Redis goes away."""

F = TypeVar("F", bound=Callable[..., Any])


def config_option(fn: F) -> F:
    return click.option(
        "-c",
        "--config",
        "config",
        type=click.Path(path_type=Path),
        default=lambda: os.environ.get("FLEETSYNC_FLEET", "fleet.yaml"),
        show_default="fleet.yaml",
        help="The fleet declaration (env FLEETSYNC_FLEET).",
    )(fn)


def checked_redis_url(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> str | None:
    """A click callback: the Redis URL if fleetsync can use it, a usage error otherwise."""
    if value is None:
        return None
    try:
        return check_url(value)
    except RedisUrlError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


def redis_option(fn: F) -> F:
    return click.option(
        "--redis-url",
        envvar="FLEETSYNC_REDIS_URL",
        default=None,
        callback=checked_redis_url,
        help="Redis holding fleetsync's state: redis://, rediss://, unix:// or sentinel:// "
        "(env FLEETSYNC_REDIS_URL).",
    )(fn)


def settings_for(redis_url: str | None) -> Settings:
    """Settings with the Redis to use: --redis-url or FLEETSYNC_REDIS_URL, else the local
    instance `fleetsync up` or `fleetsync demo` announced, else the default."""
    settings = load_settings()
    if redis_url:
        settings = replace(settings, redis_url=redis_url)
    elif "FLEETSYNC_REDIS_URL" not in os.environ and (found := local_instance()) is not None:
        settings = replace(settings, redis_url=found.redis_url)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[REDIS_URL_META] = settings.redis_url
    return settings


def unreachable(url: str, exc: BaseException) -> click.ClickException:
    """The error a command shows when Redis cannot be reached (no password, no traceback)."""
    return click.ClickException(
        f"cannot reach Redis at {display_url(url)}: {type(exc).__name__}: {exc}; "
        "is fleetsync running? start `fleetsync up` here (commands find it), or set "
        "--redis-url or FLEETSYNC_REDIS_URL"
    )


def open_store(redis_url: str | None) -> Store:
    settings = settings_for(redis_url)
    try:
        store = Store.connect(settings.redis_url, prefix=settings.key_prefix)
    except RedisUrlError as exc:
        raise click.ClickException(f"FLEETSYNC_REDIS_URL: {exc}") from exc
    try:
        store.ping()
    except Exception as exc:
        raise unreachable(settings.redis_url, exc) from exc
    return store


def open_sender(redis_url: str | None) -> tuple[Store, Sender]:
    settings = settings_for(redis_url)
    store = open_store(redis_url)
    return store, Sender(make_celery(settings), store)


def published_fleet(store: Store) -> Fleet:
    fleet = store.load_fleet()
    if fleet is None:
        raise click.ClickException(
            "no fleet declaration is published in Redis yet; is the beat process running "
            "with FLEETSYNC_FLEET set?"
        )
    return fleet
