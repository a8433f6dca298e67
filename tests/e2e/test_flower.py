"""Flower, shipped and wired: it sees fleetsync's workers and tasks (readable names, ids-only
arguments) through the same Redis, and its own basic authentication holds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Priority, Sender, make_celery
from tests.support.redis_server import free_port
from tests.support.waiting import wait_for

AUTH = ("operator", "flower-test-password")


def _spawn(args: list[str], redis_url: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fleetsync.workers.app", *args],
        env={**os.environ, "FLEETSYNC_REDIS_URL": redis_url, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def flower(redis_url: str) -> Iterator[str]:
    port = free_port()
    worker = _spawn(
        [
            "worker",
            "-Q",
            "poll",
            "-n",
            "flower-test@%h",
            "-P",
            "solo",
            "-E",
            "--loglevel",
            "WARNING",
        ],
        redis_url,
    )
    flower = _spawn(
        ["flower", f"--port={port}", "--address=127.0.0.1"],
        redis_url,
        FLOWER_BASIC_AUTH=":".join(AUTH),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for proc in (flower, worker):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _get(url: str, **kwargs: Any) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5, **kwargs)
    except httpx.HTTPError:
        return None


def test_flower_reports_the_worker_and_its_tasks_with_ids_only(flower: str, redis_url: str) -> None:
    def workers() -> dict[str, Any] | None:
        answer = _get(f"{flower}/api/workers?refresh=1", auth=AUTH)
        return answer.json() if answer is not None and answer.status_code == 200 else None

    seen = wait_for(
        lambda: {k: v for k, v in (workers() or {}).items() if "flower-test" in k},
        timeout=60,
        interval=1,
        what="Flower listing the worker",
    )
    assert len(seen) == 1

    store = Store.connect(redis_url)
    sender = Sender(make_celery(Settings(redis_url=redis_url)), store)
    assert sender.poll("platform", force=True, priority=Priority.MANUAL)

    def polled() -> dict[str, Any] | None:
        answer = _get(f"{flower}/api/tasks", auth=AUTH)
        tasks = answer.json() if answer is not None and answer.status_code == 200 else {}
        return next((t for t in tasks.values() if t.get("name") == "fleetsync.poll.poll"), None)

    task = wait_for(polled, timeout=60, interval=1, what="Flower showing the poll task")
    assert "'repo': 'platform'" in task["kwargs"] and "'force': True" in task["kwargs"]
    assert task["args"] in ("()", "[]")


def test_flower_refuses_requests_without_its_credentials(flower: str) -> None:
    answer = wait_for(
        lambda: _get(f"{flower}/api/workers"), timeout=60, interval=0.5, what="Flower answering"
    )
    assert answer.status_code == 401
    wrong = _get(f"{flower}/api/workers", auth=("operator", "wrong"))
    assert wrong is not None and wrong.status_code == 401


def test_a_task_detail_says_what_happened_and_the_broker_page_lists_every_queue(
    flower: str, redis_url: str
) -> None:
    store = Store.connect(redis_url)
    sender = Sender(make_celery(Settings(redis_url=redis_url)), store)
    wait_for(
        lambda: _get(f"{flower}/api/workers?refresh=1", auth=AUTH),
        timeout=60,
        interval=1,
        what="Flower answering",
    )
    assert sender.poll("platform", priority=Priority.MANUAL)

    def finished() -> dict[str, Any] | None:
        answer = _get(f"{flower}/api/tasks", auth=AUTH)
        tasks = answer.json() if answer is not None and answer.status_code == 200 else {}
        return next(
            (
                t
                for t in tasks.values()
                if t.get("name") == "fleetsync.poll.poll" and t.get("state") == "SUCCESS"
            ),
            None,
        )

    task = wait_for(finished, timeout=60, interval=1, what="the poll task finishing in Flower")
    # No fleet is published here, so the poll skips and says why (a task's outcome, not None).
    assert "'result': 'skipped'" in task["result"]
    assert "no fleet declaration published" in task["result"]
    broker = _get(f"{flower}/broker", auth=AUTH)
    assert broker is not None and broker.status_code == 200
    for queue in ("poll", "fetch", "apply", "notify"):
        assert f">{queue}<" in broker.text.replace(" ", ""), queue
