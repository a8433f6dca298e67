"""Messages lost on their way to a worker, sent again within seconds.

kombu's Redis transport takes a message off its queue (BRPOP) and only then, in a second command
from the worker, records it as delivered (`unacked`). A worker killed between the two (or while
Redis hands it a message it blocked for) takes the message with it: no queue, no `unacked`, no
in-flight record knows it. Its coalescing mark stays, though, and absorbs every trigger of the
same task (a pair's drift checks included) for `QUEUED_LOST`: the pair would wait minutes.

Every mark keeps its message (`Sender`'s `queued_message`). The beat looks (every `LOOK_EVERY`
seconds) at marks whose message is overdue by `LOST_AFTER` seconds and not started: a message
the broker still holds (in a queue, or taken by a live worker, `unacked`) is only waiting; one it
does not hold is lost, and is sent again as it was (its mark dropped first, only if nobody sent
or started it meanwhile). Reading the broker's queues costs their length: with more than
`SCAN_LIMIT` messages waiting (a backlog) the look is left to a later one, and `QUEUED_LOST`
still bounds the wait.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any

from fleetsync.shared.store import Store
from fleetsync.shared.store.schedule import LOST_AFTER
from fleetsync.shared.tasking import Priority, Queue, Sender, TaskName

log = logging.getLogger(__name__)

SCAN_LIMIT = 1000
"""Messages of one queue (all its priorities, and every worker's `unacked`) read at most per
look; past it, only their lengths are read."""
LOOK_EVERY = 5.0
"""Seconds between two looks, whichever beat makes them (a backlog under `SCAN_LIMIT` is read
whole at each look)."""
COALESCED = (Queue.APPLY, Queue.POLL, Queue.FETCH)
"""The queues whose tasks leave coalescing marks."""


@dataclass(frozen=True, slots=True)
class Resent:
    name: str
    kwargs: dict[str, Any]


def recover_lost(
    store: Store, sender: Sender, *, after: float = LOST_AFTER, every: float = LOOK_EVERY
) -> list[Resent]:
    """Send again every message overdue by `after` seconds that the broker no longer holds;
    the beat calls this on every tick, and it looks once per `every` seconds (one sorted-set
    read per queue when nothing is overdue)."""
    resent: list[Resent] = []
    if every > 0 and not store.once_per("lost-messages", every):
        return resent
    for queue in COALESCED:
        overdue = store.overdue_queued(queue.value, after=after)
        if not overdue:
            continue
        lists = [queue.value, *(f"{queue.value}:{p}" for p in range(1, 10))]
        held = store.broker_messages(lists, limit=SCAN_LIMIT)
        if held is None:
            continue
        waiting = set().union(*(_idents(raw) for raw in held))
        for ident, mark, message in overdue:
            if ident in waiting or not store.take_lost(queue.value, ident, mark):
                continue
            body = json.loads(message)
            name, kwargs = TaskName(body["name"]), dict(body["kwargs"])
            log.warning(
                "%s %s: its message was lost on its way to a worker (none holds it, it never "
                "started); sent again",
                name.value,
                kwargs,
            )
            sender.send_again(name, kwargs, Priority(int(body["priority"])))
            resent.append(Resent(name.value, kwargs))
    return resent


def _idents(raw: str) -> set[str]:
    """The coalescing idents (`Sender._ident`) a message the broker holds stands for: a
    queued payload, or an `unacked` entry ([payload, exchange, routing key])."""
    try:
        data = json.loads(raw)
        payload = data[0] if isinstance(data, list) else data
        name = TaskName(str((payload.get("headers") or {}).get("task") or ""))
        body = payload["body"]
        if (payload.get("properties") or {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        _, kwargs, _ = json.loads(body)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return set()
    if name is TaskName.RECONCILE_CLUSTER:
        cluster = str(kwargs.get("cluster"))
        return {Sender._ident(TaskName.RECONCILE, str(a), cluster) for a in kwargs.get("apps", [])}
    ids = name.ids(kwargs)
    return {Sender._ident(name, *ids)} if ids is not None else set()
