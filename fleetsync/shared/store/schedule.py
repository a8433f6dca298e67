"""Due-sets: when each repository is next polled and each (application, cluster) next checked.

A due-set is a sorted set of member -> next due time plus a hash of member -> interval. Claiming
due members and pushing them to their next time is one Lua script, so two tickers never claim the
same member twice and 10,000 repositories cost no more beat entries than one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from fleetsync.shared.store.base import StoreBase, text
from fleetsync.shared.store.rounds import Reply, Round

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local now = tonumber(ARGV[1])
local jitter = tonumber(ARGV[3])
math.randomseed(tonumber(ARGV[4]))
for i, member in ipairs(due) do
  local interval = tonumber(redis.call('HGET', KEYS[2], member) or '60')
  local spread = interval * jitter * (2 * math.random() - 1)
  redis.call('ZADD', KEYS[1], now + interval + spread, member)
end
return due
"""


_MARK = """
local cur = redis.call('GET', KEYS[1])
local due = tonumber(ARGV[3])
if cur then
  local p, queued_due, strength = string.match(cur, '^(%d+) ([%d.]+) ?(%d*)')
  if p == nil then p = cur; queued_due = '0'; strength = '' end
  local sooner = due < tonumber(queued_due) - tonumber(ARGV[4])
  local lost = tonumber(queued_due) + tonumber(ARGV[6]) < tonumber(ARGV[5])
  if tonumber(ARGV[1]) >= tonumber(p) and not sooner and not lost then
    if strength == '' or ARGV[9] == '' or tonumber(ARGV[9]) <= tonumber(strength) then
      return 0
    end
    local upgraded = p .. ' ' .. queued_due .. ' ' .. ARGV[9] .. ' ' .. ARGV[10]
    redis.call('SET', KEYS[1], upgraded, 'KEEPTTL')
    local message = redis.call('HGET', KEYS[3], ARGV[8])
    if message then
      local m = cjson.decode(message)
      m['kwargs']['reason'] = ARGV[10]
      redis.call('HSET', KEYS[3], ARGV[8], cjson.encode(m))
    end
    return 2
  end
end
local mark = ARGV[1] .. ' ' .. ARGV[3]
if ARGV[9] ~= '' then mark = mark .. ' ' .. ARGV[9] .. ' ' .. ARGV[10] end
redis.call('SET', KEYS[1], mark, 'EX', ARGV[2])
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[8])
  redis.call('HSET', KEYS[3], ARGV[8], ARGV[7])
end
return 1
"""
"""Claim (kind, ident) unless a message of the same or better priority that runs no later than
`slack` after this one is queued, unless that message is believed lost (due more than
`QUEUED_LOST` ago and not started): KEYS[1] the mark, KEYS[2] and KEYS[3] the kind's index of
queued messages (ident -> due time, ident -> message); ARGV priority, ttl, due time, slack, now,
QUEUED_LOST, the message ("": not indexed), ident, the reason's strength and the reason ("" and
"": a message without a reason). The mark holds `<priority> <due time>[ <strength> <reason>]`.
A trigger the queued message absorbs whose reason is stronger than the queued one's (a change
after a drift check) becomes the mark's reason, and the reason of the kept message: the task
reads it as it starts (`queue_take_queued`) and runs for it. 1: claimed; 0: absorbed; 2:
absorbed, its reason taken over by the queued message."""

