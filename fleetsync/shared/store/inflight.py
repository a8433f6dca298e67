"""In-flight records: which tasks are running, so that one interrupted by a dead worker runs again
within seconds instead of after the broker's visibility timeout.

A task records itself as it starts (`begin_task`: its Celery id, name and arguments) with a
deadline a few seconds ahead that the process's keeper renews while the task runs, and removes the
record when it ends. A record whose deadline passed belongs to a task that stopped without
ending: its process died, or it failed between its work and its bookkeeping (Redis went away).
The beat claims such records (`claim_abandoned`) and enqueues the task again; the claim also marks
the task's id as recovered, so the original message, when the broker redelivers it an hour later,
is dropped instead of running a second time (`begin_task` refuses it).

A message can also be lost before its task starts: the Redis transport moves a message it takes
off a queue into its `unacked` hash (with its delivery time in `unacked_index`), and a worker
killed between that and the task's start leaves it there until the visibility timeout, an hour,
with no in-flight record to tell. `claim_stranded` finds such messages of fleetsync's tasks:
delivered more than a short while ago, due (no countdown still running), not running and not
recovered yet; it marks each recovered (so the copy in `unacked`, if a live worker does hold it
and starts it later, is dropped) and returns it to be enqueued again.

Running twice at once is prevented by the leases the tasks take, not here: a recovered reconcile
whose predecessor still holds the pair's lease re-enqueues itself until the lease is free.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetsync.shared.store.base import StoreBase, text
from fleetsync.shared.store.rounds import Reply, Round

STRANDED_AFTER = 30.0
"""Seconds a fleetsync message may sit delivered but not started before it counts as stranded
(a live worker starts what it takes within moments, unless all its threads are busy: then the
message runs again elsewhere, and the late copy is dropped)."""
UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"
"""The Redis transport's own keys (kombu): delivered, unacknowledged messages."""
RECOVERED_SECONDS = 2 * 3600
"""How long a recovered task's id is remembered: longer than the broker's visibility timeout."""

_BEGIN = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""
_RETELL = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('SET', ARGV[3] .. id, '1', 'EX', tonumber(ARGV[4]))
  if body then
    table.insert(out, id)
    table.insert(out, body)
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class Abandoned:
    """A task that stopped without ending, to be enqueued again."""

    task_id: str
    name: str
    kwargs: Mapping[str, Any]
    owner: str


