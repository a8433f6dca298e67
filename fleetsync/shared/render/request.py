"""What a render is asked for, what it returns, how far it may go, and how it fails.

A render turns one application's path in an exported checkout into a Bundle. The request names
the checkout root (nothing outside it is ever read), the application path and renderer; the result
carries the bundle, the renderer actually used and the root-relative inputs it read, from whose git
tree hashes the fetch stage builds the render key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model.bundle import Bundle
from fleetsync.shared.model.declaration import (
    DirectoryOptions,
    HelmOptions,
    JsonnetOptions,
    RendererKind,
)

MiB = 1024 * 1024


class RenderError(PermanentError):
    """Bad input: the same checkout renders the same error. Starts with the application and file."""

    def __init__(self, app: str, where: str, problem: str) -> None:
        super().__init__(f"{app}: {where}: {problem}")
        self.app = app
        self.where = where
        self.problem = problem


class Limit(StrEnum):
    """A bound that stops a render while it runs."""

    TIME = "time"
    MEMORY = "memory"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """Bounds on what one render may read, expand and produce, and on the process it runs in."""

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
    """Wall-clock bound on one Helm or kustomize render: its process is killed when it passes."""
    max_memory_bytes: int = 1024 * MiB
    """Bound on the data memory of one Helm or kustomize render process (RLIMIT_DATA: its heap
    and private writable mappings, the Go runtime's and its threads' stacks included)."""

    def problem(self, limit: Limit, *, detail: str = "") -> str:
        """What to say of a render stopped at `limit`: the limit, then what to do about it."""
        match limit:
            case Limit.TIME:
                exceeded = f"render exceeded its {self.timeout_seconds:g} s time limit"
                advice = "make it lighter or raise FLEETSYNC_RENDER_TIMEOUT"
            case Limit.MEMORY:
                exceeded = f"render exceeded its {size_text(self.max_memory_bytes)} memory limit"
                advice = "make it lighter or raise FLEETSYNC_RENDER_MEMORY"
            case Limit.OUTPUT:
                exceeded = f"render output exceeded its {size_text(self.max_output_bytes)} limit"
                advice = "split the application"
        return f"{exceeded}{f' ({detail})' if detail else ''}; {advice}"


class RenderLimitExceeded(RenderError):
    """A render stopped at one of its limits: the same input would meet it again."""

    def __init__(self, app: str, where: str, problem: str, *, limit: Limit) -> None:
        super().__init__(app, where, problem)
        self.limit = limit

    @classmethod
    def of(
        cls, app: str, where: str, limit: Limit, limits: RenderLimits, *, detail: str = ""
    ) -> RenderLimitExceeded:
        return cls(app, where, limits.problem(limit, detail=detail), limit=limit)


def size_text(size: int) -> str:
    """`512 bytes`, `1.5 MiB`, `64 MiB`."""
    if size < MiB:
        return f"{size} bytes"
    return f"{size / MiB:.1f} MiB" if size % MiB else f"{size // MiB} MiB"


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
    directory: DirectoryOptions = field(default_factory=DirectoryOptions)
    jsonnet: JsonnetOptions = field(default_factory=JsonnetOptions)
    allow_empty: bool = False
    """A render that finds no object is accepted (`sync.allowEmpty`); an error otherwise."""


@dataclass(frozen=True, slots=True)
class RenderResult:
    bundle: Bundle
    renderer: RendererKind
    """The renderer actually used (auto resolved)."""
    inputs: tuple[str, ...]
    """Root-relative directories and files this render read, sorted, none inside another."""
    warnings: tuple[str, ...] = ()
    """What the render skipped and the application's status shows: files that hold no
    Kubernetes object, objects never applied (Helm test hooks)."""
