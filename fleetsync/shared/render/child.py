"""A render process: `python -m fleetsync.shared.render.child --parent PID`.

Started fresh (never forked from a worker) by isolation, one per render. It reads one render
request as JSON on standard input, bounds itself, renders in this process (the only kind of
fleetsync process where Helm's Go runtime is ever loaded) and writes one answer as JSON on
standard output, then exits. With `--helm-version` it prints Helm's version instead.

Bounds it sets on itself before rendering: RLIMIT_DATA at the memory limit (heap and private
writable mappings: Go reserves its address space without touching it, so RLIMIT_AS would fail it
at start, but every page it maps read-write counts here), RLIMIT_CPU a little past what the
timeout allows (a backstop: the parent kills it at the timeout), and death with its parent
(PR_SET_PDEATHSIG), so a worker killed mid-render leaves no render running. kubectl, started by a
kustomize render, inherits the same bounds.

Anything a library prints goes to standard error: standard output carries the answer only.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import math
import os
import resource
import signal
import sys

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.render.dispatch import render_bundle
from fleetsync.shared.render.request import RenderLimits
from fleetsync.shared.render.wire import decode_request, encode_error, encode_result

_PR_SET_PDEATHSIG = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleetsync.shared.render.child")
    parser.add_argument("--parent", type=int, required=True, help="the pid to die with")
    parser.add_argument("--helm-version", action="store_true", help="print Helm's version")
    args = parser.parse_args(argv)
    answer = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _die_with(args.parent)
    if args.helm_version:
        import helm_python

        answer.write(helm_python.helm_sdk_version().encode())
        answer.close()
        return 0
    request, limits = decode_request(sys.stdin.buffer.read())
    bound_process(limits)
    try:
        payload = encode_result(render_bundle(request, limits=limits))
    except PermanentError as exc:
        payload = encode_error(exc)
    answer.write(payload)
    answer.close()
    return 0


def bound_process(limits: RenderLimits) -> None:
    """Bound this process's data memory and CPU time (inherited by what it starts)."""
    _lower(resource.RLIMIT_DATA, limits.max_memory_bytes, limits.max_memory_bytes)
    # Go's collector runs beside the template engine, on up to GOMAXPROCS threads.
    threads = int(os.environ.get("GOMAXPROCS") or os.cpu_count() or 1)
    cpu = math.ceil(limits.timeout_seconds * (threads + 1)) + 5
    _lower(resource.RLIMIT_CPU, cpu, cpu + 5)


def _lower(which: int, soft: int, hard: int) -> None:
    """Set a limit, never above one the process already has (it may not raise it)."""
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        hard = min(hard, current)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def _die_with(parent: int) -> None:
    """Get SIGKILL when the parent dies; exit now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(70)


if __name__ == "__main__":
    sys.exit(main())
