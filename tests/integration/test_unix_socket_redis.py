"""A Redis reached through a Unix socket (`unix:///PATH?db=N`): the store and the Celery broker
both use it, in the database the URL names, with the password the URL carries, and neither
shows that password."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fleetsync.shared.model.ids import AppName
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import make_celery
from tests.support.waiting import wait_for

PASSWORD = "s0cket-secret"


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    """A redis-server listening on a Unix socket only (no TCP port), with a password."""
    path = tmp_path / "redis.sock"
    server = subprocess.Popen(
        [
            "redis-server",
            "--port", "0",
            "--unixsocket", str(path),
            "--requirepass", PASSWORD,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(path.exists, timeout=10, what="the Redis socket")
        yield path
    finally:
        server.terminate()
        server.wait(timeout=10)


def _raw(path: Path, db: int) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(path), password=PASSWORD, db=db)


def test_the_store_uses_the_socket_and_the_database_the_url_names(socket_path: Path) -> None:
    store = Store.connect(f"unix://:{PASSWORD}@{socket_path}?db=3")
    store.set_suspended(AppName("web"), True)
    assert store.is_suspended(AppName("web"))
    assert _raw(socket_path, 3).keys() and not _raw(socket_path, 0).keys()
    assert store.address == f"unix://{socket_path}?db=3"


def test_celery_sends_and_receives_through_the_socket_in_that_database(socket_path: Path) -> None:
    celery = make_celery(Settings(redis_url=f"unix://:{PASSWORD}@{socket_path}?db=5"))
    with celery.connection_for_write() as connection:
        queue = connection.SimpleQueue("fleetsync-socket-check")
        queue.put({"hello": "socket"})
        message = queue.get(timeout=10)
        assert message.payload == {"hello": "socket"}
        message.ack()
        queue.close()
    assert _raw(socket_path, 5).keys() and not _raw(socket_path, 0).keys()
    assert PASSWORD not in celery.connection_for_write().as_uri()
