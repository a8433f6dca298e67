"""Celery task events only when someone listens: a worker started without asking sends none;
once a listener turns them on (Flower does, with the `enable_events` broadcast it sends every
few seconds), it sends them. On a real redis-server, with a real worker and a real event
receiver on the events exchange."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender, Trigger, make_celery
from fleetsync.workers.app import app
from tests.support.celery_worker import configure_workers
from tests.support.waiting import wait_for


class Events:
    """Every task event seen on the events exchange, by task name's arguments."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, event: dict[str, Any]) -> None:
        if event.get("type", "").startswith("task-"):
            with self.lock:
                self.seen.append(event)

    def of_tasks(self) -> dict[str, list[str]]:
        """Event types by task id."""
        found: dict[str, list[str]] = {}
        with self.lock:
            for e in self.seen:
                found.setdefault(e["uuid"], []).append(e["type"])
        return found

    def succeeded(self, uuid: str) -> bool:
        with self.lock:
            return any(e["type"] == "task-succeeded" and e["uuid"] == uuid for e in self.seen)


@pytest.fixture
def events(redis_url: str) -> Iterator[Events]:
    found = Events()
    listener = make_celery(Settings(redis_url=redis_url))
    with listener.connection_for_read() as conn:
        receiver = listener.events.Receiver(conn, handlers={"*": found.add})
        thread = threading.Thread(
            target=lambda: receiver.capture(limit=None, timeout=None, wakeup=False), daemon=True
        )
        thread.start()
        yield found
        receiver.should_stop = True
        thread.join(timeout=10)


def test_workers_send_task_events_only_once_a_listener_turns_them_on(
    redis_url: str, tmp_path: Path, events: Events
) -> None:
    rt = configure_workers(redis_url, tmp_path / "cache")
    assert app.conf.worker_send_task_events is False
    assert app.conf.task_send_sent_event is False
    store = Store.connect(redis_url)
    sender = Sender(app, store)
    # A worker as `celery worker` starts one: with heartbeats (the test worker's default is
    # without, and then it has no event dispatcher for a listener to turn on).
    with start_worker(
        app,
        pool="threads",
        concurrency=1,
        perform_ping_check=False,
        queues=["apply"],
        loglevel="WARNING",
        shutdown_timeout=30,
        without_heartbeat=False,
    ):
        sender.reconcile("web", "quiet", reason=Trigger.MANUAL)
        wait_for(
            lambda: store.stats().get("task:reconcile:no_fleet", 0) == 1,
            timeout=30,
            what="the first reconcile",
        )
        replies = app.control.broadcast("enable_events", reply=True, timeout=5)  # as Flower does
        assert replies, "the worker answered the broadcast"
        heard = app.send_task(
            "fleetsync.apply.reconcile",
            kwargs={"app": "web", "cluster": "heard", "reason": "manual"},
            queue="apply",
        )
        wait_for(lambda: events.succeeded(heard.id), timeout=30, what="the second task's events")
        app.control.disable_events()
    assert events.of_tasks() == {heard.id: ["task-received", "task-started", "task-succeeded"]}, (
        "the first task ran before anyone listened: no event of it, nor of its sending"
    )
    assert rt.settings.task_events is False
