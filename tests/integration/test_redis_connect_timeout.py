"""A Redis address that never answers a connect (a host dropping packets, produced here by a
listening socket whose accept queue is full: the kernel drops further connection requests) is
given up by the broker after `CONNECT_TIMEOUT`, as by the store, not after the operating
system's TCP timeout; the worker's reconnect with backoff takes over from there."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from kombu.exceptions import OperationalError

from fleetsync.shared.settings import Settings
from fleetsync.shared.tasking import make_celery

# Without the connect timeout the connect would wait for the kernel's SYN retries (over two
# minutes on Linux): the test's own time limit fails it.
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def unanswering_url() -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    queued: list[socket.socket] = []
    try:
        while True:  # connect until the accept queue is full and a connect is left unanswered
            probe = socket.socket()
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                probe.close()
                break
            queued.append(probe)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        for s in [*queued, server]:
            s.close()


def test_the_broker_gives_up_a_connect_that_is_never_answered(unanswering_url: str) -> None:
    connection = make_celery(Settings(redis_url=unanswering_url)).connection_for_write()
    with pytest.raises(OperationalError, match="Timeout connecting to server"):
        connection.ensure_connection(max_retries=1)
