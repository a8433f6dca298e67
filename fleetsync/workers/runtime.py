"""What a worker process holds once: settings, the store and the task sender.

Built lazily from the environment on first use; tests and `fleetsync up` configure it explicitly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fleetsync.shared.kube import fit_clients, keep_clients, keep_connections
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.settings import Settings, load_settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import CeleryApp, Sender, use_broker
from fleetsync.workers.bulkhead import Bulkhead


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store
    sender: Sender
    bulkhead: Bulkhead
    """At most `settings.cluster_threads` of this process's threads per cluster."""

    def fleet(self) -> Fleet | None:
        return self.store.load_fleet()

    def fleet_read(self, fleet: Fleet) -> None:
        """Unless `FLEETSYNC_KUBE_CLIENTS` bounds them, keep a Kubernetes client for every
        cluster `fleet` declares."""
        fit_clients(len(fleet.clusters))


_lock = threading.Lock()
_current: Runtime | None = None
_app: CeleryApp | None = None


def bind_app(app: CeleryApp) -> None:
    global _app
    _app = app


def configure(settings: Settings) -> Runtime:
    """(Re)build the runtime for `settings` and point the Celery app's broker at its Redis."""
    global _current
    assert _app is not None, "bind_app() first"
    use_broker(_app, settings.redis_url)
    keep_clients(settings.kube_clients)
    keep_connections(settings.kube_connections)
    store = Store.connect(settings.redis_url, prefix=settings.key_prefix)
    store.lease_seconds = settings.lease_seconds
    with _lock:
        _current = Runtime(
            settings=settings,
            store=store,
            sender=Sender(_app, store),
            bulkhead=Bulkhead(settings.cluster_threads),
        )
        return _current


def runtime() -> Runtime:
    with _lock:
        current = _current
    return current if current is not None else configure(load_settings())
