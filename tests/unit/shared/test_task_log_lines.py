"""A worker's log: each task's own summary line, not Celery's two lines per task as well."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from celery.signals import setup_logging

from fleetsync.shared.tasking import CELERY_TASK_LOGGERS


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in CELERY_TASK_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in levels.items():
        logging.getLogger(name).setLevel(was)


def _as_celery_starts_a_worker(loglevel: int | str) -> None:
    setup_logging.send(sender=None, loglevel=loglevel, logfile=None, format="", colorize=False)


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize("loglevel", [logging.INFO, "INFO", "WARNING"])
def test_celery_s_received_and_succeeded_lines_are_not_logged_at_info(loglevel: int | str) -> None:
    _as_celery_starts_a_worker(loglevel)

    for name in CELERY_TASK_LOGGERS:
        celery_log = logging.getLogger(name)
        assert not celery_log.isEnabledFor(logging.INFO), name
        assert celery_log.isEnabledFor(logging.WARNING), f"{name}: its failures still show"
    assert logging.getLogger("fleetsync.workers.apply").isEnabledFor(logging.WARNING)


@pytest.mark.usefixtures("restored_logging")
def test_a_worker_at_debug_logs_celery_s_task_lines_too() -> None:
    _as_celery_starts_a_worker(logging.INFO)
    _as_celery_starts_a_worker("DEBUG")

    for name in CELERY_TASK_LOGGERS:
        assert logging.getLogger(name).isEnabledFor(logging.INFO), name
