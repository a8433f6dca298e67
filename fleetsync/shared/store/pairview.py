"""One reconcile's store: what it reads of its pair in one round trip, what it writes in another.

A reconcile used to ask Redis a dozen times (status, desired state, pin, suspension, inventory,
rollout, freeze, failures, then status, history, inventory, failures, counters one by one).
`open_pair` queues the pair's lease and every read a reconcile makes of its own pair on a
`Round` (the task's opening round, shared with the task's own bookkeeping); once that round
ran, `PairOpening.view` is a `PairView`: a `Store` that answers those reads from what the round
read and keeps the pair's writes (status, history, revision index, cells, inventory, failure
counter, counters, the lease's release) until `write_into` puts them on the closing round.

Anything else (another application's state, a bundle not cached yet) goes to Redis as usual, so
a reconcile that needs more stays correct, only slower. The lease is taken first in the round:
the reads after it see everything the previous holder wrote before it let go (its writes and its
release travel in one transaction).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetsync.shared.model.desired import DesiredState, Intents, Pin, Variant
from fleetsync.shared.model.inventory import Inventory
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.rollout import Held, Rollout
from fleetsync.shared.model.rollout_snapshot import RolloutSnapshot
from fleetsync.shared.planning.windows import Freeze
from fleetsync.shared.store.base import text
from fleetsync.shared.store.closing import ClosingWrites
from fleetsync.shared.store.combined import Store
from fleetsync.shared.store.intents import (
    IntentsView,
    intents_view_of,
    mirrored_value,
    new_epoch,
)
from fleetsync.shared.store.lease import RELEASE, Lease
from fleetsync.shared.store.rounds import Parse, Queue, Round
from fleetsync.shared.store.source import SourceError
from fleetsync.shared.store.watchers import covered_by_watch


@dataclass(slots=True)
class PairReads:
    """Everything one reconcile reads of its pair and application."""

    status: PairStatus | None = None
    desired: DesiredState | None = None
    pin: Pin | None = None
    suspended: bool = False
    inventory: Inventory | None = None
    source_error: SourceError | None = None
    freeze: Freeze | None = None
    rollout: Rollout | None = None
    reached: bool = False
    previous: Held | None = None
    known: bool = False
    failures: int = 0
    epoch: str = ""
    intents_stamp: str = ""
    """`app:<name>:intents_at` ("" when absent): when operators last changed the intents."""
    mirrored: str | None = None
    """What the pair's cluster mirror of the intents was last written with (`intents_mirrored`)."""
    variant: Variant | None = None
    """The cluster's own bundle, when the application has per-cluster variants."""
    rollout_raw: bytes | str | None = None
    """The rollout's record as stored (what the intents' mirror carries)."""
    rollout_reached: int = 0
    """How many clusters the rollout reached."""
    watch_state: Any = None
    """The cluster's drift detection as its live watcher wrote it (`covered_by_watch`)."""


def _loads(raw: bytes | str | None) -> Any:
    return json.loads(raw) if raw is not None else None


def queue_pair_reads(store: Store, rnd: Round, app: str, cluster: str) -> PairReads:
    """Queue the reads of `(app, cluster)` on `rnd`; the returned value is filled in when the
    round runs."""
    (reads,) = queue_pairs_reads(store, rnd, [app], cluster)
    return reads


def queue_pairs_reads(
    store: Store, rnd: Round, apps: Sequence[str], cluster: str
) -> list[PairReads]:
    """Queue the reads of each `(app, cluster)` on `rnd` (a batch's pairs, all on `cluster`);
    the returned values, in the order of `apps`, are filled in when the round runs. The
    cluster's intents' mirror notes are read in one HMGET for them all."""
    all_reads = [PairReads() for _ in apps]
    # The epoch set if missing, once for every pair the round reads (each MGET reads it).
    epoch = store.key("epoch")
    rnd.once(epoch, lambda p: p.set(epoch, new_epoch(), nx=True))
    mirrored_key = store.key("intents_mirrored", cluster)

    def queue(p: Any) -> None:
        for app in apps:
            # Every string in one MGET (a command costs more to send and parse than a key does).
            p.mget(
                [
                    store.key("pair", app, cluster, "status"),
                    store.key("app", app, "desired"),
                    store.key("app", app, "pin"),
                    store.key("app", app, "suspended"),
                    store.key("pair", app, cluster, "inventory"),
                    store.key("app", app, "source_error"),
                    store.key("freeze"),
                    store.key("rollout", app),
                    store.key("pair", app, cluster, "failures"),
                    epoch,
                    store.key("app", app, "intents_at"),
                ]
            )
            p.hexists(store.key("rollout", app, "progress"), cluster)
            p.hget(store.key("rollout", app, "previous"), cluster)
            p.hget(store.key("app", app, "variants"), cluster)
            p.hlen(store.key("rollout", app, "progress"))
        p.hmget(mirrored_key, list(apps))
        store.queue_watch_covers(p, cluster)  # the cluster's, once for every pair

    def parse(replies: list[Any]) -> None:
        mirrored_all, watch = replies[-2:]
        for n, reads in enumerate(all_reads):
            strings, reached, previous, variant, reached_count = replies[5 * n : 5 * n + 5]
            _parse(reads, strings, reached, previous, mirrored_all[n], variant, reached_count)
            reads.watch_state = watch

    rnd.add(queue, parse)
    return all_reads


