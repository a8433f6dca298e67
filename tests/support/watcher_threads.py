"""A watcher process's `Watcher` and `CheckDispatcher` on threads of a test."""

from __future__ import annotations

import threading
from pathlib import Path

from fleetsync.scheduler.watcher import CheckDispatcher, Watcher
from fleetsync.shared.kube.watch import WatchTimings
from fleetsync.shared.tasking import Priority, Trigger
from tests.support.fleet_harness import Harness

TIMINGS = WatchTimings(first_retry=0.2, max_retry=1.0, refused_retry=1.0, quick_close=0.5)


class running_watcher:
    """A `Watcher` and its `CheckDispatcher` on threads of the test, sending drift checks
    through the fleet's sender as `fleetsync watch` does; stopped on leaving."""

    def __init__(self, fleet: Harness, cache: Path, ident: str = "w1") -> None:
        sender = fleet.runtime.sender

        def send(app: str, cluster: str, anew: bool) -> None:
            check = sender.reconcile_anew if anew else sender.reconcile
            check(app, cluster, reason=Trigger.DRIFT, priority=Priority.CHANGE)

        self.dispatcher = CheckDispatcher(send, gap=1.0)
        self.watcher = Watcher(
            fleet.store,
            self.dispatcher,
            cache_dir=cache,
            ident=ident,
            timings=TIMINGS,
            beat=0.3,
            ttl=2.0,
        )
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.watcher.run, args=(self.stop,), daemon=True),
            threading.Thread(target=self.dispatcher.run, args=(self.stop,), daemon=True),
        ]

    def __enter__(self) -> Watcher:
        for t in self.threads:
            t.start()
        return self.watcher

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.dispatcher.wake()
        for t in self.threads:
            t.join(timeout=10)
        self.watcher.close()
