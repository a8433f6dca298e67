"""One render, in this process: pick the renderer, run it through a confined checkout, assemble.

A renderer (plain, kustomize, helm or jsonnet; auto picks one from the names in the application
directory) turns files into documents, through a `Checkout` that confines every read to the root;
assembly turns documents into the bundle, leaving out objects that are never applied (Helm test
hooks). The result reports the inputs read, so the render key can be built from their git tree
hashes, and what was skipped (warnings for the application's status).

A render that finds no object is an error naming the renderer and what it found (`plain: 3
files, none with a Kubernetes object: ...`), unless the application is empty on purpose
(`sync.allowEmpty`): an empty bundle reported Synced would hide a repository fleetsync cannot
read (a config-management plugin's directory, a renderer that was not chosen).

Helm and go-jsonnet run here in-process, so this module imports them only when a chart or a
Jsonnet directory is rendered: a process that must never hold a Go runtime (a worker that forks,
see isolation) can import the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render.documents import assemble_bundle, drop_never_applied
from fleetsync.shared.render.jsonnet import JSONNET_SUFFIXES
from fleetsync.shared.render.kustomize import KUSTOMIZATION_FILES, render_kustomize
from fleetsync.shared.render.plain import render_plain
from fleetsync.shared.render.request import RenderError, RenderLimits, RenderRequest, RenderResult
from fleetsync.shared.render.safety import Checkout, minimal_paths

DEFAULT_LIMITS = RenderLimits()


def render_bundle(request: RenderRequest, *, limits: RenderLimits = DEFAULT_LIMITS) -> RenderResult:
    """Render the application here; bad input raises RenderError, naming the application and
    file. Only in a process that may load Go: a render process, a test, a one-shot command."""
    checkout = Checkout(request.root, app=request.app, limits=limits)
    directory, app_inputs = checkout.resolve_app_dir(request.path)
    renderer = request.renderer
    if renderer is RendererKind.AUTO:
        renderer = detect_renderer(os.listdir(directory))
    match renderer:
        case RendererKind.KUSTOMIZE:
            rendered = render_kustomize(checkout, directory, path=request.path)
        case RendererKind.HELM:
            from fleetsync.shared.render.helm import render_helm  # loads the Go runtime

            rendered = render_helm(
                checkout,
                directory,
                path=request.path,
                options=request.helm,
                namespace=request.namespace,
            )
        case RendererKind.JSONNET:
            from fleetsync.shared.render.jsonnet import render_jsonnet  # loads the Go runtime

            rendered = render_jsonnet(
                checkout,
                directory,
                path=request.path,
                options=request.jsonnet,
                directory_options=request.directory,
            )
        case _:
            rendered = render_plain(
                checkout, directory, path=request.path, options=request.directory
            )
    documents, dropped = drop_never_applied(rendered.documents)
    bundle = assemble_bundle(
        documents,
        namespace=request.namespace,
        app=request.app,
        where=request.path,
        limits=limits,
    )
    if not bundle.objects and not request.allow_empty:
        raise RenderError(request.app, request.path, _nothing_found(renderer, rendered.found))
    return RenderResult(
        bundle=bundle,
        renderer=renderer,
        inputs=minimal_paths(app_inputs | rendered.inputs),
        warnings=(*rendered.warnings, *dropped),
    )


def _nothing_found(renderer: RendererKind, found: str) -> str:
    what = found or "it renders no Kubernetes object"
    return (
        f"{renderer}: {what}; nothing to apply (set sync.allowEmpty: true if the application "
        "is empty on purpose, or choose its renderer)"
    )


def resolve_renderer(request: RenderRequest, *, limits: RenderLimits) -> RendererKind:
    """The renderer a request will use: its own, or auto's pick from the application directory
    (which must exist inside the root)."""
    if request.renderer is not RendererKind.AUTO:
        return request.renderer
    checkout = Checkout(request.root, app=request.app, limits=limits)
    directory, _ = checkout.resolve_app_dir(request.path)
    return detect_renderer(os.listdir(directory))


def detect_renderer(files: Iterable[str]) -> RendererKind:
    """The auto rule on the names in the application directory: kustomize, helm, jsonnet (a
    `*.jsonnet` or `*.libsonnet` file), else plain."""
    names = set(files)
    if names.intersection(KUSTOMIZATION_FILES):
        return RendererKind.KUSTOMIZE
    if "Chart.yaml" in names:
        return RendererKind.HELM
    if any(name.endswith(JSONNET_SUFFIXES) for name in names):
        return RendererKind.JSONNET
    return RendererKind.PLAIN
