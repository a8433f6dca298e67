"""The jsonnet renderer, as Argo CD renders a directory with Jsonnet in it.

Each `*.jsonnet` file the directory options choose (see plain: `recurse`, `include`, `exclude`)
is evaluated and must produce a Kubernetes object, a `List`, or an array of them; `*.libsonnet`
files are libraries, evaluated only when imported; YAML and JSON files beside them are read as
the plain renderer reads them. fleet.yaml's `jsonnet: {extVars, tlas, libs}` gives the external
variables (`std.extVar`), the top-level arguments of a file that is a function, and library
directories (relative to the repository root) that `import` searches after the importing file's
own directory.

Every import (`import`, `importstr`, `importbin`) goes through an import callback that resolves
inside the checkout only: a path that leads out of the repository (by `..`, an absolute path or
a symlink) is an error naming the file that imported it, and every file read is charged to the
render's byte budget and reported as an input (so an edit to a shared library outside the
application path renders it again). The output is bounded like Helm's.

The evaluator is go-jsonnet's Python binding (`gojsonnet`: wheels, where the C++ `jsonnet`
package is a source distribution that takes about 90 s of compiling on every fresh install). It
loads a Go runtime, so like Helm this module is imported only in a render process (see isolation):
a runaway program is killed at the render's time limit and bounded by its memory limit there.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
from importlib import metadata
from pathlib import Path
from typing import Any

from fleetsync.shared.model.declaration import DirectoryOptions, JsonnetOptions, JsonnetVar
from fleetsync.shared.render.documents import (
    RENDER_REVISION,
    Document,
    Rendered,
    is_object,
    parse_documents,
)
from fleetsync.shared.render.plain import render_plain, select_files
from fleetsync.shared.render.request import Limit, RenderError, RenderLimitExceeded, size_text
from fleetsync.shared.render.safety import Checkout

JSONNET_SUFFIXES = (".jsonnet", ".libsonnet")
MAX_STACK = 500
_LOCATION = re.compile(r"([^\s:]+\.(?:jsonnet|libsonnet|json)):(\d+)")
_MISSING_ARGUMENT = re.compile(r"Missing argument: (\S+)")


@functools.cache
def jsonnet_version() -> str:
    """`jsonnet/<gojsonnet version>/<fleetsync render revision>`, read from the package's
    metadata: asking the binding would load its Go runtime into this process."""
    return f"jsonnet/{metadata.version('gojsonnet')}/{RENDER_REVISION}"


def render_jsonnet(
    checkout: Checkout,
    directory: Path,
    *,
    path: str,
    options: JsonnetOptions,
    directory_options: DirectoryOptions | None = None,
) -> Rendered:
    """The objects the Jsonnet files (and manifests) under `directory` produce."""
    import _gojsonnet  # loads the Go runtime: render processes only

    directory_options = directory_options or DirectoryOptions()
    prefix = posixpath.normpath(path)
    plain = render_plain(checkout, directory, path=path, options=directory_options)
    walk = checkout.walk(directory, where=prefix, recurse=directory_options.recurse)
    files = select_files(checkout, sorted(walk.files), directory_options, where=prefix)
    libraries = [_library(checkout, lib) for lib in options.libs]
    inputs: set[str] = set(walk.targets) | set(options.libs)
    documents: list[Document] = list(plain.documents)
    for sub, file in files:
        if not sub.endswith(".jsonnet"):
            continue
        source = posixpath.join(prefix, sub) if prefix != "." else sub
        text = checkout.read_text(file, where=source)
        importer = _Importer(checkout, libraries)
        try:
            output = _gojsonnet.evaluate_snippet(
                source,
                text,
                max_stack=MAX_STACK,
                ext_vars=_strings(options.ext_vars),
                ext_codes=_codes(options.ext_vars),
                tla_vars=_strings(options.tlas),
                tla_codes=_codes(options.tlas),
                import_callback=importer,
            )
        except Exception as exc:
            # go-jsonnet passes an import callback's error on as text, and that text sometimes
            # comes back garbled (a UnicodeDecodeError instead of its RuntimeError): the
            # importer keeps what went wrong itself.
            if importer.problem is not None:
                raise importer.problem from None
            if not isinstance(exc, RuntimeError):
                raise importer.missing or exc from None
            raise _evaluation_error(checkout, source, str(exc)) from None
        inputs |= importer.read
        documents += _objects(checkout, output, source=source)
    return Rendered(
        documents=tuple(documents),
        inputs=frozenset(inputs),
        warnings=plain.warnings,
        found=plain.found,
    )


class _Importer:
    """go-jsonnet's import callback, confined to the checkout: `(base, rel)` -> (the file's
    root-relative path, its bytes). The first confinement error is kept, to be raised as it is
    (go-jsonnet would only pass its text on)."""

    def __init__(self, checkout: Checkout, libraries: list[Path]) -> None:
        self.checkout = checkout
        self.libraries = libraries
        self.read: set[str] = set()
        self.problem: RenderError | None = None
        self.missing: RenderError | None = None
        """The last import not found: the error when go-jsonnet's own message is lost."""

    def __call__(self, base: str, rel: str) -> tuple[str, bytes]:
        checkout = self.checkout
        importer = base.rstrip("/") or "."
        try:
            here = checkout.resolve(checkout.root, importer, where=importer)
            candidates = [checkout.resolve(here, rel, where=f"{importer}: import {rel!r}")]
            for library in self.libraries:
                candidates.append(checkout.resolve(library, rel, where=f"jsonnet.libs: {rel!r}"))
        except RenderError as exc:
            self.problem = self.problem or exc
            raise RuntimeError(exc.problem) from None
        for candidate in candidates:
            if candidate.is_file():
                source = checkout.relative(candidate)
                text = checkout.read_text(candidate, where=source)
                self.read.add(source)
                return source, text.encode()
        why = f"{rel}: no such file in {importer} or jsonnet.libs"
        self.missing = checkout.error(f"{importer}: import {rel!r}", why)
        raise RuntimeError(why)


