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
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender, make_celery
from fleetsync.shared.urls import display_url

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


def redis_option(fn: F) -> F:
    return click.option(
        "--redis-url",
        envvar="FLEETSYNC_REDIS_URL",
        default=None,
        help="Redis holding fleetsync's state (env FLEETSYNC_REDIS_URL).",
    )(fn)


def settings_for(redis_url: str | None) -> Settings:
    """Settings with the Redis to use: --redis-url or FLEETSYNC_REDIS_URL, else the local
    instance `fleetsync up` or `fleetsync demo` announced, else the default."""
    settings = load_settings()
    if redis_url:
        return replace(settings, redis_url=redis_url)
    if "FLEETSYNC_REDIS_URL" not in os.environ and (found := local_instance()) is not None:
        return replace(settings, redis_url=found.redis_url)
    return settings


def open_store(redis_url: str | None) -> Store:
    settings = settings_for(redis_url)
    store = Store.connect(settings.redis_url, prefix=settings.key_prefix)
    try:
        store.ping()
    except Exception as exc:
        raise click.ClickException(
            f"cannot reach Redis at {display_url(settings.redis_url)}: {exc.__class__.__name__}; "
            "is fleetsync running? start `fleetsync up` here (commands find it), or set "
            "--redis-url or FLEETSYNC_REDIS_URL"
        ) from exc
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