def _parse(
    reads: PairReads,
    strings: list[Any],
    reached: Any,
    previous: Any,
    mirrored: Any,
    variant: Any,
    reached_count: Any,
) -> None:
    status, desired, pin, suspended, inventory, error, freeze = strings[:7]
    rollout, failures, epoch, stamp = strings[7:]
    reads.rollout_raw = rollout
    reads.rollout_reached = int(reached_count or 0)
    reads.variant = Variant.from_text(text(variant)) if variant is not None else None
    reads.epoch = text(epoch or b"")
    reads.intents_stamp = text(stamp) if stamp is not None else ""
    reads.mirrored = text(mirrored) if mirrored is not None else None
    reads.status = PairStatus.from_json(json.loads(status)) if status is not None else None
    reads.desired = DesiredState.from_json(json.loads(desired)) if desired else None
    reads.pin = Pin.from_json(json.loads(pin)) if pin is not None else None
    reads.suspended = suspended is not None
    reads.inventory = Inventory.from_mapping(json.loads(inventory)) if inventory else None
    reads.source_error = SourceError(**json.loads(error)) if error is not None else None
    reads.freeze = Freeze(**json.loads(freeze)) if freeze is not None else None
    reads.rollout = Rollout.from_json(json.loads(rollout)) if rollout is not None else None
    reads.reached = bool(reached)
    reads.previous = Held.from_text(text(previous)) if previous else None
    reads.known = previous is not None
    reads.failures = int(failures) if failures is not None else 0


