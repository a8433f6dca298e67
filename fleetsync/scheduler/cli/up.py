"""`fleetsync up -c fleet.yaml`: the whole system on one machine, as child processes.

beat, a poll/fetch worker, an apply worker, a notify worker, the watcher (event-driven drift
detection; off with --no-watch), the API and Flower, sharing one Redis: the one given by
--redis-url / FLEETSYNC_REDIS_URL, or an embedded redis-server on a free loopback port.

Each child gets the environment it needs and no more: the Git credentials' variables (named by
fleet.yaml's `credentials`) reach only the fetch worker, the notifications' URL and secret
variables (`url_env`, `secret_env`) only the notify worker, the API token and webhook secrets
only the API, Flower's settings only Flower.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import click

from fleetsync.scheduler.cli.options import checked_redis_url, config_option
from fleetsync.scheduler.embedded_redis import RedisServer, data_dir_lock
from fleetsync.scheduler.instance import announced
from fleetsync.scheduler.supervisor import ProcessSpec, Supervisor
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.settings import load_settings
from fleetsync.shared.urls import display_url

API_ONLY_PREFIXES = ("FLEETSYNC_API_", "FLEETSYNC_WEBHOOK_SECRET")
FLOWER_ONLY_PREFIXES = ("FLOWER_",)


@dataclass(frozen=True, slots=True)
class UpOptions:
    fleet_file: Path
    redis_url: str
    cache_dir: Path
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    flower_port: int = 5555
    fetch_concurrency: int = 2
    apply_concurrency: int = 16
    tick_seconds: float = 2.0
    with_api: bool = True
    with_flower: bool = True
    with_watch: bool = True
    extra_env: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    """The environment `up` runs in, which the children's environments are cut from."""
    credential_env: frozenset[str] = frozenset()
    """The variables fleet.yaml names as Git credentials: for the fetch worker only."""
    notify_env: frozenset[str] = frozenset()
    """The variables fleet.yaml's notifications name (URLs, secrets): for the notify worker."""
    redis_note: str = ""
    """Said after the Redis URL when `up` announces itself (where the data lives)."""


def credential_variables(fleet: Fleet) -> frozenset[str]:
    """The environment variables fleet.yaml names as credentials (of Git repositories, chart
    repositories and OCI registries)."""
    names: set[str] = set()
    for repo in fleet.repositories.values():
        if repo.credentials is not None:
            names.update(
                n
                for n in (
                    repo.credentials.username_env,
                    repo.credentials.password_env,
                    repo.credentials.token_env,
                )
                if n
            )
    return frozenset(names)


def notification_variables(fleet: Fleet) -> frozenset[str]:
    """The environment variables fleet.yaml's notifications name (`url_env`, `secret_env`)."""
    return frozenset(
        name for n in fleet.notifications for name in (n.url_env, n.secret_env) if name
    )


def unset_notification_variables(fleet: Fleet, environ: Mapping[str, str]) -> list[str]:
    """A warning for each variable a notification names that `environ` does not set: the
    notify worker would drop that notification's messages."""
    return [
        f"notification {n.name}: {name} is not set; its messages will be dropped"
        for n in fleet.notifications
        for name in (n.url_env, n.secret_env)
        if name and not environ.get(name)
    ]


ROLES = ("common", "fetch", "notify", "api", "flower")


def child_environments(opts: UpOptions) -> dict[str, dict[str, str]]:
    """Each child's whole environment, by role: "common" (beat, apply worker), "fetch",
    "notify", "api", "flower"."""
    env = {
        **opts.environ,
        "FLEETSYNC_REDIS_URL": opts.redis_url,
        "FLEETSYNC_FLEET": str(opts.fleet_file),
        "FLEETSYNC_CACHE_DIR": str(opts.cache_dir.resolve()),
        "FLEETSYNC_TICK_SECONDS": str(opts.tick_seconds),
        **({"FLEETSYNC_TASK_EVENTS": "1"} if opts.with_flower else {}),
        **opts.extra_env,
    }

    def role_of(name: str) -> str:
        """The one role a variable is for, or "common" for all."""
        if name.startswith(API_ONLY_PREFIXES):
            return "api"
        if name.startswith(FLOWER_ONLY_PREFIXES):
            return "flower"
        if name in opts.credential_env:
            return "fetch"
        if name in opts.notify_env:
            return "notify"
        return "common"

    return {
        role: {k: v for k, v in env.items() if role_of(k) in ("common", role)} for role in ROLES
    }


