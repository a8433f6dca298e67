"""The apply worker's bulkhead: at most a few of its threads work on one cluster at a time.

A cluster that hangs (connections accepted, never answered) holds a thread for a request's whole
timeout. Without a bound, its queued reconciles would take every thread of the worker and the
healthy clusters would wait. A task that finds its cluster's share taken does not wait: it is
queued again with a countdown (`workers/apply.py`), and the thread takes the next task.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Bulkhead:
    """Counts this process's threads per cluster; `limit` at most each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, cluster: str) -> bool:
        """Take one of the cluster's places (no wait); False when all are taken."""
        with self._lock:
            busy = self._busy.get(cluster, 0)
            if busy >= self.limit:
                return False
            self._busy[cluster] = busy + 1
            return True

    def leave(self, cluster: str) -> None:
        with self._lock:
            left = self._busy.get(cluster, 0) - 1
            if left > 0:
                self._busy[cluster] = left
            else:
                self._busy.pop(cluster, None)

    @contextmanager
    def place(self, cluster: str) -> Iterator[bool]:
        """A place for the block (True), or False at once when the cluster has none free."""
        taken = self.enter(cluster)
        try:
            yield taken
        finally:
            if taken:
                self.leave(cluster)

    def busy(self, cluster: str) -> int:
        with self._lock:
            return self._busy.get(cluster, 0)
