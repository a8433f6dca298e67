"""The only part of fleetsync that talks to Redis: fleet, schedules, source and apply state.

`Store` combines one class per concern; every method takes and returns fleetsync values.
"""

from __future__ import annotations

import redis

from fleetsync.shared.model.desired import DesiredState, Pin
from fleetsync.shared.store.apply import ApplyStore
from fleetsync.shared.store.base import StoreError
from fleetsync.shared.store.fleet import FleetStore
from fleetsync.shared.store.inflight import Abandoned, InflightStore
from fleetsync.shared.store.lease import Lease, LeaseStore
from fleetsync.shared.store.schedule import DueSet, ScheduleStore
from fleetsync.shared.store.source import RepoState, SourceError, SourceStore


class Store(FleetStore, ScheduleStore, SourceStore, ApplyStore, LeaseStore, InflightStore):
    @classmethod
    def connect(cls, url: str, *, prefix: str = "fleetsync") -> Store:
        client = redis.Redis.from_url(
            url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=30
        )
        return cls(client, prefix=prefix)


__all__ = [
    "Abandoned",
    "DesiredState",
    "DueSet",
    "Lease",
    "Pin",
    "RepoState",
    "SourceError",
    "Store",
    "StoreError",
]
