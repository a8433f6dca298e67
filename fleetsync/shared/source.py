"""The source side of the pipeline: poll a repository, then fetch and render what changed.

poll: one ls-remote; an unchanged sha stops there (no clone, no render). Failures back off per
repository with jitter and are recorded, never retried in a tight loop.

fetch: bring the host's bare mirror up to the polled sha, then for each application on the
repository compute its render key from the git tree hashes of what its last render read (its
path, kustomize bases, chart dependencies) plus renderer, version and values. A key seen before
reuses its bundle; only a new key costs a checkout and a render. An application whose render fails
(bad input, or a render stopped at its time or memory limit) keeps its last good desired state and
records the error; the others carry on.

Helm and kustomize render in a process of their own (render.isolation), never in the worker
process. Checkouts and render processes work in scratch areas that are removed when their work
ends, however it ends; a fetch first sweeps the areas of processes that were killed.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import fleetsync.shared.git as git
from fleetsync.shared.errors import FleetsyncError, PermanentError, TransientError, describe
from fleetsync.shared.logcontext import bind
from fleetsync.shared.model.backoff import backoff_delay
from fleetsync.shared.model.bundle import canonical_json
from fleetsync.shared.model.declaration import (
    Application,
    DirectoryOptions,
    Fleet,
    JsonnetOptions,
    RendererKind,
    Repository,
)
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.render import (
    RenderLimits,
    RenderRequest,
    RenderResult,
    render_isolated,
    renderer_version,
    scratch_area,
    sweep_scratch,
)
from fleetsync.shared.rollouts import begin_rollout
from fleetsync.shared.settings import Settings, load_settings
from fleetsync.shared.store import DueSet, Store, StoreError

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
DEFAULT_LIMITS = RenderLimits()


@dataclass(frozen=True, slots=True)
class PollOutcome:
    revision: Revision | None = None
    fetch_needed: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    revision: Revision | None = None
    changed: Mapping[AppName, tuple[ClusterName, ...]] = field(default_factory=dict)
    """Applications whose desired state moved, each with the clusters it moved for: each of
    those pairs needs a reconcile."""
    rendered: tuple[AppName, ...] = ()
    reused: tuple[AppName, ...] = ()
    failed: Mapping[AppName, str] = field(default_factory=dict)
    error: str | None = None


def render_limits(settings: Settings) -> RenderLimits:
    """The limits of every render, with the time and memory bounds the settings give."""
    return RenderLimits(
        timeout_seconds=settings.render_timeout,
        max_memory_bytes=settings.render_memory_mib * 1024 * 1024,
    )


def poll_repository(
    store: Store, fleet: Fleet, name: RepoName, *, force: bool = False
) -> PollOutcome:
    repo = fleet.repositories.get(name)
    if repo is None:
        return PollOutcome(error=f"{name}: repository is no longer declared")
    store.incr_stat("ls_remote")
    try:
        revision = git.resolve_revision(repo)
    except Exception as exc:  # every failure becomes the repository's status
        return PollOutcome(error=_record_repo_failure(store, fleet, repo, exc))
    bind(revision=revision)
    previous = store.repo_state(name)
    store.record_poll(name, sha=revision.sha, revision=str(revision))
    for app in fleet.applications_of(name):
        _clear_repo_error(store, app.name)
    needed = force or previous.fetched_sha != revision.sha
    return PollOutcome(revision=revision, fetch_needed=needed)


def fetch_repository(
    store: Store,
    fleet: Fleet,
    name: RepoName,
    *,
    mirror_dir: Path,
    scratch_dir: Path,
    limits: RenderLimits = DEFAULT_LIMITS,
    force: bool = False,
) -> FetchOutcome:
    """Fetch the latest polled sha (re-read from the store, never taken from a message) and
    render every application of the repository whose inputs changed, each under `limits`."""
    repo = fleet.repositories.get(name)
    state = store.repo_state(name)
    if repo is None or state.sha is None:
        return FetchOutcome()
    if not force and state.fetched_sha == state.sha:
        return FetchOutcome()
    revision = Revision(ref=repo.ref, sha=state.sha)
    bind(revision=revision)
    store.incr_stat("fetch")
    try:
        mirror = git.sync_mirror(repo, mirror_dir=mirror_dir, sha=revision.sha)
    except Exception as exc:  # every failure becomes the repository's status
        return FetchOutcome(revision=revision, error=_record_repo_failure(store, fleet, repo, exc))

    changed: dict[AppName, tuple[ClusterName, ...]] = {}
    rendered: list[AppName] = []
    reused: list[AppName] = []
    failed: dict[AppName, str] = {}
    sweep_scratch(scratch_dir)
    with ExitStack() as stack:
        checkout = _lazy_checkout(stack, mirror, revision.sha, scratch_dir)
        for app in fleet.applications_of(name):
            try:
                digest, was_rendered, renderer, warnings = _desired_digest(
                    store, app, mirror, revision, checkout, scratch_dir=scratch_dir, limits=limits
                )
            except (StoreError, TransientError):
                raise
            except Exception as exc:  # a render that fails fails the same way next time
                message = _about(app.name, exc)
                failed[app.name] = message
                store.set_source_error(app.name, message, revision=str(revision))
                log.warning("%s", message)
                continue
            (rendered if was_rendered else reused).append(app.name)
            store.clear_source_error(app.name)
            state_ = DesiredState(
                revision=revision,
                digest=digest,
                renderer=renderer,
                rendered_at=store.now(),
                observed=revision,
                warnings=warnings,
            )
            begin_rollout(store, fleet, app.name, state_)  # before any reconcile can see it
            if store.set_desired(app.name, state_):
                changed[app.name] = fleet.targets_of(app.name)
    store.record_fetched(name, revision.sha)
    return FetchOutcome(
        revision=revision,
        changed=changed,
        rendered=tuple(rendered),
        reused=tuple(reused),
        failed=failed,
    )


def render_key(app: Application, hashes: Mapping[str, str | None]) -> str:
    """What determines a render's output: the input trees, the renderer and its version, and
    the application's render options. Equal keys render equal bundles."""
    kinds = (
        [RendererKind.PLAIN, RendererKind.KUSTOMIZE, RendererKind.HELM, RendererKind.JSONNET]
        if app.renderer is RendererKind.AUTO
        else [app.renderer]
    )
    helm = asdict(app.helm)
    if app.renderer in (RendererKind.AUTO, RendererKind.HELM) and not app.helm.release:
        helm["release"] = app.name
    material: dict[str, Any] = {
        "trees": dict(sorted(hashes.items())),
        "path": app.path,
        "renderer": app.renderer.value,
        "versions": [renderer_version(k) for k in kinds],
        "namespace": app.namespace,
        "helm": helm,
    }
    if app.directory != DirectoryOptions():
        material["directory"] = asdict(app.directory)
    if app.jsonnet != JsonnetOptions():
        material["jsonnet"] = asdict(app.jsonnet)
    if app.sync.allow_empty:
        material["allow_empty"] = True
    return hashlib.sha256(canonical_json(material)).hexdigest()