class PairView(Store):
    """A store for one reconcile of `(app, cluster)` (see the module's docstring). Reads of the
    pair come from `reads`; the pair's writes wait for `write_into`."""

    def __init__(self, store: Store, app: str, cluster: str, reads: PairReads) -> None:
        super().__init__(store.client, prefix=store._prefix)
        self.address = store.address
        self.lease_seconds = store.lease_seconds
        self.pair = (app, cluster)
        self._reads = reads
        self._writes: list[Callable[[Any], object]] = []
        self._indexed = reads.status
        """The status the revision index was last written for (this view's own writes)."""

    def _mine(self, app: str) -> bool:
        """Whether the opening round answers this application's read."""
        return app == self.pair[0]

    def _ours(self, app: str, cluster: str) -> bool:
        """Whether the opening round answers this pair's read (this very pair only)."""
        return (app, cluster) == self.pair

    # Reads answered from the opening round

    def recorded_status(self, app: str, cluster: str) -> PairStatus | None:
        if self._ours(app, cluster):
            return self._reads.status
        return super().recorded_status(app, cluster)

    def desired(self, app: Any) -> DesiredState | None:
        return self._reads.desired if self._mine(app) else super().desired(app)

    def variant(self, app: Any, cluster: Any) -> Variant | None:
        if self._ours(app, cluster):
            return self._reads.variant
        return super().variant(app, cluster)

    def pin(self, app: str) -> Pin | None:
        return self._reads.pin if self._mine(app) else super().pin(app)

    def watch_covers(self, app: str, cluster: str) -> bool:
        if self._ours(app, cluster):
            return covered_by_watch(self._reads.watch_state, app)
        return super().watch_covers(app, cluster)

    def is_suspended(self, app: str) -> bool:
        return self._reads.suspended if self._mine(app) else super().is_suspended(app)

    def intents_view(self, app: str, cluster: str) -> IntentsView:
        if not self._ours(app, cluster):
            return super().intents_view(app, cluster)
        r = self._reads
        return intents_view_of(
            r.epoch,
            suspended=r.suspended,
            pin=r.pin,
            stamp=r.intents_stamp,
            mirrored=r.mirrored,
            rollout=r.rollout_raw,
            reached=r.rollout_reached,
        )

    def restore_intents(self, app: str, intents: Intents) -> bool:
        """Read back as the store does; the view then answers with what Redis holds now (these
        intents, or what another reconcile read back or an operator set since the opening)."""
        taken = super().restore_intents(app, intents)
        if not self._mine(app):
            return taken
        now = super().intents_view(app, self.pair[1])
        self._reads.pin = now.intents.pin
        self._reads.suspended = now.intents.suspended
        at = now.intents.at
        self._reads.intents_stamp = ("r:" if now.restored else "") + repr(at) if at else ""
        return taken

    def restore_rollout(
        self, app: str, snapshot: RolloutSnapshot, *, desired: DesiredState | None = None
    ) -> bool:
        """Read back as the store does; the view then answers with the rollout (and desired
        state) Redis holds."""
        taken = super().restore_rollout(app, snapshot, desired=desired)
        if not self._mine(app):
            return taken
        cluster = self.pair[1]
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self.key("rollout", app))
        pipe.hexists(self.key("rollout", app, "progress"), cluster)
        pipe.hget(self.key("rollout", app, "previous"), cluster)
        pipe.hlen(self.key("rollout", app, "progress"))
        pipe.get(self.key("app", app, "desired"))
        raw, reached, previous, count, state = pipe.execute()
        r = self._reads
        r.desired = DesiredState.from_json(json.loads(state)) if state else None
        r.rollout_raw = raw
        r.rollout = Rollout.from_json(json.loads(raw)) if raw is not None else None
        r.reached = bool(reached)
        r.previous = Held.from_text(text(previous)) if previous else None
        r.known = previous is not None
        r.rollout_reached = int(count or 0)
        return taken

    def note_mirrored(self, app: str, cluster: str, fingerprint: str, *, note: str = "") -> None:
        if not self._ours(app, cluster):
            super().note_mirrored(app, cluster, fingerprint, note=note)
            return
        value = mirrored_value(fingerprint, note)
        self._reads.mirrored = value
        key = self.key("intents_mirrored", cluster)
        self._writes.append(lambda p: p.hset(key, app, value))

    def forget_mirrored(self, cluster: str) -> None:
        if cluster != self.pair[1]:
            super().forget_mirrored(cluster)
            return
        # At once, not with the closing writes (one round trip more, for a new or wiped cluster
        # only): a reconcile of another application that claims the cluster meanwhile writes its
        # mirror and notes it, and a delete sent at this reconcile's end would drop that note.
        self._reads.mirrored = None
        super().forget_mirrored(cluster)

    def inventory(self, app: str, cluster: str) -> Inventory | None:
        if self._ours(app, cluster):
            return self._reads.inventory
        return super().inventory(app, cluster)

    def source_error(self, app: Any) -> SourceError | None:
        return self._reads.source_error if self._mine(app) else super().source_error(app)

    def freeze(self) -> Freeze | None:
        return self._reads.freeze

    def rollout_hold(
        self, app: str, cluster: str
    ) -> tuple[Rollout | None, bool, Held | None, bool]:
        if self._ours(app, cluster):
            r = self._reads
            return r.rollout, r.reached, r.previous, r.known
        return super().rollout_hold(app, cluster)

    # Writes kept for the closing round

    def record_status(self, status: PairStatus, *, history: bool = True) -> None:
        app, cluster = status.application, status.cluster
        if not self._ours(app, cluster):
            super().record_status(status, history=history)
            return
        body = json.dumps(status.to_json())
        indexed = self._indexed
        self._reads.status = status
        self._indexed = status

        def queue(pipe: Any) -> None:
            self._queue_status(pipe, status, body, previous=indexed, history=history)

        self._writes.append(queue)

    def set_inventory(self, app: str, cluster: str, inventory: Inventory) -> None:
        if not self._ours(app, cluster):
            super().set_inventory(app, cluster, inventory)
            return
        self._reads.inventory = inventory
        body = json.dumps(inventory.to_mapping())
        self._writes.append(lambda p: p.set(self._pair(app, cluster, "inventory"), body))

    def incr_pair_failures(self, app: str, cluster: str) -> int:
        if not self._ours(app, cluster):
            return super().incr_pair_failures(app, cluster)
        self._reads.failures += 1
        self._writes.append(lambda p: p.incr(self._pair(app, cluster, "failures")))
        return self._reads.failures

    def reset_pair_failures(self, app: str, cluster: str) -> None:
        if not self._ours(app, cluster):
            super().reset_pair_failures(app, cluster)
            return
        if not self._reads.failures:
            return  # none counted (the opening read none, under the lease): nothing to delete
        self._reads.failures = 0
        self._writes.append(lambda p: p.delete(self._pair(app, cluster, "failures")))

    def incr_stat(self, name: str, amount: int = 1) -> None:
        self._writes.append(lambda p: p.hincrby(self.key("stats"), name, amount))

    def release(self, lease: Lease) -> None:
        """Let go of the pair's lease in the closing round, after every write of the pair."""
        key = self._lease_key(lease.name)
        self._writes.append(lambda p: p.eval(RELEASE, 1, key, lease.token))

    def write_into(self, rnd: Round | ClosingWrites) -> None:
        """Put every write this view kept on `rnd`, in the order they were made (merged with
        other pairs' on a `ClosingWrites`)."""
        writes, self._writes = self._writes, []
        for queue in writes:
            rnd.add(queue)

    def commit(self) -> None:
        """Write what this view kept now, in one transaction (one round trip)."""
        rnd = Round(self.client, transaction=True)
        closing = ClosingWrites()
        self.write_into(closing)
        closing.write_into(rnd)
        rnd.run()