_TAKE_LOST = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
return 1
"""


class DueSet(StrEnum):
    POLL = "poll"
    DRIFT = "drift"


QUEUED_LOST = 300.0
"""Seconds after its due time a queued message that has not started is believed lost: its sender
was killed between marking it and sending it, or a worker was killed while the message travelled
from Redis to it (the one loss nobody records). A new trigger is then sent instead of absorbed;
a message that was only slow to start (a long queue) runs twice, which the pair's lease makes
harmless."""

LOST_AFTER = 10.0
"""Seconds after its due time a queued message that has not started, and that is neither in its
queue nor held by a worker (the broker's `unacked`), is known lost: a worker took it off the
queue and died before recording it. It is sent again at once (`Sender`'s `recover_lost`)."""

QUEUED_SLACK = 5.0
"""Seconds by which a queued message may run after a new trigger would and still absorb it (a
task that found its lease held waits 2 to 5 s: it absorbs the triggers of its pair)."""


class ScheduleStore(StoreBase):
    def _due_keys(self, which: DueSet) -> tuple[str, str]:
        return self.key("due", which), self.key("due", which, "interval")

    def plan_due(
        self, which: DueSet, intervals: Mapping[str, float], *, first_after_interval: bool = False
    ) -> None:
        """Make the due-set hold exactly `intervals`' members, removed ones dropped, intervals
        kept current. New members are due now, spread over a few seconds so a fresh fleet does
        not poll everything at once; with `first_after_interval`, after one interval (spread
        over its second half), for work the new member gets anyway (a new pair's first
        reconcile comes from the fan-out, so its first drift check can wait)."""
        zkey, hkey = self._due_keys(which)
        known = {text(m): float(i) for m, i in self._r.hgetall(hkey).items()}
        gone = set(known) - set(intervals)
        now = self.now()
        # A shortened interval takes effect now: a member due later than one new interval
        # from now is brought forward (a longer one waits for the current due time).
        shrunk = [m for m, i in intervals.items() if m in known and i < known[m]]
        if shrunk:
            read = self._r.pipeline()
            for m in shrunk:
                read.zscore(zkey, m)
            sooner = {
                m: now + random.uniform(0, intervals[m])
                for m, due in zip(shrunk, read.execute(), strict=True)
                if due is not None and due > now + intervals[m]
            }
            if sooner:
                self._r.zadd(zkey, sooner, xx=True)
        pipe = self._r.pipeline()
        if gone:
            pipe.zrem(zkey, *gone)
            pipe.hdel(hkey, *gone)
            pipe.hdel(self.key("due", which, "checked"), *gone)
        if intervals:
            pipe.hset(hkey, mapping={m: str(i) for m, i in intervals.items()})
            new = {
                m: now
                + (
                    random.uniform(i / 2, i)
                    if first_after_interval
                    else random.uniform(0, min(i, 5.0))
                )
                for m, i in intervals.items()
                if m not in known
            }
            if new:
                pipe.zadd(zkey, new, nx=True)
        pipe.execute()

    def claim_due(
        self, which: DueSet, *, now: float | None = None, limit: int = 1000, jitter: float = 0.1
    ) -> list[str]:
        """Members due at `now`, each pushed to its next due time (interval ± jitter)."""
        zkey, hkey = self._due_keys(which)
        at = self.now() if now is None else now
        due = self._r.eval(
            _CLAIM,
            2,
            zkey,
            hkey,
            repr(at),
            str(limit),
            str(jitter),
            str(random.randrange(1 << 30)),
        )
        return [text(m) for m in due]

    def take_checks(self, which: DueSet, waits: Mapping[str, float]) -> list[str]:
        """Of the members just claimed, those whose check runs now. A member with a wait (its
        drift live watches cover it: its backstop interval, in seconds) is checked when its
        last check ran at least that long ago, or never, or was sent while no watch covered it
        (that check's status may have been written current for `driftInterval` only: this one
        is written current for the backstop). A member without (0) is checked at every claim.
        Each check let run is recorded as run now (`last_check`), with whether it was covered."""
        if not waits:
            return []
        members = list(waits)
        key = self.key("due", which, "checked")
        now = self.now()
        taken = []
        for m, raw in zip(members, self._r.hmget(key, members), strict=True):
            at, _, covered = text(raw).partition(" ") if raw is not None else ("", "", "")
            if not at or (waits[m] > 0 and not covered) or now - float(at) >= waits[m]:
                taken.append(m)
        if taken:
            stamp = f"{now:.3f}"
            self._r.hset(key, mapping={m: f"{stamp} w" if waits[m] > 0 else stamp for m in taken})
        return taken

    def last_check(self, which: DueSet, member: str) -> float | None:
        """When `take_checks` last let `member`'s check run (None: never)."""
        at = self._r.hget(self.key("due", which, "checked"), member)
        return float(text(at).partition(" ")[0]) if at is not None else None

    def defer(self, which: DueSet, member: str, delay: float) -> None:
        """Push a member's next due time to `delay` seconds from now (backoff after errors)."""
        zkey, _ = self._due_keys(which)
        self._r.zadd(zkey, {member: self.now() + delay}, xx=True)

    def due_at(self, which: DueSet, member: str) -> float | None:
        zkey, _ = self._due_keys(which)
        score = self._r.zscore(zkey, member)
        return float(score) if score is not None else None

    def mark_queued(
        self,
        kind: str,
        ident: str,
        priority: int,
        ttl: float = 3600,
        *,
        countdown: float = 0.0,
        slack: float = QUEUED_SLACK,
        message: str = "",
        reason: tuple[int, str] | None = None,
    ) -> bool:
        """Claim the right to enqueue (kind, ident); False when one is already queued with the
        same or better priority (lower is better) that runs no more than `slack` seconds after
        this one would (a trigger `countdown` seconds from now), so duplicate triggers coalesce.
        A message waiting out a long countdown (a retry's backoff) never absorbs a trigger
        that wants to run sooner, such as a drift check: both are sent, the earlier runs.
        `message` (the task's name, arguments and priority, as JSON) is kept with the mark,
        so that a message lost on its way to a worker can be sent again (`overdue_queued`).
        `reason`: (strength, token) of a reconcile's trigger; an absorbed trigger with a stronger
        reason hands it to the queued message (see `_MARK`)."""
        now = self.now()
        due = f"{now + countdown:.3f}"
        keys = (self.key("queued", kind, ident), *self._queued_index(kind))
        args = (priority, int(ttl), due, slack, f"{now:.3f}", QUEUED_LOST, message, ident)
        return bool(self._r.eval(_MARK, 3, *keys, *args, *_reason_args(reason)) == 1)

    def mark_queued_many(
        self,
        kind: str,
        idents: list[str],
        priority: int,
        ttl: float = 3600,
        *,
        messages: list[str] | None = None,
        reason: tuple[int, str] | None = None,
    ) -> list[bool]:
        """`mark_queued` of many idents (triggers due now) in one round trip."""
        now = f"{self.now():.3f}"
        pipe = self._r.pipeline(transaction=False)
        index = self._queued_index(kind)
        for i, ident in enumerate(idents):
            key = self.key("queued", kind, ident)
            message = messages[i] if messages is not None else ""
            args = (priority, int(ttl), now, QUEUED_SLACK, now, QUEUED_LOST, message, ident)
            pipe.eval(_MARK, 3, key, *index, *args, *_reason_args(reason))
        return [r == 1 for r in pipe.execute()] if idents else []

    def _queued_index(self, kind: str) -> tuple[str, str]:
        return self.key("queued_index", kind, "due"), self.key("queued_index", kind, "messages")

    def queue_take_queued(self, rnd: Round, kind: str, ident: str) -> Reply[str | None]:
        """`clear_queued` as part of the round `rnd`; the reason the mark held as it was
        cleared (None: none), which may be stronger than the message's own (see `_MARK`)."""
        (reply,) = self.queue_take_queued_many(rnd, kind, [ident])
        return reply

    def queue_take_queued_many(
        self, rnd: Round, kind: str, idents: Sequence[str]
    ) -> list[Reply[str | None]]:
        """`queue_take_queued` of many marks of one queue (a batch's pairs): each mark taken,
        then their entries in the queue's index removed, one command for them all."""
        zkey, hkey = self._queued_index(kind)
        replies: list[Reply[str | None]] = [Reply(None) for _ in idents]
        if not idents:
            return replies

        def parse(values: list[object]) -> None:
            for reply, mark in zip(replies, values, strict=False):
                parts = text(mark).split(" ") if isinstance(mark, bytes | str) else []
                reply.value = parts[3] if len(parts) == 4 else None

        def queue(p: Any) -> None:
            for ident in idents:
                p.getdel(self.key("queued", kind, ident))
            p.zrem(zkey, *idents)
            p.hdel(hkey, *idents)

        rnd.add(queue, parse)
        return replies

    def clear_queued(self, kind: str, ident: str) -> None:
        """Called by a task as it starts: a trigger from now on enqueues a new run."""
        zkey, hkey = self._queued_index(kind)
        pipe = self._r.pipeline(transaction=False)
        pipe.delete(self.key("queued", kind, ident))
        pipe.zrem(zkey, ident)
        pipe.hdel(hkey, ident)
        pipe.execute()

    def overdue_queued(
        self, kind: str, *, after: float = LOST_AFTER, limit: int = 200
    ) -> list[tuple[str, str, str]]:
        """(ident, mark, message) of messages of `kind` due more than `after` seconds ago that
        have not started (their mark still stands)."""
        zkey, hkey = self._queued_index(kind)
        idents = [
            text(i)  # type: ignore[arg-type]
            for i in self._r.zrangebyscore(
                zkey, "-inf", repr(self.now() - after), start=0, num=limit
            )
        ]
        if not idents:
            return []
        pipe = self._r.pipeline(transaction=False)
        for ident in idents:
            pipe.get(self.key("queued", kind, ident))
        pipe.hmget(hkey, idents)
        *marks, messages = pipe.execute()
        found, gone = [], []
        for ident, mark, message in zip(idents, marks, messages, strict=True):
            if mark is None or message is None:
                gone.append(ident)  # started, or its mark expired
            else:
                found.append((ident, text(mark), text(message)))
        if gone:
            pipe = self._r.pipeline(transaction=False)
            pipe.zrem(zkey, *gone)
            pipe.hdel(hkey, *gone)
            pipe.execute()
        return found

    def once_per(self, name: str, seconds: float) -> bool:
        """True for the first caller (any process) in each `seconds`-long stretch."""
        key = self.key("once", name)
        return bool(self._r.set(key, "1", nx=True, px=max(1, int(seconds * 1000))))

    def take_lost(self, kind: str, ident: str, mark: str) -> bool:
        """Drop the mark of a message known lost, if it is still `mark` (nobody started it or
        sent another since); whether it was taken (the caller sends it again)."""
        keys = (self.key("queued", kind, ident), *self._queued_index(kind))
        return bool(self._r.eval(_TAKE_LOST, 3, *keys, mark, ident))


def _reason_args(reason: tuple[int, str] | None) -> tuple[str, str]:
    return (str(reason[0]), reason[1]) if reason is not None else ("", "")