def _desired_digest(
    store: Store,
    app: Application,
    mirror: Path,
    revision: Revision,
    checkout: Callable[[], Path],
    *,
    scratch_dir: Path,
    limits: RenderLimits,
) -> tuple[Digest, bool, str, tuple[str, ...]]:
    """(the bundle's digest, whether it was rendered now, the renderer used, the render's
    warnings); a render key seen before keeps the last render's renderer and warnings."""
    inputs = set(store.render_inputs(app.name) or ()) | {app.path}
    hashes = git.tree_hashes(mirror, revision.sha, sorted(inputs))
    if hashes.get(app.path) is None:
        raise PermanentError(
            f"{app.name}: path {app.path!r} does not exist at {revision.short}; "
            "check the application's path in fleet.yaml"
        )
    key = render_key(app, hashes)
    cached = store.cached_render(key)
    if cached is not None and store.bundle_size(cached) is not None:
        store.incr_stat("render_cache_hit")
        previous = store.desired(app.name)
        renderer = previous.renderer if previous else app.renderer.value
        return cached, False, renderer, store.render_warnings(key)
    store.incr_stat("render")
    result = render_isolated(
        RenderRequest(
            root=checkout(),
            path=app.path,
            renderer=app.renderer,
            namespace=app.namespace,
            helm=app.helm,
            app=app.name,
            directory=app.directory,
            jsonnet=app.jsonnet,
            allow_empty=app.sync.allow_empty,
        ),
        limits=limits,
        scratch_dir=scratch_dir,
    )
    digest = store.put_bundle(result.bundle)
    store.set_render_inputs(app.name, result.inputs)
    final_hashes = git.tree_hashes(mirror, revision.sha, sorted(set(result.inputs) | {app.path}))
    store.cache_render(render_key(app, final_hashes), digest, warnings=result.warnings)
    log.info(
        "%s: rendered %d objects at %s (%s)",
        app.name,
        len(result.bundle.objects),
        revision.short,
        result.renderer.value,
    )
    for warning in result.warnings:
        log.warning("%s: %s", app.name, warning)
    return digest, True, result.renderer.value, result.warnings


