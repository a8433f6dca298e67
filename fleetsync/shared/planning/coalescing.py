"""Coalescing triggers per key: the first goes at once, a flood becomes one trigger per gap.

A watcher turns events into drift checks of (application, cluster) pairs. An object that another
controller rewrites every second must not turn into a check every second, nor delay the checks
of other pairs: per key, the first trigger is sent at once; triggers within `gap` seconds of the
last one sent fold into a single trailing trigger, sent when the gap has passed. So each key
costs at most one check per gap, whatever its event rate, and a quiet key is never behind a
noisy one. Memory: one entry per key triggered within the last gap.

Pure: the caller passes the clock's readings (tests use a fake one).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Coalescer(Generic[K]):
    def __init__(self, gap: float) -> None:
        if gap < 0:
            raise ValueError("gap must be >= 0 seconds")
        self.gap = gap
        self._sent: dict[K, float] = {}
        """When each key's last trigger was sent (kept for one gap)."""
        self._pending: dict[K, float] = {}
        """Keys with a trailing trigger, and when it is due."""

    def offer(self, key: K, now: float) -> bool:
        """A trigger for `key` at `now`: True when it is to be sent now; False when it was
        folded into a trailing one (see `due`)."""
        if key in self._pending:
            return False
        last = self._sent.get(key)
        if last is None or now - last >= self.gap:
            self._sent[key] = now
            return True
        self._pending[key] = last + self.gap
        return False

    def due(self, now: float) -> list[K]:
        """The trailing triggers due by `now`, in the order they fell due (each counted sent)."""
        ready = sorted((at, i, k) for i, (k, at) in enumerate(self._pending.items()) if at <= now)
        for _, _, key in ready:
            del self._pending[key]
            self._sent[key] = now
        for key in [k for k, at in self._sent.items() if now - at >= self.gap]:
            if key not in self._pending:
                del self._sent[key]
        return [key for _, _, key in ready]

    def next_due(self) -> float | None:
        """When the earliest trailing trigger falls due (None: none pending)."""
        return min(self._pending.values(), default=None)

    def __len__(self) -> int:
        """Keys remembered (sent within the last gap, or pending)."""
        return len(self._sent.keys() | self._pending.keys())
