"""What every task shares (`fleet_task`/`run_task`), on a real redis-server: the coalescing mark
cleared as it starts, no work before a fleet is published, its ids on every log line, an
in-flight record while it runs, and counters of how it ended."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fleetsync.shared.logcontext import ContextFilter, JsonFormatter, bind
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.settings import Settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Job, Sender, TaskName, make_celery, run_task

log = logging.getLogger("fleetsync.test.task")


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store
    sender: Sender

    def fleet_read(self, fleet: Fleet) -> None:
        """Nothing here is sized by the fleet."""


@pytest.fixture
def rt(redis_url: str) -> Runtime:
    settings = Settings(redis_url=redis_url)
    store = Store.connect(redis_url)
    return Runtime(settings, store, Sender(make_celery(settings), store))


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def _publish(store: Store) -> None:
    store.publish_fleet(Fleet(), "digest-1")


RECONCILE = {"app": "web", "cluster": "c1", "reason": Trigger.DRIFT.value}


def test_without_a_published_fleet_a_task_does_nothing_but_lets_triggers_queue_again(
    rt: Runtime,
) -> None:
    assert rt.sender.reconcile("web", "c1", reason=Trigger.DRIFT)
    ran: list[Job] = []
    run_task(rt, TaskName.RECONCILE, "t1", lambda job, **_: ran.append(job), RECONCILE)
    assert ran == []
    assert rt.store.stats() == {"task:reconcile:no_fleet": 1}
    assert rt.sender.reconcile("web", "c1", reason=Trigger.DRIFT), "the mark was cleared"


def test_a_task_runs_with_the_fleet_in_flight_and_every_line_carries_its_ids(
    rt: Runtime, lines: io.StringIO
) -> None:
    _publish(rt.store)
    seen: dict[str, Any] = {}

    def body(job: Job, app: str, cluster: str, reason: str) -> None:
        seen["fleet"] = job.fleet
        seen["running"] = job.store.running_tasks()
        log.info("applying")
        bind(revision="main@sha1:abc")
        log.warning("applied")

    run_task(rt, TaskName.RECONCILE, "t1", body, RECONCILE)
    assert seen == {"fleet": Fleet(), "running": ["t1"]}
    assert rt.store.running_tasks() == []
    assert rt.store.stats() == {"task:reconcile:done": 1}
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    ours = [e for e in logged if e["logger"] == log.name]
    assert [(e["message"], e["application"], e["cluster"]) for e in ours] == [
        ("applying", "web", "c1"),
        ("applied", "web", "c1"),
    ]
    assert "revision" not in ours[0] and ours[1]["revision"] == "main@sha1:abc"
    log.info("after the task")
    after = json.loads(lines.getvalue().splitlines()[-1])
    assert "application" not in after and "revision" not in after


def test_a_task_that_fails_leaves_its_record_to_lapse_so_the_beat_runs_it_again(
    rt: Runtime, lines: io.StringIO
) -> None:
    _publish(rt.store)
    rt.store.lease_seconds = 0.5

    def body(job: Job, repo: str, force: bool) -> None:
        raise RuntimeError("Redis went away between the cluster write and the status")

    with pytest.raises(RuntimeError):
        run_task(rt, TaskName.FETCH, "t1", body, {"repo": "platform", "force": False})
    assert rt.store.stats() == {"task:fetch:failed": 1}
    failure = json.loads(lines.getvalue().splitlines()[-1])
    assert failure["repository"] == "platform" and failure["error"].startswith("RuntimeError")
    claimed = rt.store.claim_abandoned(now=rt.store.now() + 1)
    assert [(t.task_id, dict(t.kwargs)) for t in claimed] == [
        ("t1", {"repo": "platform", "force": False})
    ]


def test_the_late_copy_of_a_task_run_again_elsewhere_is_dropped(rt: Runtime) -> None:
    _publish(rt.store)
    rt.store.begin_task("t1", TaskName.POLL.value, {"repo": "r"}, owner="dead:1", ttl=0.0)
    assert len(rt.store.claim_abandoned(now=rt.store.now() + 1)) == 1
    ran: list[str] = []
    run_task(rt, TaskName.POLL, "t1", lambda job, **_: ran.append("ran"), {"repo": "r"})
    assert ran == [] and rt.store.stats() == {"task:poll:duplicate": 1}
