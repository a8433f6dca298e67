"""How `bench.stages` reads a task's times from Celery's log lines."""

from __future__ import annotations

from bench.stages import Line, TaskName, tasks, webhook_stages

POLL = TaskName.POLL.value

RECONCILE = "fleetsync.reconcile"


def line(at: float, message: str) -> Line:
    return Line(process="apply", at=at, logger="celery", message=message)


def test_a_task_starts_at_its_succeeded_line_less_its_runtime() -> None:
    (task,) = tasks(
        [
            line(10.000, f"Task {RECONCILE}[t1] received"),
            line(10.500, f"Task {RECONCILE}[t1] succeeded in 0.2s: None"),
        ]
    )
    assert (task.received, task.started, task.ended) == (10.0, 10.3, 10.5)


def test_a_computed_start_never_falls_before_the_task_was_received() -> None:
    # Millisecond times and Celery's runtime on another clock: the start computed from them can
    # land a fraction of a millisecond before the "received" line.
    (task,) = tasks(
        [
            line(10.000, f"Task {RECONCILE}[t1] received"),
            line(10.0502, f"Task {RECONCILE}[t1] succeeded in 0.0504s: None"),
        ]
    )
    assert task.received == 10.0 and task.started == 10.0


def test_the_webhook_mark_is_no_later_than_its_poll_was_received() -> None:
    # The API logs its line after queueing the poll; a busy machine can run the poll first.
    lines = [
        Line(process="fetch", at=10.170, logger="celery", message=f"Task {POLL}[p1] received"),
        Line(process="api", at=10.185, logger="api", message="webhook: push to platform"),
        Line(
            process="fetch",
            at=10.300,
            logger="celery",
            message=f"Task {POLL}[p1] succeeded in 0.1s: None",
        ),
    ]
    marks = webhook_stages(lines, pushed=10.0, synced={})
    assert marks["webhook"] == 170.0 and marks["poll_start"] == 200.0
    assert list(marks.values()) == sorted(marks.values())
