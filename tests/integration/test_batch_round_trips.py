"""A per-cluster task's round trips to Redis, merged across its pairs, leave Redis as each pair's
own would, against a real redis-server: the opening (every pair's lease, coalescing mark and
reads; the epoch set once, the cluster's mirror notes in one HMGET, the queue's index in one
ZREM and one HDEL) and the closing (`store/closing.py`: every pair's status, inventory,
history, revision index, cell, failure counter and lease)."""

from __future__ import annotations

from typing import Any

import redis

from fleetsync.shared.model.inventory import Inventory, InventoryEntry
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.resource import ResourceKey
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import ClosingWrites, PairView, Round, Store, open_pair, open_pairs

REV1 = Revision(ref="main", sha="1" * 40)
REV2 = Revision(ref="main", sha="2" * 40)
REV3 = Revision(ref="main", sha="3" * 40)
APPS = [f"app-{i}" for i in range(6)]
CLUSTER = "east"


def _status(app: str, revision: Revision, message: str = "1 configured") -> PairStatus:
    return PairStatus(
        application=app,
        cluster=CLUSTER,
        sync=SyncState.SYNCED,
        health=Health.HEALTHY,
        revision=revision,
        at=1000.0,
        message=message,
    )


def _inventory(app: str, revision: Revision) -> Inventory:
    key = ResourceKey(group="", kind="ConfigMap", namespace="default", name=app)
    return Inventory.from_entries([InventoryEntry(key, f"v{revision.sha[0]}")])


def _first_sync(store: Store) -> None:
    """Every pair at REV1, written one pair at a time (a reconcile of its own)."""
    for app in APPS:
        rnd = Round(store.client)
        opening = open_pair(store, rnd, app, CLUSTER)
        rnd.run()
        view = opening.view()
        view.record_status(_status(app, REV1))
        view.set_inventory(app, CLUSTER, _inventory(app, REV1))
        view.commit()


def _second_sync(store: Store, *, merged: bool) -> tuple[int, list[PairView]]:
    """A batch's reconcile of every pair at REV2 (the last one goes on to REV3 within it, the
    second counts a failure, the third's lease is taken over before the writes): the closing
    round's length."""
    opening_round = Round(store.client)
    openings = [
        open_pair(store, opening_round, app, CLUSTER, lease=f"reconcile:{app}:{CLUSTER}")
        for app in APPS
    ]
    opening_round.run()
    closing_round = Round(store.client, transaction=True)
    closing = ClosingWrites()
    views = []
    for n, opening in enumerate(openings):
        lease = opening.lease
        assert lease is not None
        view = opening.view()
        views.append(view)
        app = opening.app
        view.record_status(_status(app, REV2))
        if n == len(APPS) - 1:
            view.record_status(_status(app, REV3, "and on"))
        if n == 1:
            view.incr_pair_failures(app, CLUSTER)
        view.set_inventory(app, CLUSTER, _inventory(app, REV2))
        view.release(lease)
        if n == 2:  # another holder now (this one's lease lapsed): its lease stays
            store.client.set(store._lease_key(lease.name), "another")
        view.write_into(closing if merged else closing_round)
    if merged:
        closing.write_into(closing_round)
    length = len(closing_round)
    closing_round.run()
    return length, views


