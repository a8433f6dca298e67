"""In-flight records against a real redis-server: a task whose record lapsed (its worker died, or
it failed before its bookkeeping) is enqueued again by the beat, once, and the broker's late
copy of it is dropped."""

from __future__ import annotations

import json
from pathlib import Path

from fleetsync.scheduler.tick import Ticker
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender, TaskName, make_celery


def _sender(redis_url: str) -> tuple[Store, Sender]:
    store = Store.connect(redis_url)
    return store, Sender(make_celery(Settings(redis_url=redis_url)), store)


def _reconcile_args(reason: Trigger = Trigger.MANUAL) -> dict[str, str]:
    return {"app": "web", "cluster": "c1", "reason": reason.value}


def test_a_lapsed_record_is_claimed_once_and_its_late_copy_refused(redis_url: str) -> None:
    store = Store.connect(redis_url)
    args = _reconcile_args()
    assert store.begin_task("t1", TaskName.RECONCILE.value, args, owner="host:1", ttl=0.0)
    assert store.begin_task("t2", TaskName.RECONCILE.value, args, owner="host:1", ttl=60.0)
    now = store.now() + 1
    claimed = store.claim_abandoned(now=now)
    assert [(t.task_id, t.name, dict(t.kwargs), t.owner) for t in claimed] == [
        ("t1", TaskName.RECONCILE.value, args, "host:1")
    ]
    assert store.claim_abandoned(now=now) == []
    assert store.running_tasks() == ["t2"]
    assert not store.begin_task("t1", TaskName.RECONCILE.value, args, owner="host:2", ttl=60.0)


def test_a_renewed_record_is_not_claimed_and_an_ended_one_is_gone(redis_url: str) -> None:
    store = Store.connect(redis_url)
    store.begin_task("t1", TaskName.POLL.value, {"repo": "r"}, owner="h", ttl=0.0)
    assert store.renew_task("t1", ttl=60.0)
    assert store.claim_abandoned(now=store.now() + 1) == []
    store.end_task("t1")
    assert store.running_tasks() == [] and not store.renew_task("t1", ttl=60.0)


def test_an_abandoned_reconcile_is_sent_again_past_the_mark_its_lost_message_left(
    redis_url: str,
) -> None:
    store, sender = _sender(redis_url)
    assert sender.reconcile("web", "c1", reason=Trigger.MANUAL, priority=Priority.MANUAL)
    store.client.delete("apply")  # the message went down with its worker
    assert not sender.reconcile("web", "c1", reason=Trigger.DRIFT)
    store.begin_task("t1", TaskName.RECONCILE.value, _reconcile_args(), owner="h", ttl=0.0)
    ticker = Ticker(store, sender, fleet_file=None)
    report = ticker.tick()
    assert report.recovered == [TaskName.RECONCILE.value]
    assert store.client.llen("apply") == 1, "sent again with the manual sync's priority"
    assert ticker.tick().recovered == []


def test_abandoned_tasks_that_are_not_coalesced_are_sent_again_too(redis_url: str) -> None:
    store, sender = _sender(redis_url)
    args = {"app": "web", "cluster": "c1"}
    store.begin_task("t1", TaskName.PRUNE_REMOVED.value, args, owner="h", ttl=0.0)
    Ticker(store, sender, fleet_file=Path("/nonexistent/fleet.yaml")).tick()
    assert store.queue_depths()["apply"] == 1


def test_a_message_a_killed_worker_took_but_never_started_is_claimed_once(
    redis_url: str,
) -> None:
    """What the Redis transport does when a worker takes a message (it moves it to its
    `unacked` hash) and the worker is killed before the task starts: no in-flight record, and
    the transport would give it back only after its visibility timeout (an hour)."""
    from fleetsync.shared.settings import Settings
    from fleetsync.shared.tasking import Sender, Trigger, make_celery

    store = Store.connect(redis_url)
    celery = make_celery(Settings(redis_url=redis_url))
    sender = Sender(celery, store)
    assert sender.reconcile("web", "c1", reason=Trigger.CHANGE)
    assert sender.reconcile("web", "c2", reason=Trigger.CHANGE, countdown=600)
    with celery.connection_for_read() as conn:  # kept open: closing it hands them back
        channel = conn.default_channel
        taken = [channel.basic_get("apply", no_ack=False) for _ in range(2)]
        assert all(m is not None for m in taken), "both messages taken, neither acknowledged"
        assert store.claim_stranded() == [], "taken moments ago: a live worker starts it soon"
        later = store.now() + 60
        [stranded] = store.claim_stranded(now=later)
        assert stranded.name == "fleetsync.apply.reconcile"
        assert dict(stranded.kwargs) == {"app": "web", "cluster": "c1", "reason": "change"}
        assert store.claim_stranded(now=later) == [], "claimed once"
        assert not store.begin_task(
            stranded.task_id, stranded.name, stranded.kwargs, owner="late", ttl=5
        ), "the late copy of a claimed message is dropped when it starts"


def test_a_message_no_queue_and_no_worker_holds_is_sent_again_once(redis_url: str) -> None:
    """A message the broker still holds (in its queue, or taken by a live worker) only waits;
    one it no longer holds (a worker took it off the queue and died before recording it, done
    here by hand the way the transport's BRPOP does) is sent again, once, as it was."""
    from fleetsync.shared.lost_messages import recover_lost

    store, sender = _sender(redis_url)
    assert sender.reconcile("web", "c1", reason=Trigger.MANUAL, priority=Priority.MANUAL)
    assert recover_lost(store, sender, after=-1, every=0) == [], "waiting in its queue"
    raw = store.client.rpop("apply")
    assert raw is not None
    store.client.hset("unacked", "tag-1", json.dumps([json.loads(raw), "", "apply"]))
    assert recover_lost(store, sender, after=-1, every=0) == [], "held by a live worker"
    assert recover_lost(store, sender, every=0) == [], "not overdue yet: LOST_AFTER not passed"
    store.client.hdel("unacked", "tag-1")
    [resent] = recover_lost(store, sender, after=-1, every=0)
    assert resent.name == TaskName.RECONCILE.value
    assert resent.kwargs == {"app": "web", "cluster": "c1", "reason": "manual"}
    assert recover_lost(store, sender, after=-1, every=0) == [], (
        "sent again once: it waits in its queue"
    )
    assert store.client.llen("apply") == 1, "at its priority, MANUAL"
    assert not sender.reconcile("web", "c1", reason=Trigger.DRIFT), "its new mark coalesces"