class InflightStore(StoreBase):
    def _inflight_keys(self) -> tuple[str, str]:
        return self.key("inflight"), self.key("inflight", "tasks")

    def begin_task(
        self, task_id: str, name: str, kwargs: Mapping[str, Any], *, owner: str, ttl: float
    ) -> bool:
        """Record a running task; False when its id was recovered already (this delivery is
        the broker's late duplicate of a task that ran again elsewhere: drop it)."""
        zkey, hkey = self._inflight_keys()
        body = json.dumps({"name": name, "kwargs": dict(kwargs), "owner": owner})
        recovered = self.key("recovered", task_id)
        deadline = self.now() + ttl
        return bool(self._r.eval(_BEGIN, 3, zkey, hkey, recovered, task_id, repr(deadline), body))

    def retell_task(
        self, task_id: str, name: str, kwargs: Mapping[str, Any], *, owner: str
    ) -> bool:
        """The running task's arguments are now `kwargs` (it runs for a stronger reason than
        its message's: the one its coalescing mark absorbed), so that, run again after it
        stopped without ending, it runs for that reason too; False when its record is gone."""
        _, hkey = self._inflight_keys()
        body = json.dumps({"name": name, "kwargs": dict(kwargs), "owner": owner})
        return bool(self._r.eval(_RETELL, 1, hkey, task_id, body))

    def queue_begin_task(
        self,
        rnd: Round,
        task_id: str,
        name: str,
        kwargs: Mapping[str, Any],
        *,
        owner: str,
        ttl: float,
    ) -> Reply[bool]:
        """`begin_task` as part of the round `rnd`."""
        zkey, hkey = self._inflight_keys()
        body = json.dumps({"name": name, "kwargs": dict(kwargs), "owner": owner})
        recovered = self.key("recovered", task_id)
        deadline = self.now() + ttl
        begun = Reply(False)

        def parse(replies: list[Any]) -> None:
            begun.value = bool(replies[0])

        rnd.add(
            lambda p: p.eval(_BEGIN, 3, zkey, hkey, recovered, task_id, repr(deadline), body),
            parse,
        )
        return begun

    def queue_end_task(self, rnd: Round, task_id: str) -> None:
        """`end_task` as part of the round `rnd`."""
        zkey, hkey = self._inflight_keys()
        rnd.add(lambda p: (p.zrem(zkey, task_id), p.hdel(hkey, task_id)))

    def renew_task(self, task_id: str, *, ttl: float) -> bool:
        """Push a running task's deadline out; False when its record is gone (claimed)."""
        zkey, _ = self._inflight_keys()
        return bool(self._r.zadd(zkey, {task_id: self.now() + ttl}, xx=True, ch=True))

    def end_task(self, task_id: str) -> None:
        zkey, hkey = self._inflight_keys()
        pipe = self._r.pipeline()
        pipe.zrem(zkey, task_id)
        pipe.hdel(hkey, task_id)
        pipe.execute()

    def running_tasks(self) -> list[str]:
        """Ids of the tasks recorded as running."""
        return [text(m) for m in self._r.hkeys(self._inflight_keys()[1])]

    def claim_abandoned(self, *, now: float | None = None, limit: int = 500) -> list[Abandoned]:
        """Take every record whose deadline passed (each claimed once, by one caller) and mark
        its task id recovered."""
        zkey, hkey = self._inflight_keys()
        at = self.now() if now is None else now
        recovered = self.key("recovered", "")
        flat = self._r.eval(_CLAIM, 2, zkey, hkey, repr(at), limit, recovered, RECOVERED_SECONDS)
        found = []
        for task_id, raw in zip(flat[::2], flat[1::2], strict=True):
            body = json.loads(text(raw))
            found.append(
                Abandoned(
                    task_id=text(task_id),
                    name=body["name"],
                    kwargs=body["kwargs"],
                    owner=body.get("owner", ""),
                )
            )
        return found

    def claim_stranded(
        self, *, now: float | None = None, after: float = STRANDED_AFTER, limit: int = 200
    ) -> list[Abandoned]:
        """Messages of fleetsync's tasks delivered to a worker that never started them (see the
        module docstring); each claimed once, its task id marked recovered."""
        at = self.now() if now is None else now
        delivered = self._r.zrangebyscore(UNACKED_INDEX, "-inf", at - after, start=0, num=limit)
        tags = [text(t) for t in delivered if isinstance(t, (bytes, str))]
        if not tags:
            return []
        running = set(self.running_tasks())
        found = []
        for raw in self._r.hmget(UNACKED, tags):
            task = _stranded(raw, at, after) if raw is not None else None
            if task is None or task.task_id in running:
                continue
            recovered = self.key("recovered", task.task_id)
            if self._r.set(recovered, "1", nx=True, ex=RECOVERED_SECONDS):
                found.append(task)
        return found

    def broker_messages(self, lists: list[str], *, limit: int) -> list[str] | None:
        """Every message the broker holds in `lists` (queues, as the transport names them) and in
        its `unacked` hash (taken by a live worker, not finished); None when there are more than
        `limit` (a backlog: reading them all costs too much), found by their lengths alone."""
        pipe = self._r.pipeline(transaction=False)
        for name in lists:
            pipe.llen(name)
        pipe.hlen(UNACKED)
        if sum(int(n) for n in pipe.execute()) > limit:
            return None
        pipe = self._r.pipeline(transaction=True)
        for name in lists:
            pipe.lrange(name, 0, limit)
        queued = pipe.execute()
        # Read after the queues: a message moves from a queue to `unacked` (never back but on
        # redelivery), so what left a queue since is found here.
        found = [text(m) for q in queued for m in q]
        found += [text(m) for m in self._r.hvals(UNACKED)]
        return found


def _stranded(raw: bytes | str, now: float, after: float) -> Abandoned | None:
    """The fleetsync task a transport's unacked entry holds, if it is due; None otherwise."""
    try:
        payload = json.loads(text(raw))[0]
        headers = payload.get("headers") or {}
        name = str(headers.get("task") or "")
        if not name.startswith("fleetsync."):
            return None
        eta = headers.get("eta")
        if eta and datetime.fromisoformat(str(eta)).timestamp() + after > now:
            return None  # its countdown runs (or just ended): the worker holds it on purpose
        body = payload["body"]
        if (payload.get("properties") or {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        _, kwargs, _ = json.loads(body)
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return Abandoned(
        task_id=str(headers.get("id") or ""),
        name=name,
        kwargs=dict(kwargs),
        owner="a worker that took it and stopped before starting it",
    )
