"""Log lines that say what they are about: every line a task logs carries its application,
cluster, repository and revision (where they apply), bound once per task.

The context lives in a `ContextVar`, so each worker thread (and each task on it) has its own:
`log_context(...)` binds fields for a block, `bind(...)` adds one inside it (a reconcile binds
the revision once it knows it). `configure_logging` installs one handler on the root logger that
prints every record with its context, as text (`... [application=web cluster=c1]`) or, with
`--log-format json` / `FLEETSYNC_LOG_FORMAT=json`, as one JSON object a line for log pipelines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType

FIELDS = ("application", "cluster", "repository", "revision")
FORMATS = ("text", "json")
FORMAT_ENV = "FLEETSYNC_LOG_FORMAT"

_OUTSIDE: Mapping[str, str] = MappingProxyType({})
"""The context outside any `log_context` block: `bind` leaves it alone."""
_context: ContextVar[Mapping[str, str]] = ContextVar("fleetsync_log_context", default=_OUTSIDE)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Bind `fields` (those not None) to every log line of the block, on top of the current
    context; the previous context comes back when the block ends."""
    token = _context.set(dict(_merged(fields)))
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: object) -> None:
    """Add `fields` to the current context until the enclosing `log_context` ends; outside
    one (a use case called by a command or a test) it does nothing, so nothing leaks into
    later log lines of the thread."""
    if _context.get() is not _OUTSIDE:
        _context.set(_merged(fields))


def current() -> Mapping[str, str]:
    return _context.get()


def _merged(fields: Mapping[str, object]) -> Mapping[str, str]:
    return {**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}}


class ContextFilter(logging.Filter):
    """Copies the current context onto each record (`record.context`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.context = dict(_context.get())
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context: Mapping[str, str] = getattr(record, "context", None) or {}
        if not context:
            return line
        fields = " ".join(f"{k}={context[k]}" for k in _ordered(context))
        first, newline, rest = line.partition("\n")
        return f"{first} [{fields}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context fields, and the
    exception (class, message and traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context: Mapping[str, str] = getattr(record, "context", None) or {}
        entry.update({k: context[k] for k in _ordered(context)})
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _ordered(context: Mapping[str, str]) -> list[str]:
    return [k for k in FIELDS if k in context] + sorted(k for k in context if k not in FIELDS)


_HANDLER_NAME = "fleetsync"


def configure_logging(fmt: str | None = None, *, level: int | str = logging.INFO) -> None:
    """Log every record to stderr with its context, as `fmt` ("text" or "json"; default:
    FLEETSYNC_LOG_FORMAT, else text). Calling it again replaces the handler it installed."""
    chosen = (fmt or os.environ.get(FORMAT_ENV) or "text").lower()
    if chosen not in FORMATS:
        raise ValueError(f"{FORMAT_ENV}={chosen!r}: expected one of {', '.join(FORMATS)}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
