"""The only part of fleetsync that talks to Redis: fleet, schedules, source and apply state.

`Store` combines one class per concern; every method takes and returns fleetsync values.
`connection` says which URLs reach Redis (one server or Sentinel) and which errors mean that
Redis is away for now.
"""

from __future__ import annotations

from fleetsync.shared.model.desired import DesiredState, Pin
from fleetsync.shared.store.apply import ApplyStore
from fleetsync.shared.store.base import StoreError
from fleetsync.shared.store.connection import (
    UNAVAILABLE,
    RedisUrlError,
    celery_broker,
    check_url,
    connect_client,
    wait_until_reachable,
)
from fleetsync.shared.store.fleet import FleetStore
from fleetsync.shared.store.inflight import Abandoned, InflightStore
from fleetsync.shared.store.lease import Lease, LeaseStore
from fleetsync.shared.store.rollouts import RolloutStore
from fleetsync.shared.store.schedule import DueSet, ScheduleStore
from fleetsync.shared.store.source import RepoState, SourceError, SourceStore
from fleetsync.shared.store.watchers import DriftDetection, WatcherStore
from fleetsync.shared.urls import display_url


class Store(
    FleetStore,
    ScheduleStore,
    SourceStore,
    ApplyStore,
    LeaseStore,
    InflightStore,
    RolloutStore,
    WatcherStore,
):
    address: str = "Redis"
    """Where the store's Redis is, fit to show (no password)."""

    @classmethod
    def connect(cls, url: str, *, prefix: str = "fleetsync") -> Store:
        """A store on the Redis at `url` (`redis://`, `rediss://`, `unix://` or `sentinel://`);
        nothing is sent until the first command. RedisUrlError for a URL it cannot use."""
        store = cls(connect_client(url), prefix=prefix)
        store.address = display_url(url)
        return store

    def wait_until_reachable(self, timeout: float) -> bool:
        """Wait, with growing pauses, until Redis answers (True) or `timeout` passes (False)."""
        return wait_until_reachable(self._r, timeout=timeout)


__all__ = [
    "UNAVAILABLE",
    "Abandoned",
    "DesiredState",
    "DriftDetection",
    "DueSet",
    "Lease",
    "Pin",
    "RedisUrlError",
    "RepoState",
    "SourceError",
    "Store",
    "StoreError",
    "celery_broker",
    "check_url",
]
