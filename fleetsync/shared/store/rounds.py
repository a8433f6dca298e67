"""Round trips: commands sent to Redis together, each group with what to make of its replies.

A reconcile reads what it needs in one round (`Round.run` executes a pipeline) and writes its
outcome in another; parts of the store add their commands to a round instead of each sending
their own. A group's parser runs once the round has run, with that group's replies only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import redis

Queue = Callable[[Any], object]
"""Adds commands to a pipeline (the argument); its return value is ignored."""
Parse = Callable[[list[Any]], None]
T = TypeVar("T")


class Reply(Generic[T]):
    """What one part of a round read, once the round ran."""

    def __init__(self, default: T) -> None:
        self.value: T = default


class Round:
    """Commands for one round trip. `transaction`: executed as one MULTI/EXEC (writes that go
    together); otherwise a plain pipeline (reads)."""

    def __init__(self, client: redis.Redis, *, transaction: bool = False) -> None:
        self._pipe = client.pipeline(transaction=transaction)
        self._groups: list[tuple[int, Parse | None]] = []
        self._once: set[str] = set()
        self._ran = False

    def add(self, queue: Queue, parse: Parse | None = None) -> None:
        """Queue a group of commands; `parse` gets their replies when the round runs."""
        assert not self._ran, "this round ran already"
        before = len(self._pipe)
        queue(self._pipe)
        self._groups.append((len(self._pipe) - before, parse))

    def once(self, name: str, queue: Queue) -> None:
        """Queue a group of commands (no reply wanted) unless a group of the same `name` is
        queued already: what every part of the round needs done once before its reads (the
        epoch's SET NX for many pairs' reads)."""
        if name not in self._once:
            self._once.add(name)
            self.add(queue)

    def __len__(self) -> int:
        return len(self._pipe)

    def run(self) -> None:
        """Send every queued command in one round trip (none when nothing is queued), then
        hand each group its replies."""
        assert not self._ran, "this round ran already"
        self._ran = True
        if not len(self._pipe):
            return
        replies = self._pipe.execute()
        at = 0
        for count, parse in self._groups:
            if parse is not None:
                parse(replies[at : at + count])
            at += count
