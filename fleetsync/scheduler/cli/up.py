"""`fleetsync up -c fleet.yaml`: the whole system on one machine, as child processes.

beat, a poll/fetch worker, an apply worker, the API and Flower, sharing one Redis: the one given
by --redis-url / FLEETSYNC_REDIS_URL, or an embedded redis-server on a free loopback port.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import click

from fleetsync.scheduler.cli.options import config_option
from fleetsync.scheduler.embedded_redis import running_redis
from fleetsync.scheduler.instance import announced
from fleetsync.scheduler.supervisor import ProcessSpec, Supervisor
from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.settings import load_settings


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
    extra_env: Mapping[str, str] = field(default_factory=dict)


def plan_processes(opts: UpOptions) -> list[ProcessSpec]:
    """The children of `up`, as data: what each runs and with which environment."""
    env = {
        "FLEETSYNC_REDIS_URL": opts.redis_url,
        "FLEETSYNC_FLEET": str(opts.fleet_file),
        "FLEETSYNC_CACHE_DIR": str(opts.cache_dir.resolve()),
        "FLEETSYNC_TICK_SECONDS": str(opts.tick_seconds),
        **opts.extra_env,
    }
    # Never import from the working directory (a `fleetsync/` folder there, such as the parent
    # of a clone, would shadow the installed package): -P for Python, and Celery, which puts its
    # working directory first on sys.path, works from the cache directory (made here if new).
    opts.cache_dir.mkdir(parents=True, exist_ok=True)
    celery = [sys.executable, "-P", "-m", "celery", "--workdir", str(opts.cache_dir.resolve())]
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
                "-E",
            ],
            env,
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
                "-E",
            ],
            env,
        ),
    ]
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
                {**env, **flower_link(opts)},
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
                env,
            )
        )
    return specs


def flower_link(opts: UpOptions) -> dict[str, str]:
    """Where the web view links to Flower (nothing when Flower does not run)."""
    if not opts.with_flower:
        return {}
    return {"FLEETSYNC_FLOWER_URL": f"http://{opts.api_host}:{opts.flower_port}"}


@contextlib.contextmanager
def redis_for(url: str | None) -> Iterator[str]:
    """The given Redis URL, or an embedded redis-server for the lifetime of the block."""
    if url:
        yield url
        return
    with (
        tempfile.TemporaryDirectory(prefix="fleetsync-redis-") as workdir,
        running_redis(Path(workdir)) as embedded,
    ):
        yield embedded


def run_up(opts: UpOptions, *, announce: bool = True) -> int:
    """Start everything, block until SIGINT/SIGTERM or a child's death, stop everything."""
    supervisor = Supervisor(plan_processes(opts))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        supervisor.say(f"fleetsync: {signal.Signals(signum).name}: stopping")
        supervisor.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start()
        if announce:
            where = [f"Redis {opts.redis_url}"]
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
    help="Use this Redis; default: start an embedded redis-server.",
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
def command(
    config: Path,
    redis_url: str | None,
    api_host: str,
    api_port: int,
    flower_port: int,
    fetch_concurrency: int,
    apply_concurrency: int,
    no_api: bool,
    no_flower: bool,
) -> None:
    """Run beat, workers, the API and Flower on this machine until Ctrl-C."""
    try:
        load_fleet(config)
    except FleetsyncError as exc:
        raise click.ClickException(f"{config}: refusing to start:\n{exc}") from exc
    settings = load_settings()
    cache_dir = settings.cache_dir.resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    api_url = None if no_api else f"http://{api_host}:{api_port}"
    flower_url = None if no_flower else f"http://{api_host}:{flower_port}"
    with (
        redis_for(redis_url) as url,
        announced(url, api_url=api_url, flower_url=flower_url),  # found by the CLI
    ):
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
            )
        )
    sys.exit(code)
