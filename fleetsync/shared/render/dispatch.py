"""One render, in this process: pick the renderer, run it through a confined checkout, assemble.

A renderer (plain, kustomize or helm; auto picks one from the names in the application directory)
turns files into documents, through a `Checkout` that confines every read to the root; assembly
turns documents into the bundle. The result reports the inputs read, so the render key can be
built from their git tree hashes.

Helm runs here in-process, so this module imports it only when a chart is rendered: a process
that must never hold a Go runtime (a worker that forks, see isolation) can import the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render.documents import assemble_bundle
from fleetsync.shared.render.kustomize import KUSTOMIZATION_FILES, render_kustomize
from fleetsync.shared.render.plain import render_plain
from fleetsync.shared.render.request import RenderLimits, RenderRequest, RenderResult
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
        case _:
            rendered = render_plain(checkout, directory, path=request.path)
    bundle = assemble_bundle(
        rendered.documents,
        namespace=request.namespace,
        app=request.app,
        where=request.path,
        limits=limits,
    )
    return RenderResult(
        bundle=bundle, renderer=renderer, inputs=minimal_paths(app_inputs | rendered.inputs)
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
    """The auto rule on the names in the application directory: kustomize, helm, else plain."""
    names = set(files)
    if names.intersection(KUSTOMIZATION_FILES):
        return RendererKind.KUSTOMIZE
    if "Chart.yaml" in names:
        return RendererKind.HELM
    return RendererKind.PLAIN
