"""Log lines with their task's context, as text or JSON."""

from __future__ import annotations

import json
import logging

import pytest

from fleetsync.shared.logcontext import (
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    current,
    log_context,
)


def _record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc is not None else None
    record = logging.LogRecord("fleetsync.x", logging.WARNING, __file__, 1, message, (), info)
    ContextFilter().filter(record)
    return record


def test_text_lines_end_with_the_context_in_a_fixed_order() -> None:
    with log_context(cluster="c1", application="web", repository=None):
        line = TextFormatter().format(_record("reconcile: Synced"))
    assert line.endswith("fleetsync.x: reconcile: Synced [application=web cluster=c1]")
    assert "[" not in TextFormatter().format(_record("no context"))


def test_json_lines_carry_the_context_and_the_error() -> None:
    with log_context(application="web"), log_context(cluster="c1"):
        assert dict(current()) == {"application": "web", "cluster": "c1"}
        entry = json.loads(JsonFormatter().format(_record("failed", ValueError("bad"))))
    assert dict(current()) == {}
    assert {k: entry[k] for k in ("level", "logger", "message", "application", "cluster")} == {
        "level": "WARNING",
        "logger": "fleetsync.x",
        "message": "failed",
        "application": "web",
        "cluster": "c1",
    }
    assert entry["error"] == "ValueError: bad"


def test_configure_logging_installs_one_handler_and_refuses_an_unknown_format() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        configure_logging("json")
        configure_logging("text")
        ours = [h for h in root.handlers if h.get_name() == "fleetsync"]
        assert len(ours) == 1 and isinstance(ours[0].formatter, TextFormatter)
        with pytest.raises(ValueError, match="FLEETSYNC_LOG_FORMAT='xml'"):
            configure_logging("xml")
    finally:
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
        root.setLevel(level)


def test_celery_processes_log_as_fleetsync_does_in_the_format_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from celery.signals import setup_logging

    import fleetsync.shared.tasking  # noqa: F401  (connects the handler)
    from fleetsync.shared.logcontext import JsonFormatter

    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    monkeypatch.setenv("FLEETSYNC_LOG_FORMAT", "json")
    try:
        setup_logging.send(sender=None, loglevel="WARNING", logfile=None, format="", colorize=False)
        [ours] = [h for h in root.handlers if h.get_name() == "fleetsync"]
        assert isinstance(ours.formatter, JsonFormatter) and root.level == logging.WARNING
    finally:
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
        root.setLevel(level)


def test_the_command_line_takes_the_log_format_for_itself_and_the_processes_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from click.testing import CliRunner

    from fleetsync.scheduler.cli import main

    monkeypatch.delenv("FLEETSYNC_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        result = CliRunner().invoke(main, ["--log-format", "json", "validate", "--help"])
        assert result.exit_code == 0, result.output
        assert os.environ["FLEETSYNC_LOG_FORMAT"] == "json"
        refused = CliRunner().invoke(main, ["--log-format", "xml", "validate", "--help"])
        assert refused.exit_code == 2 and "'xml' is not one of 'text', 'json'" in refused.output
    finally:
        os.environ.pop("FLEETSYNC_LOG_FORMAT", None)
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
        root.setLevel(level)


def test_binding_outside_a_task_s_context_leaks_nothing_into_later_lines() -> None:
    from fleetsync.shared.logcontext import bind

    bind(revision="main@sha1:abc")
    assert dict(current()) == {}
    with log_context():
        bind(revision="main@sha1:abc")
        assert dict(current()) == {"revision": "main@sha1:abc"}
    assert dict(current()) == {}
