"""The broker connection every fleetsync process's Celery app makes: kombu's Redis and Sentinel
transports, made to keep the connection they were opened for until their last channel closed.

Why. A worker that loses its broker (Redis restarting, Sentinel failing over) cleans up before
it reconnects: Celery's consumer collects the connection, then closes it. Against a Redis that
is away, closing the connection's channels can fail part way: the consuming channel, its BRPOP
still unanswered, raises as it starts to close; the remote-control channel raises deleting its
auto-delete queue; the channels after it in kombu's list are not closed. kombu then lets go of
the connection all the same (`transport.client = None`), and the consuming channel, holding the
messages the worker took and has not acknowledged, is closed after that: its close restores
them, which builds a connection pool from the connection's address, `transport.client`, now
None. AttributeError, which Celery takes for an unrecoverable error: the worker process exits,
and `fleetsync up` has to start it again.

The cause is the restore reading what the cleanup already dropped, so that is what changes: a
fleetsync transport keeps the connection it was opened for (address, credentials, the sentinels
and the master's name, transport options) when kombu lets go of it. The late close then restores
like any other: the messages go back to their queues when Redis answers (after a failover, the
sentinels name the new master); when it does not, the restore fails with a connection error,
which kombu and Celery handle as the broker being away, and the messages stay in the transport's
`unacked` hash. From there, fleetsync's beat sends again, once they are 30 s old, those whose
task is not running (`claim_stranded`, shared/store/inflight.py: a task still running in this
worker is left to finish); kombu's own visibility-timeout restore is the last resort (an hour).
The worker itself does not restore them when it reconnects: its new channel knows nothing of
what the old one had taken.

`BrokerAMQP` is the Celery app's `amqp` class (`make_celery`, shared/tasking.py): its
`Connection` picks these transports for `redis://`, `rediss://` and `sentinel://` URLs each
time it connects, a switch to another sentinel's URL after a failure included.
"""

from __future__ import annotations

from typing import Any

from celery.app.amqp import AMQP
from kombu.connection import Connection
from kombu.transport import redis as kombu_redis


class _KeepsItsConnection:
    """A transport whose `client` (the kombu connection it serves) outlives kombu letting go
    of it: its channels read the connection's address whenever they build a connection pool,
    a restore or an acknowledgement after the connection was collected included."""

    _opened_for: Any = None

    @property
    def client(self) -> Any:
        return self._opened_for

    @client.setter
    def client(self, connection: Any) -> None:
        # kombu sets None as it closes the connection (to unlink the two); channels it did
        # not manage to close still need the address, so the one it had is kept.
        if connection is not None:
            self._opened_for = connection


class RedisTransport(_KeepsItsConnection, kombu_redis.Transport):
    """kombu's Redis transport, keeping its connection (`redis://`, `rediss://`)."""


class SentinelTransport(_KeepsItsConnection, kombu_redis.SentinelTransport):
    """kombu's Sentinel transport, keeping its connection (`sentinel://`)."""


FLEETSYNC_TRANSPORTS: dict[type, type] = {
    kombu_redis.Transport: RedisTransport,
    kombu_redis.SentinelTransport: SentinelTransport,
}
"""kombu's transport class -> the fleetsync transport used in its place."""


class BrokerConnection(Connection):
    """A kombu connection that uses fleetsync's transports in place of kombu's Redis ones."""

    def get_transport_cls(self) -> type:
        chosen: type = super().get_transport_cls()  # type: ignore[no-untyped-call]
        return FLEETSYNC_TRANSPORTS.get(chosen, chosen)


class BrokerAMQP(AMQP):  # type: ignore[misc]
    """Celery's messaging helpers, connecting through `BrokerConnection`."""

    Connection = BrokerConnection
    BrokerConnection = BrokerConnection
