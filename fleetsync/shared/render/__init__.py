"""Rendering: one application's path in an exported checkout -> a Bundle.

The fetch stage calls `render_isolated` once per distinct render key and stores the bundle by
digest; every cluster then applies that one bundle. Helm and kustomize render in a fresh process
of their own, under a time and a memory limit (isolation); `render_bundle` renders in the calling
process (dispatch). `renderer_version` is the renderer's half of the render key, the git tree
hashes of the inputs a render reports are the other half.

Importing this package never loads a Go runtime (Helm's, go-jsonnet's): only a chart or a
Jsonnet directory rendered in-process does.
"""

from __future__ import annotations

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render.dispatch import detect_renderer, render_bundle
from fleetsync.shared.render.isolation import helm_version, render_isolated
from fleetsync.shared.render.jsonnet import jsonnet_version
from fleetsync.shared.render.kustomize import kustomize_version
from fleetsync.shared.render.plain import plain_version
from fleetsync.shared.render.request import (
    Limit,
    RenderError,
    RenderLimitExceeded,
    RenderLimits,
    RenderRequest,
    RenderResult,
)
from fleetsync.shared.render.scratch import scratch_area, sweep_scratch

__all__ = [
    "Limit",
    "RenderError",
    "RenderLimitExceeded",
    "RenderLimits",
    "RenderRequest",
    "RenderResult",
    "detect_renderer",
    "render_bundle",
    "render_isolated",
    "renderer_version",
    "scratch_area",
    "sweep_scratch",
]


def renderer_version(kind: RendererKind) -> str:
    """The renderer's part of the render key: `plain/<rev>`, `kustomize/<kubectl>/<rev>`,
    `helm/<Helm SDK>/<rev>`, `jsonnet/<gojsonnet>/<rev>`, where <rev> is fleetsync's own render
    revision. Cached."""
    match kind:
        case RendererKind.PLAIN:
            return plain_version()
        case RendererKind.KUSTOMIZE:
            return kustomize_version()
        case RendererKind.HELM:
            return helm_version()
        case RendererKind.JSONNET:
            return jsonnet_version()
        case _:
            raise ValueError(f"{kind}: not a renderer; resolve auto with detect_renderer first")
