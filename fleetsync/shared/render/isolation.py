"""Renders that cannot take a worker down: Helm and kustomize each in a fresh process of its own.

The fetch worker is a Celery prefork pool: its processes are forked. Helm renders inside a Go
runtime loaded into the Python process, and a Go runtime does not survive fork (only the forking
thread lives on in the child, and the runtime's own threads, locks and signal state are gone), so a
forked process that inherited one deadlocks on larger renders. So no worker process ever loads
Helm: a Helm or kustomize render runs in `python -m fleetsync.shared.render.child`, started with
fork+exec (a new program, no inherited runtime), fed the request as JSON on stdin, answering on
stdout. Helm's part of the render key is asked of such a process too, once per worker process.

Why a process per render and not a long-lived render server: renders are rare (only a render key
never seen before costs one), so the ~0.15 s of CPU a fresh process costs is acceptable
(bench/render_bench.py --isolation measures it), while a process per render gives what a server
would have to rebuild by hand: a wall-clock timeout that kills exactly one render and everything it
started (its process group), a memory bound per render (RLIMIT_DATA on that process: a Go heap
never gives its pages back, so a server's bound would be shared by every render after the largest),
nothing left over from one render to the next, no server to restart or to share between pool
processes, and its temporary files in a scratch area removed when it ends, however it ends.

Plain renders (files read and parsed by Python, every input bounded) stay in the worker process.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import fleetsync
from fleetsync.shared.errors import PermanentError, TransientError
from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render.bounded import Finished, out_of_memory, run_bounded
from fleetsync.shared.render.dispatch import render_bundle, resolve_renderer
from fleetsync.shared.render.documents import RENDER_REVISION
from fleetsync.shared.render.request import (
    Limit,
    MiB,
    RenderError,
    RenderLimitExceeded,
    RenderLimits,
    RenderRequest,
    RenderResult,
)
from fleetsync.shared.render.scratch import scratch_area
from fleetsync.shared.render.wire import WireError, decode_answer, encode_request

CHILD = "fleetsync.shared.render.child"
GO_THREADS = 2
"""GOMAXPROCS in a render process: a render is one template engine at work, and fewer threads
keep what their stacks take of the memory bound (RLIMIT_DATA counts them) the same on any host."""
VERSION_TIMEOUT = 30.0
_PASSED_ON = ("HELM_C_LIB",)
"""Variables a render process keeps from the worker's environment (where Helm's library is)."""


def render_isolated(
    request: RenderRequest, *, limits: RenderLimits, scratch_dir: Path
) -> RenderResult:
    """Render the application, Helm and kustomize in a render process under `limits`; a render
    that passes its time or memory limit is killed and raises RenderLimitExceeded."""
    renderer = resolve_renderer(request, limits=limits)
    request = replace(request, renderer=renderer)
    if renderer is RendererKind.PLAIN:
        return render_bundle(request, limits=limits)
    with scratch_area(scratch_dir, prefix="render-") as area:
        finished = _run_child(
            ["--parent", str(os.getpid())],
            area=area,
            limits=limits,
            stdin=encode_request(request, limits),
            timeout=limits.timeout_seconds,
            max_output=2 * limits.max_output_bytes + MiB,
        )
    return _answer(finished, request=request, limits=limits, area=area)


@functools.cache
def helm_version() -> str:
    """`helm/<Helm SDK version>/<fleetsync render revision>`, asked of a render process once:
    the worker process itself never loads Helm."""
    limits = RenderLimits(timeout_seconds=VERSION_TIMEOUT)
    with tempfile.TemporaryDirectory(prefix="fleetsync-helm-version-") as area:
        finished = _run_child(
            ["--parent", str(os.getpid()), "--helm-version"],
            area=Path(area),
            limits=limits,
            stdin=None,
            timeout=VERSION_TIMEOUT,
            max_output=4096,
        )
    version = finished.stdout.decode(errors="replace").strip()
    if finished.returncode != 0 or finished.timed_out or not version.startswith("v"):
        raise PermanentError(f"helm: cannot read its version: {_last_words(finished.stderr)}")
    return f"helm/{version}/{RENDER_REVISION}"


def _run_child(
    args: list[str],
    *,
    area: Path,
    limits: RenderLimits,
    stdin: bytes | None,
    timeout: float,
    max_output: int,
) -> Finished:
    try:
        return run_bounded(
            [sys.executable, "-m", CHILD, *args],
            cwd=area,
            env=_environment(area, limits),
            stdin=stdin,
            timeout=timeout,
            max_output=max_output,
        )
    except OSError as exc:
        raise TransientError(f"render process could not start: {exc}") from exc


def _environment(area: Path, limits: RenderLimits) -> dict[str, str]:
    """Nothing of the worker's environment (credentials stay there) but where Python finds
    fleetsync and Helm finds its library; home and temporary files in the scratch area."""
    home, tmp = area / "home", area / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    package_root = str(Path(fleetsync.__file__).resolve().parents[1])
    python_path = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(python_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "GOMAXPROCS": str(GO_THREADS),
        # The Go collector works harder as the heap nears half the bound, rather than letting
        # garbage grow into the hard limit.
        "GOMEMLIMIT": str(limits.max_memory_bytes // 2),
        **{name: os.environ[name] for name in _PASSED_ON if name in os.environ},
    }


def _answer(
    finished: Finished, *, request: RenderRequest, limits: RenderLimits, area: Path
) -> RenderResult:
    """The result a render process answered, or the error that says how it ended."""
    app, where = request.app, request.path
    if finished.timed_out or finished.returncode == -signal.SIGXCPU:
        raise RenderLimitExceeded.of(app, where, Limit.TIME, limits)
    if finished.overflowed:
        raise RenderLimitExceeded.of(app, where, Limit.OUTPUT, limits)
    if finished.returncode == 0:
        try:
            return decode_answer(finished.stdout)
        except WireError as exc:
            raise RenderError(app, where, f"render process answered nonsense: {exc}") from exc
    if out_of_memory(finished.stderr):
        raise RenderLimitExceeded.of(app, where, Limit.MEMORY, limits)
    if finished.returncode < 0:
        try:
            name = signal.Signals(-finished.returncode).name
        except ValueError:
            name = f"signal {-finished.returncode}"
        hint = " (the host's out-of-memory killer sends it)" if name == "SIGKILL" else ""
        raise RenderError(
            app, where, f"render process was killed by {name} from outside fleetsync{hint}"
        )
    detail = _last_words(finished.stderr).replace(str(area), "<scratch>")
    raise RenderError(
        app, where, f"render process failed with exit status {finished.returncode}: {detail}"
    )


def _last_words(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1][:500] if lines else "no message"
