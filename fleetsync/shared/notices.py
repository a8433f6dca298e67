"""Which notification messages are due: the beat's look, every tick, at what changed.

It reads the pairs written since its last look from the store's `changes` feed (every pair of
the fleet when it has no position yet or the feed was trimmed past it), each application's
source error and rollout, and turns them into conditions (`model/notification.py`). Each
condition is swapped into `notify:last` atomically: only one that differs from the last one
seen makes an event, so a failure retried ten times is one message, and its recovery the next.
An event is stored once (`notify:event:<id>`) and what comes back is one delivery per
notification that wants it; the beat enqueues them (the delivery task, `workers/notify.py`).
Nothing here waits for a receiver.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.model.notification import (
    Condition,
    EventKind,
    event_of,
    makes_event,
    pair_conditions,
    rollout_conditions,
    source_condition,
)
from fleetsync.shared.store import Store

log = logging.getLogger(__name__)

FEED_BATCH = 20_000
STATUS_BATCH = 1_000
"""Statuses read per round trip (the first look reads every pair of the fleet)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to send: the notification's name and the stored event's id."""

    notification: str
    event: str


def due_notifications(store: Store, fleet: Fleet) -> list[Delivery]:
    """The deliveries that the changes since the last look call for (none without
    `notifications` in the declaration)."""
    if not fleet.notifications:
        return []
    kinds = {kind for n in fleet.notifications for kind in n.events}
    conditions: list[Condition] = []
    if any(kind.per_pair for kind in kinds):
        conditions += _pair_conditions(store, fleet)
    apps: list[str] = sorted(fleet.applications)
    if EventKind.SOURCE_ERROR in kinds and apps:
        states = store.app_states(apps)
        for app in apps:
            state = states[app]
            error = state.source_error
            revision = error.revision if error else ""
            if not revision and state.desired is not None:
                revision = str(state.desired.revision)
            conditions.append(source_condition(app, error.message if error else None, revision))
    if kinds & {EventKind.ROLLOUT_PAUSED, EventKind.ROLLOUT_FINISHED} and apps:
        for name, rollout in store.rollouts(apps).items():
            conditions += rollout_conditions(name, rollout)
    wanted = [c for c in conditions if c.kind in kinds]
    previous = store.swap_conditions([(c.field, c.token) for c in wanted])
    deliveries: list[Delivery] = []
    now = store.now()
    for condition, before in zip(wanted, previous, strict=True):
        if not makes_event(condition, before):
            continue
        event = event_of(condition, id=secrets.token_hex(8), at=now)
        to = [n.name for n in fleet.notifications if n.wants(event)]
        if not to:
            continue
        store.put_event(event)
        store.incr_stat("notify_events")
        log.info("%s: %s %s; notifying %s", event.subject, event.kind, event.state, ", ".join(to))
        deliveries += [Delivery(notification=name, event=event.id) for name in to]
    return deliveries


def _pair_conditions(store: Store, fleet: Fleet) -> list[Condition]:
    """The conditions of every pair written since the last look (of every pair of the fleet
    the first time, or when the feed no longer holds where the last look stopped)."""
    targets = {app: set(fleet.targets_of(app)) for app in fleet.applications}
    position = store.notify_position()
    pairs: set[tuple[str, str]] = set()
    complete = position is not None
    while position is not None:
        read = store.read_feed(position, limit=FEED_BATCH)
        complete = read.complete
        if not complete:
            break
        pairs.update(read.pairs)
        moved = read.position != position
        position = read.position
        if not moved or len(read.pairs) < FEED_BATCH:
            break
    if not complete:
        position = store.feed_position()
        pairs = {(app, cluster) for app, clusters in targets.items() for cluster in clusters}
    assert position is not None
    declared = sorted((a, c) for a, c in pairs if c in targets.get(AppName(a), ()))
    conditions: list[Condition] = []
    for start in range(0, len(declared), STATUS_BATCH):
        for status in store.statuses_of(declared[start : start + STATUS_BATCH]):
            if status is not None:
                conditions += pair_conditions(status)
    store.set_notify_position(position)
    return conditions
