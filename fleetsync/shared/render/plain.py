"""The plain renderer: the manifests under the application path, as they are written.

Every `*.yaml`, `*.yml` and `*.json` file under the path is read as a multi-document stream, in
sorted order; `directory` options (Argo CD's names) choose the files: `recurse` (fleetsync's
default is true), `include` and `exclude` globs (see `matches`). An include glob that matches no
file is an error: it is a typo or a moved file, never what was meant.

Repositories hold more than manifests: a Rancher Fleet `fleet.yaml`, kustomize's
`kustomization.yaml` in a subdirectory (Flux generates one per directory), a values file, a README
written in YAML. A document that is not a Kubernetes object (not a mapping, or without apiVersion
or kind) and a kustomization file are skipped, each reported as a warning the application's status
shows; with `directory.strict` each is an error instead. A plain render that finds no object at
all says what it found (`plain: 3 files, none with a Kubernetes object: ...`), see dispatch.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from pathlib import Path

from fleetsync.shared.model.declaration import DirectoryOptions
from fleetsync.shared.render.documents import (
    RENDER_REVISION,
    Document,
    Rendered,
    parse_documents,
)
from fleetsync.shared.render.safety import Checkout

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
KUSTOMIZE_CONFIGURATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SHOWN_FILES = 5


def plain_version() -> str:
    return f"plain/{RENDER_REVISION}"


def render_plain(
    checkout: Checkout,
    directory: Path,
    *,
    path: str,
    options: DirectoryOptions | None = None,
) -> Rendered:
    """The objects in the manifest files under `directory` (the application `path`)."""
    options = options or DirectoryOptions()
    prefix = posixpath.normpath(path)
    walk = checkout.walk(directory, where=prefix, recurse=options.recurse)
    files = select_files(checkout, sorted(walk.files), options, where=prefix)
    documents: list[Document] = []
    warnings: list[str] = []
    for sub, file in files:
        if not sub.endswith(MANIFEST_SUFFIXES):
            continue
        source = posixpath.join(prefix, sub) if prefix != "." else sub
        if posixpath.basename(sub) in KUSTOMIZE_CONFIGURATION:
            warnings.append(_skip(checkout, source, "kustomize's configuration", options))
            continue
        foreign: list[int] = []
        text = checkout.read_text(file, where=source)
        found = parse_documents(
            text,
            source=source,
            app=checkout.app,
            limits=checkout.limits,
            json_text=sub.endswith(".json"),
            foreign=foreign,
        )
        if foreign:
            where = source if not found and len(foreign) == 1 else _lines(source, foreign)
            warnings.append(
                _skip(checkout, where, "not a Kubernetes object (no apiVersion or kind)", options)
            )
        documents += found
    return Rendered(
        documents=tuple(documents),
        inputs=walk.targets,
        warnings=tuple(warnings),
        found=_found([sub for sub, _ in files]),
    )


def select_files(
    checkout: Checkout,
    files: Sequence[tuple[str, Path]],
    options: DirectoryOptions,
    *,
    where: str,
) -> list[tuple[str, Path]]:
    """The files `include` and `exclude` choose; an include glob matching nothing is an error."""
    chosen = list(files)
    if options.include:
        for glob in options.include:
            if not any(matches(glob, sub) for sub, _ in files):
                raise checkout.error(
                    where,
                    f"directory.include {glob!r} matches no file (the directory has "
                    f"{_listing([sub for sub, _ in files]) or 'no file'})",
                )
        chosen = [(s, f) for s, f in chosen if any(matches(g, s) for g in options.include)]
    return [(s, f) for s, f in chosen if not any(matches(g, s) for g in options.exclude)]


def matches(glob: str, path: str) -> bool:
    """Whether a file (its path relative to the application directory) matches a glob.

    `*` and `?` stay within one path segment, `**` spans any number of them, `{a,b}` is either.
    A glob without a `/` is matched against the file's name in any directory (`*.yaml`), one
    with a `/` against the whole relative path (`env/*.yaml`, `**/test-*.yaml`).
    """
    target = path if "/" in glob else posixpath.basename(path)
    return any(_pattern(alternative).fullmatch(target) for alternative in _braces(glob))


def _braces(glob: str) -> list[str]:
    """`{a,b}c` -> [`ac`, `bc`] (the first brace group, recursively)."""
    found = re.search(r"\{([^{}]*)\}", glob)
    if found is None:
        return [glob]
    head, tail = glob[: found.start()], glob[found.end() :]
    return [
        expanded
        for choice in found.group(1).split(",")
        for expanded in _braces(head + choice + tail)
    ]


def _pattern(glob: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            parts.append("(?:[^/]+/)*")
            i += 3
        elif glob.startswith("**", i):
            parts.append(".*")
            i += 2
        elif glob[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            parts.append("[^/]")
            i += 1
        elif glob[i] == "[" and (end := glob.find("]", i + 1)) > i:
            parts.append("[" + glob[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            parts.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(parts))


def _skip(checkout: Checkout, where: str, why: str, options: DirectoryOptions) -> str:
    """The warning for a skipped file; with `directory.strict`, the error instead."""
    if options.strict:
        raise checkout.error(
            where, f"{why}; remove it or exclude it (directory.exclude), or unset directory.strict"
        )
    return f"{where}: {why}: skipped"


def _lines(source: str, lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:SHOWN_FILES])
    more = f" and {len(lines) - SHOWN_FILES} more" if len(lines) > SHOWN_FILES else ""
    return f"{source}:{shown}{more}"


def _found(files: Sequence[str]) -> str:
    """`3 files, none with a Kubernetes object: a.yaml, b.txt, c.yaml`."""
    if not files:
        return ""
    count, _, shown = _listing(files).partition(": ")
    return f"{count}, none with a Kubernetes object: {shown}"


def _listing(files: Sequence[str]) -> str:
    """`3 files: a.yaml, b.txt, c.yaml` (the first few)."""
    if not files:
        return ""
    shown = ", ".join(files[:SHOWN_FILES])
    more = f" and {len(files) - SHOWN_FILES} more" if len(files) > SHOWN_FILES else ""
    noun = "file" if len(files) == 1 else "files"
    return f"{len(files)} {noun}: {shown}{more}"