def plan_processes(opts: UpOptions) -> list[ProcessSpec]:
    """The children of `up`, as data: what each runs and with which environment."""
    envs = child_environments(opts)
    env = envs["common"]
    # Never import from the working directory (a `fleetsync/` folder there, such as the parent
    # of a clone, would shadow the installed package): -P for Python, and Celery, which puts its
    # working directory first on sys.path, works from the cache directory (made here if new).
    opts.cache_dir.mkdir(parents=True, exist_ok=True)
    celery = [sys.executable, "-P", "-m", "celery", "--workdir", str(opts.cache_dir.resolve())]
    # Task events cost a publish per task step; only Flower reads them.
    events = ["-E"] if opts.with_flower else []
    specs = [
        ProcessSpec(
            "beat",
            [
                *celery,
                "-A",
                "fleetsync.scheduler.beat",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(opts.cache_dir / "celerybeat-unused"),
            ],
            env,
        ),
        ProcessSpec(
            "fetch",
            [
                *celery,
                "-A",
                "fleetsync.workers.app",
                "worker",
                "-Q",
                "poll,fetch",
                "-c",
                str(opts.fetch_concurrency),
                "-n",
                "fetch@%h",
                "--loglevel",
                "INFO",
                *events,
            ],
            envs["fetch"],
        ),
        ProcessSpec(
            "apply",
            [
                *celery,
                "-A",
                "fleetsync.workers.app",
                "worker",
                "-Q",
                "apply",
                "-P",
                "threads",
                "-c",
                str(opts.apply_concurrency),
                "-n",
                "apply@%h",
                "--loglevel",
                "INFO",
                *events,
            ],
            env,
        ),
        ProcessSpec(
            "notify",
            [
                *celery,
                "-A",
                "fleetsync.workers.app",
                "worker",
                "-Q",
                "notify",
                "-P",
                "threads",
                "-c",
                "4",
                "-n",
                "notify@%h",
                "--loglevel",
                "INFO",
                "-E",
            ],
            envs["notify"],
        ),
    ]
    if opts.with_watch:
        specs.append(ProcessSpec("watch", [sys.executable, "-P", "-m", "fleetsync", "watch"], env))
    if opts.with_api:
        specs.append(
            ProcessSpec(
                "api",
                [
                    sys.executable,
                    "-P",
                    "-m",
                    "fleetsync",
                    "api",
                    "--host",
                    opts.api_host,
                    "--port",
                    str(opts.api_port),
                ],
                {**envs["api"], **flower_link(opts)},
            )
        )
    if opts.with_flower:
        specs.append(
            ProcessSpec(
                "flower",
                [
                    *celery,
                    "-A",
                    "fleetsync.workers.app",
                    "flower",
                    f"--port={opts.flower_port}",
                    f"--address={opts.api_host}",
                ],
                envs["flower"],
            )
        )
    return specs


def flower_link(opts: UpOptions) -> dict[str, str]:
    """Where the web view links to Flower (nothing when Flower does not run)."""
    if not opts.with_flower:
        return {}
    return {"FLEETSYNC_FLOWER_URL": f"http://{opts.api_host}:{opts.flower_port}"}


@contextlib.contextmanager
def redis_for(url: str | None, data_dir: Path) -> Iterator[str]:
    """The given Redis URL, or an embedded redis-server for the lifetime of the block that
    keeps its data in `data_dir`/redis (append-only file, fsync every second) and loads it
    again next time."""
    if url:
        yield url
        return
    with data_dir_lock(data_dir):
        server = RedisServer(data_dir / "redis", persist=True, die_with_parent=True)
        server.start(timeout=300)  # a large append-only file takes a while to load
        try:
            yield server.url
        finally:
            server.stop()


