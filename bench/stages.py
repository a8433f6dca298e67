"""Where a webhook's time goes, from the processes' own log lines.

A rig started with `task_lines` logs every line as JSON (its time in milliseconds) and its
workers at DEBUG, so Celery writes each task's "received" line and its "succeeded in <runtime>"
line (the task's start is that line's time less its runtime). From the lines written after a
webhook, `webhook_stages` picks the webhook's own (the API's line, written once the poll is
queued), the poll, the fetch (and its "rendered" line) and each reconcile of the commit's
clusters, and returns each step's time in milliseconds from the push:

    push ─► webhook handled (poll queued) ─► poll starts ─► poll ends (fetch queued)
         ─► fetch starts ─► rendered ─► first reconcile received ─► first reconcile starts
         ─► first status written ─► last status written

(The fetch queues the reconciles before its last line: its end, `fetch_end`, is a mark of its
own, not a step. A webhook's poll that finds the repository moved fetches in the same task: its
"poll:" line ends the poll and starts the fetch, and no queue lies between them.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fleetsync.shared.tasking import TaskName

_RECEIVED = re.compile(r"^Task (?P<name>[\w.]+)\[(?P<id>[^\]]+)\] received")
_REQUEST = re.compile(r'^https?://[^ ]+ "(?P<verb>[A-Z]+) (?P<path>[^ ?]+)[^"]*" (?P<code>\d+)')
_SUCCEEDED = re.compile(r"^Task (?P<name>[\w.]+)\[(?P<id>[^\]]+)\] succeeded in (?P<run>[\d.e-]+)s")

STEPS = (
    ("webhook", "push to the webhook's poll queued (API)"),
    ("poll_start", "poll queued to the poll's start (queue, fetch worker)"),
    ("poll_end", "the poll (ls-remote)"),
    ("fetch_start", "fetch queued to the fetch's start (queue, fetch worker)"),
    ("rendered", "fetch start to rendered (git fetch, checkout, render)"),
    (
        "apply_received",
        "rendered to the first reconcile received (desired state written, "
        "reconciles queued, the queue)",
    ),
    ("apply_start", "first reconcile received to its start (the worker's pool)"),
    ("first_synced", "the first reconcile (its start to its status)"),
    ("last_synced", "the first status to the last"),
)
"""Each step, in order, and what happens during it: the step's time is from the previous
step's mark to its own."""


@dataclass(frozen=True, slots=True)
class Line:
    process: str
    at: float
    logger: str
    message: str


def read_lines(log: Path, offset: int = 0) -> list[Line]:
    """The JSON log lines of `log` (the supervisor's, `<process> | <json>`) from byte `offset`;
    lines that are not JSON (a process's banner) are left out."""
    found = []
    with log.open("rb") as f:
        f.seek(offset)
        for raw in f:
            process, sep, rest = raw.decode(errors="replace").partition(" | ")
            if not sep or not rest.startswith("{"):
                continue
            try:
                entry = json.loads(rest)
            except json.JSONDecodeError:
                continue
            at = datetime.fromisoformat(entry["time"]).timestamp()
            found.append(Line(process.strip(), at, entry["logger"], entry["message"]))
    return found


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    received: float | None
    started: float | None
    ended: float | None


def tasks(lines: Iterable[Line]) -> list[Task]:
    """Every task whose lines are there, in the order they were received."""
    received: dict[str, tuple[str, float]] = {}
    ended: dict[str, tuple[str, float, float]] = {}
    for line in lines:
        if m := _RECEIVED.match(line.message):
            received.setdefault(m["id"], (m["name"], line.at))
        elif m := _SUCCEEDED.match(line.message):
            ended[m["id"]] = (m["name"], line.at - float(m["run"]), line.at)
    found = []
    for tid in {**received, **ended}:
        name = received[tid][0] if tid in received else ended[tid][0]
        got = received[tid][1] if tid in received else None
        start_end = ended.get(tid)
        started = start_end[1] if start_end else None
        if started is not None and got is not None:
            # The start is computed (the line's millisecond time less the runtime Celery
            # measured on another clock): it can fall a fraction of a millisecond before the
            # "received" line it follows.
            started = max(started, got)
        found.append(
            Task(
                name=name,
                received=got,
                started=started,
                ended=start_end[2] if start_end else None,
            )
        )
    return sorted(found, key=lambda t: t.received or t.started or 0.0)


