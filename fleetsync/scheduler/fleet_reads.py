"""fleet.yaml read for the beat's tick, off the tick: a changed file is parsed, checked and
turned to its published form (`shared.fleet.publish_form`) in a thread of its own, and the tick
takes the finished read when there is one. A tick never waits for a read in progress: polls,
drift checks and rollouts of the current declaration go on while a large fleet.yaml is read.

The file's identity (modification time and size) says when to read it again; a read that finds
the file changed once more is followed by another at the next look. A file that cannot be
stat'ed is an error at once, without a read. With `background=False` the read runs in the
caller's thread, within the look that starts it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleetsync.shared.errors import FleetsyncError
from fleetsync.shared.fleet import PublishedFleet, load_fleet, publish_form

log = logging.getLogger(__name__)

UNREADABLE = (-1, -1)
"""The identity of a fleet.yaml that cannot be stat'ed (no file has a negative size)."""


@dataclass(frozen=True, slots=True)
class FleetRead:
    """A finished read of fleet.yaml: the declaration in its published form, or why not."""

    published: PublishedFleet | None
    error: str | None = None


def read_fleet_file(path: Path) -> PublishedFleet:
    """fleet.yaml at `path`, validated and in its published form; FleetsyncError naming every
    problem."""
    return publish_form(load_fleet(path))


class FleetReads:
    """Looks at fleet.yaml once per tick (`look`) and hands over each finished read once."""

    def __init__(
        self,
        path: Path,
        *,
        background: bool,
        read: Callable[[Path], PublishedFleet] = read_fleet_file,
    ) -> None:
        self._path = path
        self._background = background
        self._read = read
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
            outcome = FleetRead(self._read(self._path))
        except FleetsyncError as exc:
            outcome = FleetRead(None, str(exc))
        except Exception as exc:  # an unforeseen failure is reported, never lost with the thread
            log.exception("reading %s failed", self._path)
            outcome = FleetRead(None, f"{self._path}: cannot read: {type(exc).__name__}: {exc}")
        with self._lock:
            self._finished = outcome
        self._idle.set()