@dataclass(slots=True)
class PairOpening:
    """The pair's part of a task's opening round: its lease and its reads."""

    store: Store
    app: str
    cluster: str
    lease_name: str | None
    lease_seconds: float
    token: str
    reads: PairReads = field(default_factory=PairReads)
    taken: bool = False

    @property
    def lease(self) -> Lease | None:
        """The pair's lease, once the round ran; None when another holds it."""
        if self.lease_name is None or not self.taken:
            return None
        return Lease(name=self.lease_name, token=self.token, ttl=self.lease_seconds)

    def view(self) -> PairView:
        return PairView(self.store, self.app, self.cluster, self.reads)

    def cancel(self, rnd: Round) -> None:
        """Queue the lease's release on `rnd` (the body that would have used it did not run)."""
        lease = self.lease
        if lease is not None:
            key = self.store._lease_key(lease.name)
            rnd.add(lambda p: p.eval(RELEASE, 1, key, lease.token))


def open_pair(
    store: Store, rnd: Round, app: str, cluster: str, *, lease: str | None = None
) -> PairOpening:
    """Queue on `rnd` the pair's lease `lease` (taken first, no wait) and every read of the
    pair a reconcile makes."""
    (opening,) = open_pairs(store, rnd, [app], cluster, leases=[lease])
    return opening


def open_pairs(
    store: Store,
    rnd: Round,
    apps: Sequence[str],
    cluster: str,
    *,
    leases: Sequence[str | None],
) -> list[PairOpening]:
    """`open_pair` for each of `apps` on `cluster` (`leases`: each pair's lease, in the same
    order): every lease first, then every pair's reads (`queue_pairs_reads`)."""
    openings = [
        PairOpening(
            store=store,
            app=app,
            cluster=cluster,
            lease_name=lease,
            lease_seconds=store.lease_seconds,
            token=secrets.token_hex(8),
        )
        for app, lease in zip(apps, leases, strict=True)
    ]
    ms = int(store.lease_seconds * 1000)
    for opening in openings:
        if opening.lease_name is None:
            continue
        rnd.add(*_take_lease(store._lease_key(opening.lease_name), opening, ms))
    all_reads = queue_pairs_reads(store, rnd, apps, cluster)
    for opening, reads in zip(openings, all_reads, strict=True):
        opening.reads = reads
    return openings


def _take_lease(key: str, opening: PairOpening, ms: int) -> tuple[Queue, Parse]:
    """The lease's SET (no wait) and what notes whether it was taken."""

    def took(replies: list[Any]) -> None:
        opening.taken = bool(replies[0])

    return (lambda p: p.set(key, opening.token, nx=True, px=ms)), took


def read_pair(store: Store, app: str, cluster: str) -> PairView:
    """A view of the pair read now, in one round trip (no lease: the caller holds it)."""
    rnd = Round(store.client)
    opening = open_pair(store, rnd, app, cluster)
    rnd.run()
    return opening.view()
