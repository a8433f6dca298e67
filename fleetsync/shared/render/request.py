"""What a render is asked for, what it returns, how far it may go, and how it fails.

A render turns one application's path in an exported checkout into a Bundle. The request names
the checkout root (nothing outside it is ever read), the application path and renderer; the result
carries the bundle, the renderer actually used and the root-relative inputs it read, from whose git
tree hashes the fetch stage builds the render key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import HelmOptions, RendererKind

MiB = 1024 * 1024


class RenderError(PermanentError):
    """Bad input: the same checkout renders the same error. Starts with the application and file."""

    def __init__(self, app: str, where: str, problem: str) -> None:
        super().__init__(f"{app}: {where}: {problem}")
        self.app = app
        self.where = where
        self.problem = problem


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """Bounds on what one render may read, expand and produce."""

    max_file_bytes: int = 4 * MiB
    max_total_bytes: int = 64 * MiB
    """Sum of every file read or staged for one render."""
    max_objects: int = 10_000
    max_output_bytes: int = 64 * MiB
    """Kustomize's standard output, or the sum of Helm's rendered templates."""
    max_alias_expansion: int = 100_000
    """Nodes that YAML aliases may add to one document (bounds a billion-laughs document)."""
    max_nesting: int = 200
    """Depth of nested collections in one document (deeper input could crash the C parser)."""
    timeout_seconds: float = 60.0
    """Wall-clock bound on `kubectl kustomize`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderRequest:
    root: Path
    """The checkout root (an exported git tree); nothing outside it may be read."""
    path: str
    """The application's path, relative to root."""
    app: str
    """The application's name, for messages and as Helm's default release name."""
    renderer: RendererKind = RendererKind.AUTO
    namespace: str | None = None
    """Default namespace for namespaced objects that name none."""
    helm: HelmOptions = field(default_factory=HelmOptions)


@dataclass(frozen=True, slots=True)
class RenderResult:
    bundle: Bundle
    renderer: RendererKind
    """The renderer actually used (auto resolved)."""
    inputs: tuple[str, ...]
    """Root-relative directories and files this render read, sorted, none inside another."""
