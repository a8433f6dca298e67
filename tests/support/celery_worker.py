"""Real Celery workers for tests: fleetsync's worker app, consuming real queues on the test Redis,
in a thread of the test process (celery.contrib.testing)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from celery.contrib.testing.worker import start_worker

from fleetsync.shared.settings import Settings
from fleetsync.workers import runtime as worker_runtime
from fleetsync.workers.app import app


def configure_workers(redis_url: str, cache_dir: Path) -> worker_runtime.Runtime:
    """Point the worker app and its runtime at the test Redis and a private cache."""
    import fleetsync.workers.apply
    import fleetsync.workers.fetch
    import fleetsync.workers.notify  # noqa: F401

    return worker_runtime.configure(
        Settings(redis_url=redis_url, cache_dir=cache_dir, tick_seconds=0.2)
    )


@contextmanager
def running_worker(
    queues: Sequence[str] = ("poll", "fetch", "apply", "notify"), *, concurrency: int = 4
) -> Iterator[None]:
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        queues=list(queues),
        loglevel="WARNING",
        shutdown_timeout=30,
    ):
        yield


def point_broker_at(url: str) -> None:
    """Make the worker app use the broker at `url` from now on, dropping the connections and
    producers it pooled for another one (tests that split the broker from the store)."""
    app.close()
    app.amqp._producer_pool = None
    app.conf.broker_url = url
