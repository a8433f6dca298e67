"""Runs fleetsync's processes as children of one command (`fleetsync up`).

Each child runs in its own process group and is told to die with its parent (Linux
PR_SET_PDEATHSIG), so nothing is orphaned even if `up` itself is killed. Output is prefixed with
the process name. A child that exits on its own is started again after a pause that doubles
with each quick death (1 s, 2 s, 4 s ... up to `MAX_RESTART_DELAY`), and `up` says so; a child
that ran for `STABLE_SECONDS` before dying starts again at once. `stop()` ends every child.

Each child gets exactly the environment its spec gives: nothing of the parent's leaks in.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_COLORS = ("36", "33", "35", "32", "34", "31", "96", "93")
FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
STABLE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    """The child's whole environment."""


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class _Child:
    spec: ProcessSpec
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    quick_deaths: int = 0
    restart_at: float | None = None


def restart_delay(quick_deaths: int) -> float:
    """The pause before starting again a child that died `quick_deaths` times in a row
    soon after starting."""
    return float(min(FIRST_RESTART_DELAY * 2 ** max(quick_deaths - 1, 0), MAX_RESTART_DELAY))


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        out: IO[str] | None = None,
        stop_timeout: float = 15.0,
        poll_interval: float = 0.3,
    ) -> None:
        self._children = [_Child(spec, i) for i, spec in enumerate(specs)]
        self._out = out or sys.stdout
        self._stop_timeout = stop_timeout
        self._poll = poll_interval
        self._pumps: list[threading.Thread] = []
        self._write_lock = threading.Lock()
        self._table_lock = threading.Lock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self._width = max((len(s.name) for s in specs), default=4)

    def processes(self) -> list[subprocess.Popen[bytes]]:
        with self._table_lock:
            return [c.proc for c in self._children if c.proc is not None]

    @property
    def pids(self) -> dict[str, int]:
        with self._table_lock:
            return {c.spec.name: c.proc.pid for c in self._children if c.proc is not None}

    @property
    def restarts(self) -> dict[str, int]:
        with self._table_lock:
            return {c.spec.name: c.restarts for c in self._children}

    def start(self) -> None:
        """Start every child, then watch them (in a thread) until stop()."""
        with self._table_lock:
            for child in self._children:
                self._spawn(child)
        self._monitor = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._monitor.start()

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        child.proc = subprocess.Popen(
            list(spec.argv),
            env={**spec.env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        pump = threading.Thread(
            target=self._pump, args=(spec.name, child.proc, child.index), daemon=True
        )
        pump.start()
        self._pumps.append(pump)

    def say(self, line: str) -> None:
        with self._write_lock:
            self._out.write(line + "\n")
            self._out.flush()

    def _pump(self, name: str, proc: subprocess.Popen[bytes], index: int) -> None:
        color = _COLORS[index % len(_COLORS)]
        tty = self._out.isatty()
        prefix = (
            f"\x1b[{color}m{name:>{self._width}} |\x1b[0m " if tty else f"{name:>{self._width}} | "
        )
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.say(prefix + raw.decode(errors="replace").rstrip())

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll):
            with self._table_lock:
                if self._stopping.is_set():
                    return
                for child in self._children:
                    self._tend(child)

    def _tend(self, child: _Child) -> None:
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._restart(child)
            return
        code = child.proc.poll() if child.proc is not None else None
        if code is None:
            return
        # Whatever is left of its process group (a pool child) goes with it.
        _signal_group(child.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        lived = now - child.started_at
        child.quick_deaths = 0 if lived >= STABLE_SECONDS else child.quick_deaths + 1
        delay = 0.0 if child.quick_deaths == 0 else restart_delay(child.quick_deaths)
        child.restart_at = now + delay
        self.say(
            f"fleetsync: {child.spec.name} exited with code {code} after {lived:.0f}s; "
            f"restarting it in {delay:.0f}s (restart {child.restarts + 1})"
        )

    def _restart(self, child: _Child) -> None:
        try:
            self._spawn(child)
        except OSError as exc:
            child.quick_deaths += 1
            delay = restart_delay(child.quick_deaths)
            child.restart_at = time.monotonic() + delay
            self.say(f"fleetsync: cannot start {child.spec.name}: {exc}; retrying in {delay:.0f}s")
            return
        child.restarts += 1
        self.say(f"fleetsync: {child.spec.name} restarted (pid {child.proc.pid})")  # type: ignore[union-attr]

    def wait(self) -> int:
        """Block until stop() is called (children that die meanwhile are restarted); 0."""
        self._stopping.wait()
        return 0

    def stop(self) -> None:
        """SIGTERM every child, wait, then SIGKILL whatever is left of each process group."""
        self._stopping.set()
        with self._table_lock:
            procs = [c.proc for c in self._children if c.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in procs:
            _signal_group(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.wait(timeout=5)
        for pump in self._pumps:
            pump.join(timeout=2)
        if self._monitor is not None and self._monitor is not threading.current_thread():
            self._monitor.join(timeout=5)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
