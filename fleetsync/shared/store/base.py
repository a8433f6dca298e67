"""The Redis connection and key naming that every part of the store shares."""

from __future__ import annotations

import time

import redis
import redis.exceptions

from fleetsync.shared.store.rounds import Round

StoreError = redis.exceptions.RedisError
"""What the store raises when Redis fails: callers that turn failures into status let it pass
(there is nowhere to record it), and the task's in-flight record brings the task back."""


def text(value: bytes | str) -> str:
    """A Redis reply as text (the client returns bytes; its types say bytes or str)."""
    return value.decode() if isinstance(value, bytes) else value


def raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


class StoreBase:
    """Holds the client and builds keys under one prefix (`fleetsync:` by default)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "fleetsync") -> None:
        self._r = client
        self._prefix = prefix

    def key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    @property
    def client(self) -> redis.Redis:
        return self._r

    @staticmethod
    def now() -> float:
        return time.time()

    def ping(self) -> bool:
        return bool(self._r.ping())

    def incr_stat(self, name: str, amount: int = 1) -> None:
        """Count an event (ls-remote, fetch, render, cache hit...) for metrics and benchmarks."""
        self._r.hincrby(self.key("stats"), name, amount)

    def queue_stat(self, rnd: Round, name: str, amount: int = 1) -> None:
        """`incr_stat` as part of the round `rnd`."""
        rnd.add(lambda p: p.hincrby(self.key("stats"), name, amount))

    def round(self, *, transaction: bool = False) -> Round:
        """A new round trip to fill (see `Round`)."""
        return Round(self._r, transaction=transaction)

    def queue_depths(
        self, queues: tuple[str, ...] = ("poll", "fetch", "apply", "notify")
    ) -> dict[str, int]:
        """Messages waiting per Celery queue. The Redis transport keeps one list per priority
        step: `<queue>` for priority 0 and `<queue>:<n>` for the others."""
        pipe = self._r.pipeline()
        for queue in queues:
            pipe.llen(queue)
            for step in range(1, 10):
                pipe.llen(f"{queue}:{step}")
        lengths = pipe.execute()
        return {q: int(sum(lengths[i * 10 : (i + 1) * 10])) for i, q in enumerate(queues)}

    def stats(self) -> dict[str, int]:
        counts = self._r.hgetall(self.key("stats"))
        return {text(k): int(v) for k, v in counts.items()}
