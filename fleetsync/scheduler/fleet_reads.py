"""fleet.yaml read for the beat's tick, off the tick: a changed file is parsed, checked and
turned to its published form (`shared.fleet.publish_form`) in a process of its own, awaited by
a thread of the beat, and the tick takes the finished read when there is one. A tick never
waits for a read in progress: polls, drift checks and rollouts of the current declaration go on
while a large fleet.yaml is read.

A process, not a thread: a read holds the interpreter's lock for seconds (10,000 applications),
and a thread beside it would stall the tick at each of its Redis round trips (the tick sends
messages one round trip at a time and waits for the lock after each). The read's process is
spawned (the beat has threads of its own: a forked child could inherit a lock held by one) and
sends its `FleetRead` back through a pipe; one that dies is an error like a refused file.

The file's identity (modification time and size) says when to read it again; a read that finds
the file changed once more is followed by another at the next look. A file that cannot be
stat'ed is an error at once, without a read. With `background=False` the read runs in the
caller's thread and process, within the look that starts it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.fleet import PublishedFleet, load_fleet, publish_form

log = logging.getLogger(__name__)

UNREADABLE = (-1, -1)
"""The identity of a fleet.yaml that cannot be stat'ed (no file has a negative size)."""
READ_TIMEOUT_SECONDS = 600.0
"""The longest a read's process may take (a 10,000-application fleet.yaml takes seconds): one
that takes longer is ended and the read is an error, so that a later edit is read."""


@dataclass(frozen=True, slots=True)
class FleetRead:
    """A finished read of fleet.yaml: the declaration in its published form, or why not."""

    published: PublishedFleet | None
    error: str | None = None


def read_here(path: Path) -> FleetRead:
    """fleet.yaml at `path`, validated and in its published form, or every problem it has."""
    try:
        return FleetRead(publish_form(load_fleet(path)))
    except FleetsyncError as exc:
        return FleetRead(None, str(exc))


def read_in_child(path: Path, *, timeout: float = READ_TIMEOUT_SECONDS) -> FleetRead:
    """`read_here` in a spawned process of its own; its death, or its taking longer than
    `timeout` seconds (it is then ended), is the read's error."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_read_for_parent, args=(path, sending), daemon=True)
    child.start()
    sending.close()  # the child's end: EOF here once it is gone
    try:
        if not receiving.poll(timeout):
            child.kill()
            return FleetRead(
                None, f"{path}: cannot read: the reading process took longer than {timeout:g}s"
            )
        found: FleetRead = receiving.recv()
        return found
    except EOFError:
        child.join()
        return FleetRead(None, f"{path}: cannot read: the reading process ended ({child.exitcode})")
    finally:
        receiving.close()
        child.join()


def _read_for_parent(path: Path, sending: Connection) -> None:
    sending.send(read_here(path))
    sending.close()


class FleetReads:
    """Looks at fleet.yaml once per tick (`look`) and hands over each finished read once."""

    def __init__(
        self,
        path: Path,
        *,
        background: bool,
        read: Callable[[Path], FleetRead] | None = None,
    ) -> None:
        self._path = path
        self._background = background
        self._read = read or (read_in_child if background else read_here)
        self._seen: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._finished: FleetRead | None = None
        self._idle = threading.Event()
        self._idle.set()

    def look(self) -> FleetRead | None:
        """A read finished since the last look, else None; starts a read when the file changed
        and none is in progress (and, with `background=False`, returns it)."""
        finished = self._take()
        if finished is not None or not self._idle.is_set():
            return finished
        try:
            st = os.stat(self._path)
            identity = (st.st_mtime_ns, st.st_size)
        except OSError as exc:
            changed, self._seen = self._seen != UNREADABLE, UNREADABLE
            return (
                FleetRead(None, f"{self._path}: cannot read: {exc.strerror}") if changed else None
            )
        if identity == self._seen:
            return None
        self._seen = identity
        self._idle.clear()
        if not self._background:
            self._run()
            return self._take()
        threading.Thread(target=self._run, name="fleet-read", daemon=True).start()
        return None

    def forget(self) -> None:
        """Read the file again at the next look even if it did not change."""
        self._seen = None

    def wait_idle(self, timeout: float) -> bool:
        """Whether no read is in progress, waiting up to `timeout` seconds for one to end."""
        return self._idle.wait(timeout)

    def _take(self) -> FleetRead | None:
        with self._lock:
            finished, self._finished = self._finished, None
        return finished

    def _run(self) -> None:
        try:
            outcome = self._read(self._path)
        except Exception as exc:  # an unforeseen failure is reported, never lost with the thread
            log.exception("reading %s failed", self._path)
            outcome = FleetRead(None, f"{self._path}: cannot read: {type(exc).__name__}: {exc}")
        with self._lock:
            self._finished = outcome
        self._idle.set()
