"""Rendering: one application's path in an exported checkout -> a Bundle.

The fetch stage calls `render_bundle` once per distinct render key and stores the bundle by
digest; every cluster then applies that one bundle. A renderer (plain, kustomize or helm; auto
picks one from the names in the application directory) turns files into documents, through a
`Checkout` that confines every read to the root; assembly turns documents into the bundle. The
result reports the inputs read, so the render key can be built from their git tree hashes, and
`renderer_version` is the other half of that key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render.documents import assemble_bundle
from fleetsync.shared.render.helm import helm_version, render_helm
from fleetsync.shared.render.kustomize import (
    KUSTOMIZATION_FILES,
    kustomize_version,
    render_kustomize,
)
from fleetsync.shared.render.plain import plain_version, render_plain
from fleetsync.shared.render.request import RenderError, RenderLimits, RenderRequest, RenderResult
from fleetsync.shared.render.safety import Checkout, minimal_paths

__all__ = [
    "RenderError",
    "RenderLimits",
    "RenderRequest",
    "RenderResult",
    "detect_renderer",
    "render_bundle",
    "renderer_version",
]


DEFAULT_LIMITS = RenderLimits()


def render_bundle(request: RenderRequest, *, limits: RenderLimits = DEFAULT_LIMITS) -> RenderResult:
    """Render the application; bad input raises RenderError, naming the application and file."""
    checkout = Checkout(request.root, app=request.app, limits=limits)
    directory, app_inputs = checkout.resolve_app_dir(request.path)
    renderer = request.renderer
    if renderer is RendererKind.AUTO:
        renderer = detect_renderer(os.listdir(directory))
    match renderer:
        case RendererKind.KUSTOMIZE:
            rendered = render_kustomize(checkout, directory, path=request.path)
        case RendererKind.HELM:
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


def detect_renderer(files: Iterable[str]) -> RendererKind:
    """The auto rule on the names in the application directory: kustomize, helm, else plain."""
    names = set(files)
    if names.intersection(KUSTOMIZATION_FILES):
        return RendererKind.KUSTOMIZE
    if "Chart.yaml" in names:
        return RendererKind.HELM
    return RendererKind.PLAIN


def renderer_version(kind: RendererKind) -> str:
    """The renderer's part of the render key: `plain/<rev>`, `kustomize/<kubectl>/<rev>`,
    `helm/<Helm SDK>/<rev>`, where <rev> is fleetsync's own render revision. Cached."""
    match kind:
        case RendererKind.PLAIN:
            return plain_version()
        case RendererKind.KUSTOMIZE:
            return kustomize_version()
        case RendererKind.HELM:
            return helm_version()
        case _:
            raise ValueError(f"{kind}: not a renderer; resolve auto with detect_renderer first")
