"""Small repositories on disk, and a render call with the application's usual name."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fleetsync.shared.model.declaration import HelmOptions, RendererKind
from fleetsync.shared.render import RenderLimits, RenderRequest, RenderResult, render_bundle

APP = "guestbook"


class Repo:
    """A checkout root on disk (what git exports), with files written from text."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, files: Mapping[str, str | bytes]) -> Repo:
        for name, content in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content).lstrip("\n"))
        return self

    def render(
        self,
        path: str,
        *,
        renderer: RendererKind = RendererKind.AUTO,
        namespace: str | None = None,
        helm: HelmOptions | None = None,
        limits: RenderLimits | None = None,
        **options: Any,
    ) -> RenderResult:
        """Render `path`; `options` are the request's other fields (directory, jsonnet,
        allow_empty)."""
        request = RenderRequest(
            root=self.root,
            path=path,
            app=APP,
            renderer=renderer,
            namespace=namespace,
            helm=helm or HelmOptions(),
            **options,
        )
        return render_bundle(request, limits=limits or RenderLimits())


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def configmap(name: str) -> str:
    return CONFIGMAP.format(name=name)


def names(result: RenderResult) -> list[str]:
    return [str(key) for key in result.bundle.keys]


def by_name(result: RenderResult, name: str) -> Mapping[str, Any]:
    return next(o for o in result.bundle.objects if o["metadata"]["name"] == name)