def _library(checkout: Checkout, lib: str) -> Path:
    found = checkout.resolve(checkout.root, lib, where=f"jsonnet.libs: {lib}")
    if not found.is_dir():
        raise checkout.error(f"jsonnet.libs: {lib}", "no such directory in the repository")
    return found


def _strings(variables: tuple[JsonnetVar, ...]) -> dict[str, str]:
    return {v.name: v.value for v in variables if not v.code}


def _codes(variables: tuple[JsonnetVar, ...]) -> dict[str, str]:
    return {v.name: v.value for v in variables if v.code}


def _evaluation_error(checkout: Checkout, source: str, text: str) -> RenderError:
    """go-jsonnet's message as a render error at the file and line it names first."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    message = " ".join(lines[:3]) or "evaluation failed"
    location = _LOCATION.search(text)
    where = f"{location.group(1)}:{location.group(2)}" if location else source
    if missing := _MISSING_ARGUMENT.search(text):
        return checkout.error(
            source,
            f"top-level function needs argument {missing.group(1)}: give it in fleet.yaml "
            f"under jsonnet.tlas ({message})",
        )
    return checkout.error(where, message.removeprefix("RUNTIME ERROR: "))


def _objects(checkout: Checkout, output: str, *, source: str) -> list[Document]:
    """The objects of one file's output: an object, a List, or an array of them."""
    limits = checkout.limits
    size = len(output.encode())
    if size > limits.max_output_bytes:
        raise RenderLimitExceeded.of(
            checkout.app, source, Limit.OUTPUT, limits, detail=f"it produced {size_text(size)}"
        )
    value: Any = json.loads(output)
    items = value if isinstance(value, list) else [value]
    documents: list[Document] = []
    for index, item in enumerate(items):
        if item is None:
            continue
        if not is_object(item):
            what = f"element {index} of its array" if isinstance(value, list) else "its output"
            raise checkout.error(
                source,
                f"{what} is not a Kubernetes object (no apiVersion or kind); produce an "
                "object, a List, or an array of objects",
            )
        documents += parse_documents(
            json.dumps(item), source=source, app=checkout.app, limits=limits, json_text=True
        )
    return documents
