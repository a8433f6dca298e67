"""Every fleetsync Celery app connects through the transports that keep their connection
(shared/broker_transport.py); the race they answer is reproduced for real in
tests/integration/test_broker_transport.py."""

from __future__ import annotations

import pytest

from fleetsync.shared.broker_transport import RedisTransport, SentinelTransport
from fleetsync.shared.settings import Settings
from fleetsync.shared.tasking import make_celery

SENTINELS = "sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/0?master=fleetsync"


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("redis://127.0.0.1:6379/0", RedisTransport),
        ("rediss://127.0.0.1:6380/0", RedisTransport),
        (SENTINELS, SentinelTransport),
    ],
)
def test_an_apps_connections_use_fleetsyncs_transports(url: str, transport: type) -> None:
    app = make_celery(Settings(redis_url=url))
    for conn in (app.connection_for_read(), app.connection_for_write()):
        assert conn.get_transport_cls() is transport
        assert isinstance(conn.transport, transport)


def test_a_switch_to_another_sentinel_keeps_fleetsyncs_transport() -> None:
    conn = make_celery(Settings(redis_url=SENTINELS)).connection_for_read()
    conn.maybe_switch_next()
    assert conn.hostname == "127.0.0.1" and conn.port == 26380
    assert conn.get_transport_cls() is SentinelTransport


def test_a_transport_keeps_its_connection_when_kombu_lets_go_of_it() -> None:
    conn = make_celery(Settings(redis_url="redis://127.0.0.1:6379/0")).connection_for_read()
    transport = conn.transport
    conn.release()  # unlinks the two: transport.client = None
    assert conn._transport is None
    assert transport.client is conn
    assert transport.client.hostname == "127.0.0.1"