def _lazy_checkout(
    stack: ExitStack, mirror: Path, sha: str, scratch_dir: Path
) -> Callable[[], Path]:
    """A checkout made on first need only: a fetch whose applications all hit the render cache
    exports nothing. It lives in a scratch area of its own, removed with the stack."""
    made: list[Path] = []

    def get() -> Path:
        if not made:
            area = stack.enter_context(scratch_area(scratch_dir, prefix=f"checkout-{sha[:12]}-"))
            made.append(stack.enter_context(git.checkout(mirror, sha, scratch_dir=area)))
        return made[0]

    return get


def _record_repo_failure(store: Store, fleet: Fleet, repo: Repository, exc: Exception) -> str:
    """Record a failed poll or fetch as the repository's (and its applications') status and
    defer its next poll with backoff. Only a PermanentError counts as permanent."""
    if isinstance(exc, StoreError):
        raise exc
    message = _about(repo.name, exc)
    kind = "permanent" if isinstance(exc, PermanentError) else "transient"
    store.incr_stat(f"repo_error_{kind}")
    failures = store.record_repo_error(repo.name, message)
    # Doubling from the poll interval, up to five minutes (or the interval, when longer).
    delay = backoff_delay(failures, first=repo.interval, cap=max(repo.interval, MAX_BACKOFF))
    store.defer(DueSet.POLL, repo.name, delay)
    log.warning("%s (%s failure %d in a row; next try in %.0fs)", message, kind, failures, delay)
    state = store.repo_state(repo.name)
    for app in fleet.applications_of(repo.name):
        store.set_source_error(
            app.name, message, revision=state.revision or repo.ref, stage="repository"
        )
    return message


def _about(subject: str, exc: Exception) -> str:
    """The error's message, starting with its subject (fleetsync's own errors name theirs)."""
    return describe(exc) if isinstance(exc, FleetsyncError) else f"{subject}: {describe(exc)}"


def _clear_repo_error(store: Store, app: AppName) -> None:
    """A repository that answers again clears the repository-level errors of its applications;
    render errors are cleared by the next successful render."""
    err = store.source_error(app)
    if err is not None and err.stage == "repository":
        store.clear_source_error(app)


def render_at(
    fleet: Fleet,
    name: AppName,
    *,
    revision: str | None,
    mirror_dir: Path,
    scratch_dir: Path | None = None,
    limits: RenderLimits | None = None,
) -> tuple[Revision, RenderResult]:
    """Render one application locally at `revision` (a branch, tag or sha; default: the
    repository's ref), as `fleetsync render` and `fleetsync diff` do: no Redis, no cluster.
    The checkout goes to a private temporary directory unless `scratch_dir` is given; the
    limits are the settings' (FLEETSYNC_RENDER_*) unless given."""
    app = fleet.applications.get(name)
    if app is None:
        declared = ", ".join(sorted(fleet.applications)) or "none"
        raise PermanentError(f"{name}: no such application; declared applications: {declared}")
    repo = fleet.repositories[app.repository]
    wanted = replace(repo, ref=revision) if revision else repo
    resolved = git.resolve_revision(wanted)
    mirror = git.sync_mirror(repo, mirror_dir=mirror_dir, sha=resolved.sha)
    with ExitStack() as stack:
        scratch = scratch_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="fleetsync-render-"))
        )
        area = stack.enter_context(scratch_area(scratch, prefix="checkout-"))
        root = stack.enter_context(git.checkout(mirror, resolved.sha, scratch_dir=area))
        result = render_isolated(
            RenderRequest(
                root=root,
                path=app.path,
                renderer=app.renderer,
                namespace=app.namespace,
                helm=app.helm,
                app=app.name,
                directory=app.directory,
                jsonnet=app.jsonnet,
                allow_empty=app.sync.allow_empty,
            ),
            limits=limits or render_limits(load_settings()),
            scratch_dir=scratch,
        )
    return resolved, result
