"""`Store`: every concern of the store in one class (see the package's docstring)."""

from __future__ import annotations

from fleetsync.shared.store.apply import ApplyStore
from fleetsync.shared.store.connection import connect_client, wait_until_reachable
from fleetsync.shared.store.fleet import FleetStore
from fleetsync.shared.store.inflight import InflightStore
from fleetsync.shared.store.intents import IntentsStore
from fleetsync.shared.store.lease import LeaseStore
from fleetsync.shared.store.notify import NotifyStore
from fleetsync.shared.store.rollouts import RolloutStore
from fleetsync.shared.store.schedule import ScheduleStore
from fleetsync.shared.store.source import SourceStore
from fleetsync.shared.store.watchers import WatcherStore
from fleetsync.shared.urls import display_url


class Store(
    FleetStore,
    ScheduleStore,
    SourceStore,
    ApplyStore,
    IntentsStore,
    LeaseStore,
    InflightStore,
    RolloutStore,
    NotifyStore,
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
