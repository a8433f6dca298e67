"""The only part of fleetsync that talks to Redis: fleet, schedules, source and apply state.

`Store` combines one class per concern; every method takes and returns fleetsync values.
`connection` says which URLs reach Redis (one server or Sentinel) and which errors mean that
Redis is away for now. `Round` sends many commands in one round trip; `PairView` is a store for
one reconcile: what it reads of its pair was read in one round, what it writes goes out in one
(`ClosingWrites`: many pairs' writes merged, one MSET, one SADD per set, one release script).
"""

from __future__ import annotations

from fleetsync.shared.model.desired import DesiredState, Pin
from fleetsync.shared.store.base import StoreError
from fleetsync.shared.store.closing import ClosingWrites
from fleetsync.shared.store.combined import Store
from fleetsync.shared.store.connection import (
    UNAVAILABLE,
    RedisUrlError,
    celery_broker,
    check_url,
)
from fleetsync.shared.store.inflight import Abandoned
from fleetsync.shared.store.intents import IntentsView
from fleetsync.shared.store.lease import Lease
from fleetsync.shared.store.pairview import (
    PairOpening,
    PairView,
    open_pair,
    open_pairs,
    read_pair,
)
from fleetsync.shared.store.rounds import Reply, Round
from fleetsync.shared.store.schedule import DueSet
from fleetsync.shared.store.source import RepoState, SourceError
from fleetsync.shared.store.watchers import DriftDetection

__all__ = [
    "UNAVAILABLE",
    "Abandoned",
    "ClosingWrites",
    "DesiredState",
    "DriftDetection",
    "DueSet",
    "IntentsView",
    "Lease",
    "PairOpening",
    "PairView",
    "Pin",
    "RedisUrlError",
    "Reply",
    "RepoState",
    "Round",
    "SourceError",
    "Store",
    "StoreError",
    "celery_broker",
    "check_url",
    "open_pair",
    "open_pairs",
    "read_pair",
]