def _contents(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """Everything under `prefix`, by key without it (a stream's entries without their ids)."""
    found: dict[str, Any] = {}
    for raw in client.scan_iter(match=f"{prefix}:*"):
        key = raw.decode()
        kind = client.type(key).decode()
        value: Any
        if kind == "string":
            value = client.get(key)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "stream":
            value = [fields for _, fields in client.xrange(key)]
        else:
            value = kind
        found[key.removeprefix(prefix)] = value
    return found


def test_merged_closing_writes_leave_every_pair_as_the_writes_one_by_one(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    one, merged = Store.connect(redis_url, prefix="one"), Store.connect(redis_url, prefix="merged")
    for store in (one, merged):
        _first_sync(store)
    sent_one, _ = _second_sync(one, merged=False)
    sent_merged, _ = _second_sync(merged, merged=True)

    before, after = _contents(client, "one"), _contents(client, "merged")
    epoch = ":epoch"  # each store's own random epoch
    assert before.pop(epoch) and after.pop(epoch)
    assert after == before
    # What the writes did, read through the store (any pair's write lost would show here).
    for app in APPS:
        status = merged.recorded_status(app, CLUSTER)
        want = REV3 if app == APPS[-1] else REV2
        assert status is not None and status.revision == want, app
        assert merged.inventory(app, CLUSTER) == _inventory(app, REV2), app
        assert [h.revision for h in merged.history(app, CLUSTER)] == (
            [REV3, REV2, REV1] if app == APPS[-1] else [REV2, REV1]
        ), app
        held = merged.lease_holder(f"reconcile:{app}:{CLUSTER}")
        assert held is (app == APPS[2]), f"{app}: only the lease another holds now stays"
    assert {s.application for s in merged.pairs_at_revision(str(REV2))} == set(APPS[:-1])
    assert [s.application for s in merged.pairs_at_revision(str(REV3))] == [APPS[-1]]
    assert merged.pairs_at_revision(str(REV1)) == []
    assert set(merged.cells(APPS)) == set(APPS) and all(merged.cells(APPS).values())
    assert client.get(f"merged:pair:{APPS[1]}:{CLUSTER}:failures") == b"1"
    # The statuses and inventories in one MSET, the revision index in one SREM and one SADD
    # per revision, one script for the leases: 4 commands a pair fewer, at least.
    assert sent_merged <= sent_one - 4 * len(APPS), (sent_merged, sent_one)


def test_a_round_reading_many_pairs_sets_the_epoch_once_and_each_pair_reads_it(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    rnd = Round(store.client)
    openings = [open_pair(store, rnd, app, CLUSTER, lease=f"l:{app}") for app in APPS]
    # Per pair: the lease's SET, the MGET, 5 hash reads and the cluster's watch state; the
    # epoch's SET NX once.
    assert len(rnd) == 1 + 8 * len(APPS)
    rnd.run()
    epochs = {o.view().intents_view(o.app, CLUSTER).epoch for o in openings}
    assert len(epochs) == 1 and epochs != {""}


def test_a_batch_opens_its_pairs_as_each_pair_alone_would_with_fewer_commands(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    _first_sync(store)
    store.client.hset(store.key("intents_mirrored", CLUSTER), mapping={APPS[1]: "fp1|r"})
    store.client.hset(store.key("intents_mirrored", CLUSTER), mapping={APPS[4]: "fp4|r"})
    store.client.set(store._lease_key(f"l:{APPS[3]}"), "another")
    store.client.hset(store.key("rollout", APPS[2], "progress"), CLUSTER, "{}")
    alone = []
    for app in APPS:
        rnd = Round(store.client)
        alone.append(open_pair(store, rnd, app, CLUSTER))
        rnd.run()
    rnd = Round(store.client)
    together = open_pairs(store, rnd, APPS, CLUSTER, leases=[f"l:{app}" for app in APPS])
    # Per pair: the lease's SET, the MGET, 4 hash reads; the epoch's SET NX, the cluster's
    # mirror notes (one HMGET) and its watch state once.
    assert len(rnd) == 3 + 6 * len(APPS)
    rnd.run()
    for one, batch in zip(alone, together, strict=True):
        assert batch.reads == one.reads, one.app
        assert batch.reads.status is not None and batch.reads.status.revision == REV1
        assert (batch.lease is None) is (one.app == APPS[3]), one.app
    assert [o.reads.mirrored for o in together] == [None, "fp1|r", None, None, "fp4|r", None]
    assert [o.reads.reached for o in together] == [False, False, True, False, False, False]


def test_a_batch_takes_its_pairs_coalescing_marks_and_their_index_entries_at_once(
    redis_url: str,
) -> None:
    store = Store.connect(redis_url)
    idents = ["reconcile:a:east", "reconcile:b:east", "reconcile:c:east"]
    marked = store.mark_queued_many("apply", idents, 5, messages=["{}"] * 3, reason=(3, "manual"))
    assert marked == [True] * 3
    rnd = Round(store.client)
    taken = store.queue_take_queued_many(rnd, "apply", idents[:2])
    assert len(rnd) == 2 + 2, "a GETDEL per mark, one ZREM and one HDEL of the index"
    rnd.run()
    assert [r.value for r in taken] == ["manual", "manual"]
    due, messages = store._queued_index("apply")
    assert store.client.zrange(due, 0, -1) == [idents[2].encode()]
    assert list(store.client.hgetall(messages)) == [idents[2].encode()]
    assert store.client.exists(store.key("queued", "apply", idents[2]))
    assert not store.client.exists(store.key("queued", "apply", idents[0]))
