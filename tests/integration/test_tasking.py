"""Sending tasks through the real Redis broker: routing by queue, coalescing, priorities."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

import pytest

from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender, TaskName, Trigger, make_celery
from tests.support.celery_worker import configure_workers, running_worker
from tests.support.redis_server import free_port
from tests.support.waiting import wait_for


def _sender(redis_url: str) -> tuple[Store, Sender]:
    store = Store.connect(redis_url)
    return store, Sender(make_celery(Settings(redis_url=redis_url)), store)


def test_tasks_land_in_their_queue_and_duplicates_coalesce(redis_url: str) -> None:
    store, sender = _sender(redis_url)
    assert sender.poll("platform")
    assert not sender.poll("platform")
    assert sender.reconcile("web", "c1", reason=Trigger.CHANGE)
    assert sender.reconcile("web", "c2", reason=Trigger.CHANGE)
    assert not sender.reconcile("web", "c1", reason=Trigger.DRIFT)
    sender.notify("ops", "e1")
    assert store.queue_depths() == {"poll": 1, "fetch": 0, "apply": 2, "notify": 1}


def test_a_forced_refresh_is_not_swallowed_by_a_queued_periodic_poll(redis_url: str) -> None:
    store, sender = _sender(redis_url)
    assert sender.poll("platform", priority=Priority.PERIODIC)
    assert sender.poll("platform", force=True, priority=Priority.MANUAL)
    assert not sender.poll("platform", force=True, priority=Priority.MANUAL)
    assert store.queue_depths()["poll"] == 2


def test_manual_triggers_wait_in_the_first_priority_list(redis_url: str) -> None:
    store, sender = _sender(redis_url)
    sender.reconcile("web", "c1", reason=Trigger.DRIFT, priority=Priority.PERIODIC)
    sender.reconcile("api", "c1", reason=Trigger.MANUAL, priority=Priority.MANUAL)
    assert store.client.llen("apply") == 1
    assert store.client.llen(f"apply:{int(Priority.PERIODIC)}") == 1


def test_a_task_that_starts_lets_the_next_trigger_queue_again(redis_url: str) -> None:
    _, sender = _sender(redis_url)
    assert sender.reconcile("web", "c1", reason=Trigger.CHANGE)
    assert not sender.reconcile("web", "c1", reason=Trigger.CHANGE)
    sender.started(TaskName.RECONCILE, "web", "c1")
    assert sender.reconcile("web", "c1", reason=Trigger.CHANGE)


def test_a_sender_warmed_before_its_broker_answers_says_so_and_leaves_it_to_the_first_send(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    sender = Sender(make_celery(Settings(redis_url=url)), Store.connect(url))

    with caplog.at_level(logging.WARNING, logger="fleetsync.shared.tasking"):
        sender.warm()

    assert any("not reachable yet" in r.getMessage() for r in caplog.records)


def test_a_started_worker_keeps_its_startup_objects_out_of_the_collectors_scans(
    redis_url: str, tmp_path: Path
) -> None:
    configure_workers(redis_url, tmp_path / "cache")
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with running_worker(("apply",), concurrency=1):
        wait_for(lambda: gc.get_freeze_count() > 0, what="the worker's modules frozen as it starts")
    gc.unfreeze()
