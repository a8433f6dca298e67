"""A worker that loses its broker survives Celery's cleanup of the lost connection, and the
messages it had taken and not acknowledged are not lost (shared/broker_transport.py).

The race, produced here for real on a real redis-server: the consuming channel has a BRPOP
outstanding when Redis goes away, so it fails as it starts to close; the remote-control channel
(a fanout queue, auto-deleted) fails deleting its queue, and kombu closes no channel after it;
kombu lets go of the connection all the same, and the consuming channel, holding unacknowledged
messages, is closed after that. In a worker, whether the BRPOP is outstanding depends on when
Redis went away within its 1 s cycle; here the BRPOP waits 300 s (the transport's
`polling_interval`), so it always is. The cleanup is the one Celery's consumer runs after a
connection error (`Consumer.on_connection_error_after_connected`), call for call: `collect`,
any error ignored, then `close` with connection errors ignored; anything else `close` raises
stops the worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from celery import Celery
from kombu import Connection, Consumer, Exchange, Message, Queue
from kombu.common import ignore_errors

from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.store.inflight import STRANDED_AFTER, UNACKED
from fleetsync.shared.tasking import make_celery
from tests.support.redis_server import RedisServer
from tests.support.sentinel import SentinelSet
from tests.support.waiting import wait_for

OUTSTANDING_BRPOP = {"polling_interval": 300}
"""A BRPOP that Redis does not answer before it goes away (see the module docstring)."""


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", persist=True)
    server.start()
    yield server
    server.stop()


@contextmanager
def consuming(app: Celery, *, messages: int) -> Iterator[tuple[Connection, list[Message]]]:
    """A worker's broker connection: the default channel consuming `poll` and holding
    `messages` delivered, unacknowledged, with a BRPOP outstanding; a second channel consuming
    a fanout queue, as a worker's remote control does."""
    for n in range(messages):
        app.send_task("fleetsync.poll.poll", kwargs={"repo": f"repo-{n}"}, queue="poll")
    conn = app.connection_for_read(transport_options=OUTSTANDING_BRPOP)
    conn.ensure_connection()
    taken: list[Message] = []
    consumer = Consumer(
        conn.default_channel,
        queues=[Queue("poll")],
        callbacks=[lambda _body, message: taken.append(message)],
        accept=["json"],
    )
    consumer.consume()
    control = Queue("remote-control", Exchange("remote-control", type="fanout"), auto_delete=True)
    Consumer(conn.channel(), queues=[control], no_ack=True, callbacks=[]).consume()
    while len(taken) < messages:
        conn.drain_events(timeout=5)
    with suppress(TimeoutError):
        conn.drain_events(timeout=0.1)  # sends the BRPOP that stays outstanding
    assert conn.default_channel._in_poll, "the consuming channel waits on its BRPOP"
    yield conn, taken


def collect_as_celery_does(conn: Connection) -> None:
    """Celery's consumer after a connection error: collect the connection, ignoring what
    fails."""
    with suppress(Exception):
        conn.collect(socket_timeout=5.0)


def close_as_celery_does(conn: Connection) -> None:
    """...then close it, connection errors ignored: any other error stops the worker."""
    ignore_errors(conn, conn.close)


def test_a_consumer_cleaned_up_across_a_redis_restart_gives_its_messages_back(
    redis: RedisServer,
) -> None:
    app = make_celery(Settings(redis_url=redis.url))
    store = Store.connect(redis.url)
    with consuming(app, messages=2) as (conn, _):
        channel = conn.default_channel
        assert store.client.hlen(UNACKED) == 2
        redis.stop()
        collect_as_celery_does(conn)
        # The race's condition: kombu let go of the connection, the consuming channel is open.
        assert conn._transport is None
        assert not channel.closed
        redis.start()

        close_as_celery_does(conn)

    assert channel.closed
    assert store.client.llen("poll") == 2, "the unacknowledged messages are back on their queue"
    assert store.client.hlen(UNACKED) == 0


def test_a_consumer_cleaned_up_while_redis_is_away_leaves_its_messages_to_the_beat(
    redis: RedisServer,
) -> None:
    app = make_celery(Settings(redis_url=redis.url))
    store = Store.connect(redis.url)
    with consuming(app, messages=2) as (conn, taken):
        channel = conn.default_channel
        redis.stop()
        collect_as_celery_does(conn)
        assert not channel.closed

        close_as_celery_does(conn)  # its restore meets no Redis: a connection error, ignored
        redis.start()

    assert channel.closed
    assert store.client.llen("poll") == 0
    assert store.client.hlen(UNACKED) == 2, "the messages wait in the transport's unacked hash"
    stranded = store.claim_stranded(now=store.now() + STRANDED_AFTER + 1)
    assert sorted(t.task_id for t in stranded) == sorted(m.headers["id"] for m in taken)


def test_a_consumer_cleaned_up_across_a_sentinel_failover_gives_its_messages_to_the_new_master(
    tmp_path: Path,
) -> None:
    with SentinelSet(tmp_path / "sentinel") as sentinels:
        app = make_celery(Settings(redis_url=sentinels.url))
        old = sentinels.master()
        replica = next(n for n in sentinels.nodes if n is not old)
        with consuming(app, messages=2) as (conn, _):
            channel = conn.default_channel
            wait_for(
                lambda: Store.connect(replica.url).client.hlen(UNACKED) == 2,
                what="the unacknowledged messages replicated",
            )
            # The cleanup must run while no master can be found: with the replica down, the
            # sentinels cannot promote it before the cleanup is over, however slow it is.
            replica.stop()
            old.stop(kill=True)
            collect_as_celery_does(conn)
            assert conn._transport is None
            assert not channel.closed
            replica.start()
            wait_for(
                lambda: sentinels.master_port() == replica.port and _writable(sentinels.url),
                timeout=90,
                what="the replica promoted, found through the sentinels",
            )

            close_as_celery_does(conn)

        assert channel.closed
        master = Store.connect(replica.url).client
        assert master.llen("poll") == 2, "the messages are back on their queue, on the new master"
        assert master.hlen(UNACKED) == 0


def _writable(url: str) -> bool:
    """A client of `url` finds a master through the sentinels and writes to it (the sentinels
    name the promoted replica a moment before they all see it up, and it takes the role)."""
    try:
        return bool(Store.connect(url).client.set("probe:writable", "1"))
    except Exception:
        return False
