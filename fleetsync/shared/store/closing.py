"""The closing writes of many reconciles put together: one command where Redis has one for many.

A per-cluster task (`workers/apply.py: reconcile_cluster`) ends with the writes of every pair it
reconciled, in one transaction. Most of a pair's writes are of keys of its own, made by the same
few commands: its status and inventory (SET), its place in the revision index and among its
application's pairs (SADD, SREM), its lease's release (a script). `ClosingWrites` takes the
pairs' writes as a pipeline would (`PairView.write_into`) and sends those as one MSET, one SADD
or SREM per set and one script releasing every lease; every other write (history, cells, the
change feed, counters) goes as it came, in order. Redis ends up holding what the same writes
one by one would leave: within one transaction, a string written twice keeps its last value
and a set member its last addition or removal, and no key is written both ways (a view writes a
key through one kind of command).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetsync.shared.store.lease import RELEASE
from fleetsync.shared.store.rounds import Parse, Queue, Round

RELEASE_MANY = """
local released = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    released = released + redis.call('DEL', key)
  end
end
return released
"""
"""`RELEASE` for many leases: each key deleted if it still holds its token."""


class ClosingWrites:
    """Pairs' closing writes, merged (see the module's docstring). Queue writes with `add`, as
    on a `Round`; `write_into` puts them on the round that sends them."""

    def __init__(self) -> None:
        self._strings: dict[str, Any] = {}
        self._members: dict[tuple[str, Any], bool] = {}
        """(set, member) -> added (True) or removed (False): the last write of each."""
        self._releases: dict[str, str] = {}
        """Lease key -> the token it is released for."""
        self._rest: list[Callable[[Any], object]] = []

    def add(self, queue: Queue, parse: Parse | None = None) -> None:
        """Queue a group of writes (`queue` is handed this object as its pipeline)."""
        assert parse is None, "closing writes read nothing back"
        queue(self)

    # The pipeline's commands that merge

    def set(self, key: str, value: Any, **options: Any) -> None:
        if options:  # NX, PX...: a command of its own
            self._later("set", key, value, **options)
            return
        self._strings[key] = value

    def sadd(self, key: str, *members: Any) -> None:
        for member in members:
            self._members[(key, member)] = True

    def srem(self, key: str, *members: Any) -> None:
        for member in members:
            self._members[(key, member)] = False

    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> None:
        if script == RELEASE and numkeys == 1:
            key, token = keys_and_args
            self._releases[key] = token
            return
        self._later("eval", script, numkeys, *keys_and_args)

    def __getattr__(self, command: str) -> Callable[..., None]:
        """Any other command: sent as it came, in the order it came."""
        if command.startswith("_"):
            raise AttributeError(command)
        return lambda *args, **kwargs: self._later(command, *args, **kwargs)

    def _later(self, command: str, *args: Any, **kwargs: Any) -> None:
        self._rest.append(lambda pipe: getattr(pipe, command)(*args, **kwargs))

    def write_into(self, rnd: Round) -> None:
        """Put every write on `rnd` (a transaction), merged; nothing queued, nothing put."""
        if self._strings or self._members or self._releases or self._rest:
            rnd.add(self._send)

    def _send(self, pipe: Any) -> None:
        if self._strings:
            pipe.mset(self._strings)
        added: dict[str, list[Any]] = {}
        removed: dict[str, list[Any]] = {}
        for (key, member), present in self._members.items():
            (added if present else removed).setdefault(key, []).append(member)
        for key, members in removed.items():
            pipe.srem(key, *members)
        for key, members in added.items():
            pipe.sadd(key, *members)
        for queue in self._rest:
            queue(pipe)
        if len(self._releases) == 1:
            ((key, token),) = self._releases.items()
            pipe.eval(RELEASE, 1, key, token)
        elif self._releases:
            keys = list(self._releases)
            pipe.eval(RELEASE_MANY, len(keys), *keys, *self._releases.values())