def run_up(opts: UpOptions, *, announce: bool = True) -> int:
    """Start everything, restart what dies, and stop everything on SIGINT/SIGTERM."""
    supervisor = Supervisor(plan_processes(opts))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        supervisor.say(f"fleetsync: {signal.Signals(signum).name}: stopping")
        supervisor.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start()
        if announce:
            where = [f"Redis {display_url(opts.redis_url)}{opts.redis_note}"]
            if opts.with_api:
                where.append(f"web view and API http://{opts.api_host}:{opts.api_port}/")
            if opts.with_flower:
                where.append(f"Flower http://{opts.api_host}:{opts.flower_port}")
            supervisor.say("fleetsync is up: " + ", ".join(where) + " (Ctrl-C stops it)")
        return supervisor.wait()
    finally:
        supervisor.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)


@click.command("up")
@config_option
@click.option(
    "--redis-url",
    envvar="FLEETSYNC_REDIS_URL",
    default=None,
    callback=checked_redis_url,
    help="Use this Redis (redis://, rediss://, unix:// or sentinel://); default: start an "
    "embedded redis-server that keeps its data in --data-dir.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="FLEETSYNC_DATA_DIR",
    default=None,
    help="Where the embedded Redis keeps fleetsync's state (rollbacks, suspensions, history, "
    "status) between runs. Default: $XDG_DATA_HOME/fleetsync (~/.local/share/fleetsync).",
)
@click.option(
    "--host",
    "api_host",
    default="127.0.0.1",
    show_default=True,
    help="Address the API and Flower listen on.",
)
@click.option("--api-port", type=int, default=8080, show_default=True, envvar="FLEETSYNC_API_PORT")
@click.option(
    "--flower-port", type=int, default=5555, show_default=True, envvar="FLEETSYNC_FLOWER_PORT"
)
@click.option("--fetch-concurrency", type=int, default=2, show_default=True)
@click.option("--apply-concurrency", type=int, default=16, show_default=True)
@click.option("--no-api", is_flag=True, help="Do not run the API.")
@click.option("--no-flower", is_flag=True, help="Do not run Flower.")
@click.option(
    "--no-watch",
    is_flag=True,
    help="Do not run the watcher: drift is then found by each application's driftInterval "
    "checks alone.",
)
def command(
    config: Path,
    redis_url: str | None,
    data_dir: Path | None,
    api_host: str,
    api_port: int,
    flower_port: int,
    fetch_concurrency: int,
    apply_concurrency: int,
    no_api: bool,
    no_flower: bool,
    no_watch: bool,
) -> None:
    """Run beat, workers, the watcher, the API and Flower on this machine until Ctrl-C."""
    try:
        fleet = load_fleet(config)
    except FleetsyncError as exc:
        raise click.ClickException(f"{config}: refusing to start:\n{exc}") from exc
    for warning in unset_notification_variables(fleet, os.environ):
        click.echo(f"warning: {warning}", err=True)
    if not no_api:
        from fleetsync.scheduler.api.auth import AccessPolicy, TokenError

        try:
            AccessPolicy.from_env(os.environ)  # the API child would refuse it, again and again
        except TokenError as exc:
            raise click.ClickException(f"refusing to start: {exc}") from None
    settings = load_settings()
    cache_dir = settings.cache_dir.resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    api_url = None if no_api else f"http://{api_host}:{api_port}"
    flower_url = None if no_flower else f"http://{api_host}:{flower_port}"
    data = (data_dir or settings.data_dir).resolve()
    note = "" if redis_url else f" (embedded, data in {data / 'redis'})"
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(redis_for(redis_url, data))
        except (RuntimeError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc
        stack.enter_context(announced(url, api_url=api_url, flower_url=flower_url))  # for the CLI
        code = run_up(
            UpOptions(
                fleet_file=config.resolve(),
                redis_url=url,
                cache_dir=cache_dir,
                api_host=api_host,
                api_port=api_port,
                flower_port=flower_port,
                fetch_concurrency=fetch_concurrency,
                apply_concurrency=apply_concurrency,
                tick_seconds=settings.tick_seconds,
                with_api=not no_api,
                with_flower=not no_flower,
                with_watch=not no_watch,
                credential_env=credential_variables(fleet),
                notify_env=notification_variables(fleet),
                redis_note=note,
            )
        )
    sys.exit(code)
