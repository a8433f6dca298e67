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

import hashlib
import logging
import secrets
from dataclasses import dataclass

from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.model.notification import (
    RESOLVED,
    Condition,
    EventKind,
    event_of,
    makes_event,
    recorded_conditions,
    rollout_conditions,
    source_condition,
)
from fleetsync.shared.store import Store

log = logging.getLogger(__name__)

FEED_BATCH = 20_000
APPS_DIGEST = "|apps"
"""Where the digest of every application's source and rollout conditions is kept: a look
that finds it unchanged swaps none of them."""
STATUS_BATCH = 1_000
SCAN_BATCH = 5_000
"""Pairs a look at every pair of the fleet reads per tick (about a second's work)."""
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
    last = store.last_conditions()
    apps, digest = _app_conditions(store, fleet, kinds, last.get(APPS_DIGEST))
    wanted = [
        c
        for c in [*conditions, *apps]
        if c.kind in kinds and last.get(c.field, RESOLVED) != c.token
    ]
    swaps = [(c.field, c.token) for c in wanted]
    previous = store.swap_conditions([*swaps, (APPS_DIGEST, digest)] if apps else swaps)
    previous = previous[: len(wanted)]
    deliveries: list[Delivery] = []
    events = []
    now = store.now()
    for condition, before in zip(wanted, previous, strict=True):
        if not makes_event(condition, before):
            continue
        event = event_of(condition, id=secrets.token_hex(8), at=now)
        to = [n.name for n in fleet.notifications if n.wants(event)]
        if not to:
            continue
        events.append(event)
        log.info("%s: %s %s; notifying %s", event.subject, event.kind, event.state, ", ".join(to))
        deliveries += [Delivery(notification=name, event=event.id) for name in to]
    store.put_events(events)
    return deliveries


def _app_conditions(
    store: Store, fleet: Fleet, kinds: set[EventKind], last_digest: str | None
) -> tuple[list[Condition], str]:
    """Each application's source and rollout conditions, when any of them changed since the
    last look (none otherwise), and their digest: kept beside the conditions, it tells."""
    apps: list[str] = sorted(fleet.applications)
    watch_source = EventKind.SOURCE_ERROR in kinds
    watch_rollouts = bool(kinds & {EventKind.ROLLOUT_PAUSED, EventKind.ROLLOUT_FINISHED})
    errors = store.source_errors(apps) if watch_source else {}
    rollouts = store.rollouts(apps) if watch_rollouts else {}
    conditions: list[Condition] = []
    for app, error in errors.items():
        revision = error.revision if error else ""
        conditions.append(source_condition(app, error.message if error else None, revision))
    for name, rollout in rollouts.items():
        conditions += rollout_conditions(name, rollout)
    digest = hashlib.sha256(
        "\n".join(f"{c.field}={c.token}" for c in conditions).encode()
    ).hexdigest()[:32]
    if last_digest == digest:
        return [], digest
    return conditions, digest


def _pair_conditions(store: Store, fleet: Fleet) -> list[Condition]:
    """The conditions of every pair written since the last look, and of the next slice of a
    look at every pair of the fleet: one starts when there is no position yet or the feed no
    longer holds it, and goes on `SCAN_BATCH` pairs a look, so the beat never stalls on it."""
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
    scan = store.notify_scan()
    if not complete:
        position, pairs, scan = store.feed_position(), set(), 0
    if scan is not None:
        every = sorted((app, cluster) for app, clusters in targets.items() for cluster in clusters)
        pairs.update(every[scan : scan + SCAN_BATCH])
        scan += SCAN_BATCH
        store.set_notify_scan(scan if scan < len(every) else None)
    assert position is not None
    declared = sorted((a, c) for a, c in pairs if c in targets.get(AppName(a), ()))
    conditions: list[Condition] = []
    for start in range(0, len(declared), STATUS_BATCH):
        for data in store.recorded_status_data(declared[start : start + STATUS_BATCH]):
            if data is not None:
                conditions += recorded_conditions(data)
    store.set_notify_position(position)
    return conditions