def webhook_stages(
    lines: list[Line], pushed: float, synced: Mapping[Any, float]
) -> dict[str, float]:
    """Each mark of `STEPS` in milliseconds after `pushed`, for the webhook whose lines are
    `lines` (written after it) and whose pairs turned Synced at `synced`'s times; a mark whose
    line is missing is left out."""
    marks: dict[str, float] = {}
    webhook = next((x for x in lines if x.process == "api" and "webhook" in x.message), None)
    if webhook is not None:
        marks["webhook"] = webhook.at
    done = tasks(lines)
    poll = next((t for t in done if t.name == TaskName.POLL), None)
    fetch = next((t for t in done if t.name == TaskName.FETCH), None)
    if poll is not None:
        _put(marks, poll_start=poll.started, poll_end=poll.ended)
        if "webhook" in marks and poll.received is not None:
            # The API logs its line after it queued the poll, and a busy machine may run the
            # poll before that line: the poll was queued no later than it was received.
            marks["webhook"] = min(marks["webhook"], poll.received)
    if fetch is None and poll is not None and poll.started is not None:
        # A webhook's poll fetches in its own task: the fetch starts at the poll's own line.
        polled = next(
            (
                x.at
                for x in lines
                if x.process == "fetch" and x.message.startswith("poll: ") and x.at >= poll.started
            ),
            None,
        )
        if polled is not None:
            fetch = Task(name=TaskName.FETCH, received=polled, started=polled, ended=poll.ended)
            _put(marks, poll_end=polled)
    if fetch is not None:
        _put(marks, fetch_start=fetch.started, fetch_end=fetch.ended)
        rendered = next(
            (
                x.at
                for x in lines
                if x.process == "fetch"
                and " rendered " in x.message
                and fetch.started is not None
                and x.at >= fetch.started
            ),
            None,
        )
        _put(marks, rendered=rendered)
    # The commit's reconciles are queued once it is rendered: a drift check received earlier
    # is not one of them.
    after = marks.get("rendered", marks.get("fetch_start", pushed))
    applies = [
        t
        for t in done
        if t.name in (TaskName.RECONCILE, TaskName.RECONCILE_CLUSTER)
        and (t.received or 0.0) >= after
    ]
    if applies:
        first = min(applies, key=lambda t: t.started or float("inf"))
        _put(
            marks,
            apply_received=min((t.received for t in applies if t.received), default=None),
            apply_start=first.started,
        )
    if synced:
        marks["first_synced"] = min(synced.values())
        marks["last_synced"] = max(synced.values())
    return {k: round((v - pushed) * 1000, 1) for k, v in marks.items()}


def step_times(marks: Mapping[str, float]) -> dict[str, float]:
    """Each step's own milliseconds: from the previous mark present to its own."""
    steps, previous = {}, 0.0
    for name, _ in STEPS:
        if name in marks:
            steps[name] = round(marks[name] - previous, 1)
            previous = marks[name]
    return steps


def _put(marks: dict[str, float], **found: float | None) -> None:
    marks.update({k: v for k, v in found.items() if v is not None})


def requests_of_first_reconcile(
    lines: list[Line], pushed: float, marks: Mapping[str, float]
) -> list[str]:
    """The HTTP requests the apply worker finished between the first reconcile's start and its
    status (urllib3's DEBUG line, written as each answer is read), as `+<ms from the start>
    <verb> <path> <code>`: what the reconcile waited on. Requests of other reconciles running
    at the same time are among them."""
    if "apply_start" not in marks or "first_synced" not in marks:
        return []
    start = pushed + marks["apply_start"] / 1000
    end = pushed + marks["first_synced"] / 1000
    found = []
    for line in lines:
        if line.process != "apply" or not start <= line.at <= end:
            continue
        if m := _REQUEST.match(line.message):
            found.append(f"+{(line.at - start) * 1000:.0f} {m['verb']} {m['path']} {m['code']}")
    return found
