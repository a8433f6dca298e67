"""Runs fleetsync's processes as children of one command (`fleetsync up`).

Each child runs in its own process group and is told to die with its parent (Linux
PR_SET_PDEATHSIG), so nothing is orphaned even if `up` itself is killed. Output is prefixed with
the process name. A child that exits on its own stops the whole set: a half-running fleetsync is
worse than a stopped one that says why.
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


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        out: IO[str] | None = None,
        stop_timeout: float = 15.0,
    ) -> None:
        self._specs = list(specs)
        self._out = out or sys.stdout
        self._stop_timeout = stop_timeout
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._pumps: list[threading.Thread] = []
        self._write_lock = threading.Lock()
        self._stopping = threading.Event()
        self._width = max((len(s.name) for s in specs), default=4)

    def processes(self) -> list[subprocess.Popen[bytes]]:
        return list(self._procs.values())

    @property
    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self._procs.items()}

    def start(self) -> None:
        for i, spec in enumerate(self._specs):
            proc = subprocess.Popen(
                list(spec.argv),
                env={**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            self._procs[spec.name] = proc
            pump = threading.Thread(target=self._pump, args=(spec.name, proc, i), daemon=True)
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

    def wait(self) -> int:
        """Block until a child exits on its own (returns 1) or stop() is called (returns 0)."""
        while not self._stopping.is_set():
            for name, proc in self._procs.items():
                code = proc.poll()
                if code is not None and not self._stopping.is_set():
                    self.say(f"fleetsync: {name} exited with code {code}; stopping everything")
                    self.stop()
                    return 1
            self._stopping.wait(0.3)
        return 0

    def stop(self) -> None:
        """SIGTERM every child, wait, then SIGKILL whatever is left of each process group."""
        self._stopping.set()
        for proc in self._procs.values():
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout
        for proc in self._procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self._procs.values():
            _signal_group(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.wait(timeout=5)
        for pump in self._pumps:
            pump.join(timeout=2)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
