"""Running a render's process with bounds: a wall-clock timeout and a bounded output.

The process runs in a session of its own, so that everything it starts (kubectl under a render
process) is killed with it: when the time is up or its standard output passes the bound, the
whole process group gets SIGKILL, and what it wrote so far is returned with the reason.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

STDERR_KEPT = 64 * 1024
"""Standard error kept (the start of it): enough for an error message or a Go crash's head."""


@dataclass(frozen=True, slots=True)
class Finished:
    returncode: int
    """The exit status, or minus the signal that ended the process."""
    stdout: bytes
    stderr: bytes
    timed_out: bool
    overflowed: bool
    """Standard output passed its bound; the process was killed there."""


def run_bounded(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    max_output: int,
    stdin: bytes | None = None,
) -> Finished:
    """Run a command to completion, killing its process group on timeout or too much output.

    Raises OSError when the command cannot be started.
    """
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    stdout, stderr = bytearray(), bytearray()
    overflowed = threading.Event()

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def pump(stream: IO[bytes], into: bytearray, limit: int, stop: bool) -> None:
        while chunk := stream.read(65536):
            if len(into) + len(chunk) > limit:
                if stop:
                    overflowed.set()
                    kill()
                    return
                into += chunk[: max(0, limit - len(into))]
                continue
            into += chunk

    def feed(stream: IO[bytes], data: bytes) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            stream.write(data)
        with contextlib.suppress(BrokenPipeError, OSError):
            stream.close()

    assert process.stdout is not None and process.stderr is not None
    threads = [
        threading.Thread(target=pump, args=(process.stdout, stdout, max_output, True)),
        threading.Thread(target=pump, args=(process.stderr, stderr, STDERR_KEPT, False)),
    ]
    if stdin is not None:
        assert process.stdin is not None
        threads.append(threading.Thread(target=feed, args=(process.stdin, stdin)))
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill()
        process.wait()
    except BaseException:
        kill()
        process.wait()
        raise
    finally:
        # The leader is gone; whatever it started in its session goes with it, so that no
        # grandchild keeps a pipe open (or keeps running) after the render is over.
        kill()
        for thread in threads:
            thread.join()
        process.stdout.close()
        process.stderr.close()
    return Finished(
        returncode=process.returncode,
        stdout=bytes(stdout),
        stderr=bytes(stderr),
        timed_out=timed_out,
        overflowed=overflowed.is_set(),
    )


_OUT_OF_MEMORY = (
    b"MemoryError",
    b"out of memory",
    b"cannot allocate memory",
    b"malloc failed",
    b"pthread_create failed",
    b"failed to create new OS thread",
)
"""What Python, the Go runtime and cgo say when the process's memory bound refuses them."""


def out_of_memory(stderr: bytes) -> bool:
    """Whether a process that failed says it ran out of memory (met its RLIMIT_DATA)."""
    lowered = stderr.lower()
    return any(marker.lower() in lowered for marker in _OUT_OF_MEMORY)
