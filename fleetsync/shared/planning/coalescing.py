"""Coalescing triggers per key: a few go at once, a flood becomes one trigger per gap.

A watcher turns events into drift checks of (application, cluster) pairs. An object that another
controller rewrites every second must not turn into a check every second, nor delay the checks
of other pairs; but two separate edits of one pair a few seconds apart (an edit, then a delete)
should each be checked at once. So each key has a bucket of `burst` triggers, refilled by one
every `gap` seconds: a trigger that finds one in the bucket is sent at once; one that finds it
empty becomes the key's single trailing trigger, sent as soon as the bucket refills (`due`), and
every further trigger until then folds into it. A key flooding events thus costs `burst`
checks, then one per gap, whatever its event rate; a quiet key is never behind a noisy one.
Memory: one entry per key whose bucket is not full.

Pure: the caller passes the clock's readings (tests use a fake one).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    pending: float | None = None
    """When the trailing trigger is due (None: none)."""


class Coalescer(Generic[K]):
    def __init__(self, gap: float, *, burst: int = 3) -> None:
        if gap < 0:
            raise ValueError("gap must be >= 0 seconds")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.gap = gap
        self.burst = burst
        self._buckets: dict[K, _Bucket] = {}

    def _refill(self, bucket: _Bucket, now: float) -> None:
        if self.gap == 0:
            bucket.tokens = float(self.burst)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) / self.gap)
        bucket.at = now

    def offer(self, key: K, now: float) -> bool:
        """A trigger for `key` at `now`: True when it is to be sent now; False when it was
        folded into the key's trailing trigger (see `due`)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), at=now)
        if bucket.pending is not None:
            return False
        self._refill(bucket, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True
        bucket.pending = now + (1 - bucket.tokens) * self.gap
        return False

    def due(self, now: float) -> list[K]:
        """The trailing triggers due by `now`, in the order they fell due (each counted sent);
        keys whose bucket is full again are forgotten."""
        ready = sorted(
            (b.pending, i, k)
            for i, (k, b) in enumerate(self._buckets.items())
            if b.pending is not None and b.pending <= now
        )
        for _, _, key in ready:
            bucket = self._buckets[key]
            self._refill(bucket, now)
            bucket.tokens = max(0.0, bucket.tokens - 1)
            bucket.pending = None
        for key, bucket in list(self._buckets.items()):
            if bucket.pending is None:
                self._refill(bucket, now)
                if bucket.tokens >= self.burst:
                    del self._buckets[key]
        return [key for _, _, key in ready]

    def next_due(self) -> float | None:
        """When the earliest trailing trigger falls due (None: none pending)."""
        return min(
            (b.pending for b in self._buckets.values() if b.pending is not None), default=None
        )

    def __len__(self) -> int:
        """Keys remembered (their bucket not full, or a trigger pending)."""
        return len(self._buckets)
