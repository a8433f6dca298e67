"""The plain renderer: the manifests under the application path, as they are written.

Every `*.yaml`, `*.yml` and `*.json` file under the path, recursively and in sorted order, is read
as a multi-document stream. Plain means plain: a kustomization.yaml or Chart.yaml met here is read
like any other file (choose the renderer explicitly, or let auto-detection do it).
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from fleetsync.shared.render.documents import (
    RENDER_REVISION,
    Document,
    Rendered,
    parse_documents,
)
from fleetsync.shared.render.safety import Checkout

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def plain_version() -> str:
    return f"plain/{RENDER_REVISION}"


def render_plain(checkout: Checkout, directory: Path, *, path: str) -> Rendered:
    """The objects in the manifest files under `directory` (the application `path`)."""
    prefix = posixpath.normpath(path)
    walk = checkout.walk(directory, where=prefix)
    documents: list[Document] = []
    for sub, file in sorted(walk.files):
        if not sub.endswith(MANIFEST_SUFFIXES):
            continue
        source = posixpath.join(prefix, sub) if prefix != "." else sub
        text = checkout.read_text(file, where=source)
        documents += parse_documents(
            text,
            source=source,
            app=checkout.app,
            limits=checkout.limits,
            json_text=sub.endswith(".json"),
        )
    return Rendered(documents=tuple(documents), inputs=walk.targets)
