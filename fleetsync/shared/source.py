"""The source side of the pipeline: poll a repository, then fetch and render what changed.

poll: one ls-remote; an unchanged sha stops there (no clone, no render). Failures back off per
repository with jitter and are recorded, never retried in a tight loop.

fetch: bring the host's bare mirror up to the polled sha, then for each application on the
repository compute its render key from the git tree hashes of what its last render read (its
path, kustomize bases, chart dependencies) plus renderer, version and values. A key seen before
reuses its bundle; only a new key costs a checkout and a render. An application whose render fails
(bad input, or a render stopped at its time or memory limit) keeps its last good desired state and
records the error; the others carry on.

A repository of type helm or oci (a chart repository, an OCI registry) takes the same path:
its poll resolves each application's chart version (helm_sources.poll_charts), its fetch renders
the chart unpacked from the host's chart cache, and the render key holds the chart's digest.
Before a Helm render, the chart's dependencies on chart repositories are fetched into the
checkout, and `helm.valuesFrom` values are read from their Git repository (helm_sources).

Helm and kustomize render in a process of their own (render.isolation), never in the worker
process. Checkouts and render processes work in scratch areas that are removed when their work
ends, however it ends; a fetch first sweeps the areas of processes that were killed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import fleetsync.shared.git as git
import fleetsync.shared.helm_sources as helm_sources
from fleetsync.shared.charts import ChartVersion
from fleetsync.shared.charts.http import SourceUnreachable
from fleetsync.shared.errors import FleetsyncError, PermanentError, TransientError, describe
from fleetsync.shared.logcontext import bind
from fleetsync.shared.model.backoff import backoff_delay
from fleetsync.shared.model.bundle import Bundle, canonical_json
from fleetsync.shared.model.declaration import (
    Application,
    DirectoryOptions,
    Fleet,
    JsonnetOptions,
    Patch,
    RendererKind,
    Repository,
)
from fleetsync.shared.model.desired import DesiredState
from fleetsync.shared.model.ids import AppName, ClusterName, Digest, RepoName
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.render import (
    Limit,
    RenderLimits,
    RenderRequest,
    RenderResult,
    render_isolated,
    renderer_version,
    scratch_area,
    sweep_scratch,
)
from fleetsync.shared.rollouts import admit_desired
from fleetsync.shared.settings import Settings, load_settings
from fleetsync.shared.store import DueSet, Store, StoreError
from fleetsync.shared.variants import grouping
from fleetsync.shared.variants.substitution import Resolved, SubstitutionError

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
    values_readers: tuple[RepoName, ...] = ()
    """Other repositories whose applications take values from this one (helm.valuesFrom):
    fetch them again, a file they read may have changed."""


def render_limits(settings: Settings) -> RenderLimits:
    """The limits of every render, with the time and memory bounds the settings give."""
    return RenderLimits(
        timeout_seconds=settings.render_timeout,
        max_memory_bytes=settings.render_memory_mib * 1024 * 1024,
    )


def poll_repository(
    store: Store,
    fleet: Fleet,
    name: RepoName,
    *,
    force: bool = False,
    chart_dir: Path | None = None,
) -> PollOutcome:
    """Resolve the repository's ref (a chart source: its applications' charts, with the chart
    cache's index copies in `chart_dir`) and say whether a fetch is needed."""
    repo = fleet.repositories.get(name)
    if repo is None:
        return PollOutcome(error=f"{name}: repository is no longer declared")
    store.incr_stat("ls_remote")
    charts: helm_sources.ChartPoll | None = None
    try:
        if repo.is_chart_source:
            charts = helm_sources.poll_charts(repo, fleet, chart_dir=chart_dir or _chart_dir())
            revision = charts.revision
        else:
            revision = git.resolve_revision(repo)
    except Exception as exc:  # every failure becomes the repository's status
        return PollOutcome(error=_record_repo_failure(store, fleet, repo, exc))
    sha = charts.sha if charts is not None else revision.sha
    bind(revision=revision)
    previous = store.repo_state(name)
    store.record_poll(
        name, sha=sha, revision=str(revision), charts=charts.resolutions if charts else None
    )
    for app in fleet.applications_of(name):
        _clear_repo_error(store, app.name)
    for app_name, message in charts.errors.items() if charts is not None else ():
        store.set_source_error(app_name, message, revision=str(revision), stage="repository")
        log.warning("%s", message)
    needed = force or previous.fetched_sha != sha
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
    chart_dir: Path | None = None,
) -> FetchOutcome:
    """Fetch the latest polled sha (re-read from the store, never taken from a message) and
    render every application of the repository whose inputs changed, each under `limits`.
    Chart archives and dependencies are kept in `chart_dir` (default: beside the mirrors)."""
    repo = fleet.repositories.get(name)
    state = store.repo_state(name)
    if repo is None or state.sha is None:
        return FetchOutcome()
    if not force and state.fetched_sha == state.sha:
        return FetchOutcome()
    chart_dir = chart_dir or mirror_dir.parent / "charts"
    moved = state.fetched_sha != state.sha
    revision = (
        _chart_source_revision(state.revision, state.sha)
        if repo.is_chart_source
        else Revision(ref=repo.ref, sha=state.sha)
    )
    bind(revision=revision)
    store.incr_stat("fetch")
    try:
        mirror = (
            None
            if repo.is_chart_source
            else git.sync_mirror(repo, mirror_dir=mirror_dir, sha=revision.sha)
        )
    except Exception as exc:  # every failure becomes the repository's status
        return FetchOutcome(revision=revision, error=_record_repo_failure(store, fleet, repo, exc))

    changed: dict[AppName, tuple[ClusterName, ...]] = {}
    rendered: list[AppName] = []
    reused: list[AppName] = []
    failed: dict[AppName, str] = {}
    unreachable = False
    sweep_scratch(scratch_dir)
    with ExitStack() as stack:
        checkout = (
            _lazy_checkout(stack, mirror, revision.sha, scratch_dir) if mirror is not None else None
        )
        source = _Source(
            store=store,
            fleet=fleet,
            scratch_dir=scratch_dir,
            mirror_dir=mirror_dir,
            chart_dir=chart_dir,
            limits=limits,
        )
        for app in fleet.applications_of(name):
            app_revision = revision
            try:
                digest_of: Callable[[Application], _Digested]
                if checkout is None or mirror is None:
                    version = helm_sources.chart_resolution(state, app)
                    app_revision = helm_sources.chart_revision(version)
                    origin = f"chart {version.name} {version.version}"
                    digest_of = partial(source.chart_digest, repo=repo, version=version)
                else:
                    origin = f"{repo.name}:{{path}}"
                    digest_of = partial(
                        _desired_digest,
                        source,
                        mirror=mirror,
                        revision=revision,
                        checkout=checkout,
                    )
                if app.varies:
                    found = source.variants(app, digest_of, origin=origin)
                    renderer, warnings = found.renderer, found.warnings
                    was_rendered = found.rendered
                else:
                    digest, was_rendered, renderer, warnings = digest_of(app)
            except helm_sources.UnresolvedChart as exc:
                failed[app.name] = str(exc)  # the poll recorded it as the application's error
                continue
            except SourceUnreachable as exc:
                # A chart source that is down: this application waits, the others carry on, and
                # the repository is fetched again at its next poll.
                unreachable = True
                failed[app.name] = message = _about(app.name, exc)
                store.set_source_error(app.name, message, revision=str(app_revision))
                log.warning("%s", message)
                continue
            except (StoreError, TransientError):
                raise
            except Exception as exc:  # a render that fails fails the same way next time
                message = _about(app.name, exc)
                failed[app.name] = message
                store.set_source_error(app.name, message, revision=str(app_revision))
                log.warning("%s", message)
                continue
            (rendered if was_rendered else reused).append(app.name)
            state_ = DesiredState(
                revision=app_revision,
                digest=digest if not app.varies else Digest(""),
                renderer=renderer,
                rendered_at=store.now(),
                observed=app_revision,
                warnings=warnings,
            )
            if app.varies:
                clusters = _set_variants(store, fleet, app, state_, found)
                if clusters:
                    changed[app.name] = clusters
                if found.failed:
                    failed[app.name] = found.error
                continue
            store.clear_source_error(app.name)
            # Before any reconcile can see it; a state that waits for a pinned rollout is not
            # written (the beat fetches it again once it may start).
            if not admit_desired(store, fleet, app.name, state_):
                continue
            if store.set_desired(app.name, state_):
                changed[app.name] = fleet.targets_of(app.name)
    if not unreachable:
        store.record_fetched(name, state.sha)
    return FetchOutcome(
        revision=revision,
        changed=changed,
        rendered=tuple(rendered),
        reused=tuple(reused),
        failed=failed,
        # Only a new commit can change a file others read: a forced fetch of the same one
        # names nobody (two repositories reading each other's files never loop).
        values_readers=tuple(r for r in fleet.values_readers_of(name) if r != name)
        if moved
        else (),
    )


def render_key(
    app: Application,
    hashes: Mapping[str, str | None],
    extra: Mapping[str, object] | None = None,
) -> str:
    """What determines a render's output: the input trees (or a chart's digest, in `extra`),
    the renderer and its version, the application's render options and the values it reads
    from elsewhere (`extra`). Equal keys render equal bundles."""
    kinds = (
        [RendererKind.PLAIN, RendererKind.KUSTOMIZE, RendererKind.HELM, RendererKind.JSONNET]
        if app.renderer is RendererKind.AUTO
        else [app.renderer]
    )
    helm = asdict(app.helm)
    if helm.get("values_from") is None:
        helm.pop("values_from", None)
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
    if extra:
        material["from"] = dict(sorted(extra.items()))
    return hashlib.sha256(canonical_json(material)).hexdigest()


_Digested = tuple[Digest, bool, str, tuple[str, ...]]
"""(the bundle's digest, whether it was rendered now, the renderer used, the render's
warnings)."""


@dataclass(slots=True)
class _Source:
    """What the renders of one fetch share: the store, the fleet, scratch, caches and limits."""

    store: Store
    fleet: Fleet
    scratch_dir: Path
    mirror_dir: Path
    chart_dir: Path
    limits: RenderLimits

    def values_from(self, app: Application) -> helm_sources.ValuesFromFile | None:
        source = app.helm.values_from
        if source is None:
            return None
        sha = self.store.repo_state(source.repository).sha
        return helm_sources.read_values_from(
            self.fleet, app, sha=sha, mirror_dir=self.mirror_dir, limits=self.limits
        )

    def cached(self, app: Application, key: str) -> _Digested | None:
        """A render key seen before keeps the last render's renderer and warnings."""
        cached = self.store.cached_render(key)
        if cached is None or self.store.bundle_size(cached) is None:
            return None
        self.store.incr_stat("render_cache_hit")
        previous = self.store.desired(app.name)
        renderer = previous.renderer if previous else app.renderer.value
        return cached, False, renderer, self.store.render_warnings(key)

    def render(
        self, app: Application, root: Path, values: helm_sources.ValuesFromFile | None
    ) -> RenderResult:
        self.store.incr_stat("render")
        return _render(
            app,
            root,
            values,
            fleet=self.fleet,
            chart_dir=self.chart_dir,
            scratch_dir=self.scratch_dir,
            limits=self.limits,
        )

    def variants(
        self, app: Application, digest_of: Callable[[Application], _Digested], *, origin: str
    ) -> _Variants:
        """Each target cluster's bundle: one render per distinct input (the Helm values with
        the cluster's variables written in), then, when the application substitutes, one
        substituted bundle per distinct resolution of the variables the render uses."""
        targets = [self.fleet.clusters[c] for c in self.fleet.targets_of(app.name)]
        before = grouping.render_groups(app, targets)
        found = _Variants(failed=dict(before.failed), renderer=app.renderer.value)
        for group in before.groups:
            base, was_rendered, found.renderer, warnings = digest_of(group.app)
            found.rendered = found.rendered or was_rendered
            found.warnings += tuple(w for w in warnings if w not in found.warnings)
            if group.patches:
                base = self.patched(app, base, group.patches)
            if not app.substitute:
                found.digests.update(dict.fromkeys(group.clusters, base))
                continue
            bundle = self.store.get_bundle(base)
            if bundle is None:
                raise PermanentError(f"{app.name}: bundle {base[:12]} is missing from Redis")
            try:
                refs = grouping.bundle_references(bundle)
            except SubstitutionError as exc:
                where = origin.replace("{path}", group.app.path)
                raise PermanentError(f"{app.name}: {exc} (rendered from {where})") from exc
            chosen = [self.fleet.clusters[c] for c in group.clusters]
            where = origin.replace("{path}", group.app.path)
            after = grouping.output_groups(app, chosen, refs, origin=where)
            found.failed.update(after.failed)
            for variant in after.groups:
                digest = self.substituted(app, base, bundle, variant.resolved)
                found.digests.update(dict.fromkeys(variant.clusters, digest))
        return found

    def patched(
        self, app: Application, base: Digest, patches: Sequence[tuple[str, Patch]]
    ) -> Digest:
        """The bundle with the overrides' patches applied in order (strategic merge or JSON
        6902, by kustomize in a render process), kept by a key of the bundle and the patches."""
        material = {
            "bundle": base,
            "patches": [[name, p.target.kind, p.target.name, p.patch] for name, p in patches],
            "kustomize": renderer_version(RendererKind.KUSTOMIZE),
        }
        key = "patched-" + hashlib.sha256(canonical_json(material)).hexdigest()
        cached = self.store.cached_render(key)
        if cached is not None and self.store.bundle_size(cached) is not None:
            return cached
        bundle = self.store.get_bundle(base)
        if bundle is None:
            raise PermanentError(f"{app.name}: bundle {base[:12]} is missing from Redis")
        self.store.incr_stat("patch_render")
        patched = _patch_bundle(
            app, bundle, patches, scratch_dir=self.scratch_dir, limits=self.limits
        )
        digest = self.store.put_bundle(patched)
        self.store.cache_render(key, digest)
        return digest

    def substituted(
        self, app: Application, base: Digest, bundle: Bundle, resolved: Resolved
    ) -> Digest:
        """The bundle with `resolved` written in, kept by a key of exactly what it reads."""
        if not resolved and "$${" not in canonical_json(list(bundle.objects)).decode():
            return base
        key = grouping.variant_key(base, resolved)
        cached = self.store.cached_render(key)
        if cached is not None and self.store.bundle_size(cached) is not None:
            self.store.incr_stat("variant_cache_hit")
            return cached
        result = bundle.with_objects(grouping.substitute_objects(bundle.objects, resolved))
        size = len(result.canonical())
        if size > self.limits.max_output_bytes:
            raise PermanentError(
                f"{app.name}: "
                + self.limits.problem(Limit.OUTPUT, detail=f"{size:,} bytes after substitution")
            )
        self.store.incr_stat("variant_render")
        digest = self.store.put_bundle(result)
        self.store.cache_render(key, digest)
        return digest

    def chart_digest(self, app: Application, repo: Repository, version: ChartVersion) -> _Digested:
        """The bundle of a chart from a chart repository or registry, keyed by its digest."""
        values = self.values_from(app)
        extra: dict[str, object] = {"chart": version.to_json()}
        if values is not None:
            extra["valuesFrom"] = values.blob
        key = render_key(app, {}, extra)
        cached = self.cached(app, key)
        if cached is not None:
            return cached
        with helm_sources.unpack_chart(
            repo, version, chart_dir=self.chart_dir, scratch_dir=self.scratch_dir
        ) as root:
            result = self.render(app, root, values)
        digest = self.store.put_bundle(result.bundle)
        self.store.cache_render(key, digest, warnings=result.warnings)
        log.info(
            "%s: rendered %d objects of chart %s %s",
            app.name,
            len(result.bundle.objects),
            version.name,
            version.version,
        )
        for warning in result.warnings:
            log.warning("%s: %s", app.name, warning)
        return digest, True, result.renderer.value, result.warnings


def _patch_bundle(
    app: Application,
    bundle: Bundle,
    patches: Sequence[tuple[str, Patch]],
    *,
    scratch_dir: Path,
    limits: RenderLimits,
) -> Bundle:
    """The bundle with the patches applied in order, by kustomize in a render process; a patch
    whose target is not in the bundle is an error naming it."""
    missing = grouping.missing_targets(bundle.objects, patches)
    if missing:
        raise PermanentError(
            f"{app.name}: {'; '.join(missing)}; name an object the application renders"
        )
    with scratch_area(scratch_dir, prefix="patch-") as area:
        (area / "objects.yaml").write_text("\n---\n".join(json.dumps(o) for o in bundle.objects))
        kustomization = {
            "resources": ["objects.yaml"],
            "patches": [
                {
                    "target": {"kind": p.target.kind, "name": p.target.name},
                    "patch": json.dumps(grouping.patch_document(bundle.objects, p)),
                }
                for _, p in patches
            ],
        }
        (area / "kustomization.yaml").write_text(json.dumps(kustomization))
        result = render_isolated(
            RenderRequest(
                root=area, path=".", renderer=RendererKind.KUSTOMIZE, app=app.name, allow_empty=True
            ),
            limits=limits,
            scratch_dir=scratch_dir,
        )
    return bundle.with_objects(result.bundle.objects)


def _for_cluster(
    fleet: Fleet,
    app: Application,
    cluster: ClusterName,
    render: Callable[[Application], RenderResult],
    *,
    origin: str,
    scratch_dir: Path,
    limits: RenderLimits,
) -> RenderResult:
    """What `cluster` gets of `app`: its overrides, Helm variables, patches and substitution."""
    if cluster not in fleet.targets_of(app.name):
        targets = ", ".join(fleet.targets_of(app.name)) or "none"
        raise PermanentError(
            f"{app.name}: does not target cluster '{cluster}'; it targets {targets}"
        )
    declared = fleet.clusters[cluster]
    try:
        found = grouping.render_groups(app, [declared])
        if found.failed:
            raise PermanentError(found.failed[cluster])
        group = found.groups[0]
        result = render(group.app)
        bundle = result.bundle
        if group.patches:
            bundle = _patch_bundle(
                app, bundle, group.patches, scratch_dir=scratch_dir, limits=limits
            )
        if app.substitute:
            refs = grouping.bundle_references(bundle)
            where = origin.replace("{path}", group.app.path)
            after = grouping.output_groups(app, [declared], refs, origin=where)
            if after.failed:
                raise PermanentError(after.failed[cluster])
            bundle = bundle.with_objects(
                grouping.substitute_objects(bundle.objects, after.groups[0].resolved)
            )
    except SubstitutionError as exc:
        raise PermanentError(f"{app.name}: {exc}") from exc
    return replace(result, bundle=bundle)


def _render(
    app: Application,
    root: Path,
    values: helm_sources.ValuesFromFile | None,
    *,
    fleet: Fleet,
    chart_dir: Path,
    scratch_dir: Path,
    limits: RenderLimits,
) -> RenderResult:
    """Fetch the chart's dependencies into `root` when it renders with Helm, then render it in
    a render process, with the values from `helm.valuesFrom` under the inline values."""
    helm_sources.fetch_chart_dependencies(root, app, fleet, chart_dir=chart_dir)
    helm = app.helm
    if values is not None:
        helm = replace(helm, values=helm_sources.merged_values(values.values, helm.values))
    return render_isolated(
        RenderRequest(
            root=root,
            path=app.path,
            renderer=app.renderer,
            namespace=app.namespace,
            helm=helm,
            app=app.name,
            directory=app.directory,
            jsonnet=app.jsonnet,
            allow_empty=app.sync.allow_empty,
        ),
        limits=limits,
        scratch_dir=scratch_dir,
    )


@dataclass(slots=True)
class _Variants:
    """What an application with per-cluster variants renders: each cluster's bundle."""

    digests: dict[ClusterName, Digest] = field(default_factory=dict)
    failed: dict[ClusterName, str] = field(default_factory=dict)
    """Clusters whose variables do not resolve: they keep what they had."""
    renderer: str = ""
    warnings: tuple[str, ...] = ()
    rendered: bool = False

    @property
    def error(self) -> str:
        first = sorted(self.failed.items())
        more = len(first) - 1
        return first[0][1] + (f" (and {more} more cluster(s))" if more else "")


def _set_variants(
    store: Store, fleet: Fleet, app: Application, state: DesiredState, found: _Variants
) -> tuple[ClusterName, ...]:
    """Write each cluster's bundle (a cluster that failed keeps its last one, and its own
    error, which its pair's status shows); the clusters whose record moved. The application's
    error names the clusters that failed, if any."""
    targets = fleet.targets_of(app.name)
    kept = store.variants(app.name, [c for c in targets if c in found.failed])
    digests = {c: v.digest for c, v in kept.items() if v.digest} | found.digests
    if found.failed:
        store.set_source_error(app.name, found.error, revision=str(state.revision))
        for message in found.failed.values():
            log.warning("%s", message)
    else:
        store.clear_source_error(app.name)
    if digests:
        state = replace(
            state,
            digest=Digest(grouping.set_digest(digests)),
            variants=len(set(digests.values())),
        )
        # Before any reconcile can see it; a state that waits for a pinned rollout is not
        # written (the beat fetches it again once it may start).
        if not admit_desired(store, fleet, app.name, state):
            return ()
    return store.set_desired_variants(app.name, state, digests, found.failed)


def _desired_digest(
    source: _Source,
    app: Application,
    *,
    mirror: Path,
    revision: Revision,
    checkout: Callable[[], Path],
) -> _Digested:
    """(the bundle's digest, whether it was rendered now, the renderer used, the render's
    warnings); a render key seen before keeps the last render's renderer and warnings."""
    store = source.store
    inputs_of = _inputs_name(app)
    inputs = set(store.render_inputs(inputs_of) or ()) | {app.path}
    hashes = git.tree_hashes(mirror, revision.sha, sorted(inputs))
    if hashes.get(app.path) is None:
        raise PermanentError(
            f"{app.name}: path {app.path!r} does not exist at {revision.short}; "
            "check the application's path in fleet.yaml"
        )
    values = source.values_from(app)
    extra = {"valuesFrom": values.blob} if values is not None else None
    key = render_key(app, hashes, extra)
    cached = source.cached(app, key)
    if cached is not None:
        return cached
    result = source.render(app, checkout(), values)
    digest = store.put_bundle(result.bundle)
    store.set_render_inputs(inputs_of, result.inputs)
    final_hashes = git.tree_hashes(mirror, revision.sha, sorted(set(result.inputs) | {app.path}))
    store.cache_render(render_key(app, final_hashes, extra), digest, warnings=result.warnings)
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


def _inputs_name(app: Application) -> AppName:
    """Whose recorded inputs key the render: the application's, or, with overrides that may
    render other paths, the application's at that path (`app:<name>:<path>:inputs`)."""
    return AppName(f"{app.name}:{app.path}") if app.overrides else app.name


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


def _chart_source_revision(recorded: str | None, sha: str) -> Revision:
    """What a chart source's last poll resolved to, as it recorded it (helm_sources)."""
    try:
        return Revision.parse(recorded or "")
    except ValueError:
        return Revision(ref=recorded or "charts", sha=sha, algorithm="sha256")


def _chart_dir() -> Path:
    return load_settings().cache_dir / "charts"


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


def _resolve_locally(repo: Repository, revision: str | None, *, mirror_dir: Path) -> Revision:
    """The commit `revision` names: a branch or tag (ls-remote), a full sha, or a unique prefix
    of one that is no branch or tag (looked up in the host's mirror)."""
    wanted = replace(repo, ref=revision) if revision else repo
    try:
        return git.resolve_revision(wanted)
    except PermanentError:
        if revision is None or not git.is_short_sha(revision):
            raise
        return git.resolve_short_sha(repo, revision, mirror_dir=mirror_dir)


def render_at(
    fleet: Fleet,
    name: AppName,
    *,
    revision: str | None,
    mirror_dir: Path,
    scratch_dir: Path | None = None,
    limits: RenderLimits | None = None,
    cluster: ClusterName | None = None,
) -> tuple[Revision, RenderResult]:
    """Render one application locally at `revision` (a branch, tag, sha or a unique prefix of
    one; default: the repository's ref), as `fleetsync render` and `fleetsync diff` do: no
    Redis, no cluster.
    The checkout goes to a private temporary directory unless `scratch_dir` is given; the
    limits are the settings' (FLEETSYNC_RENDER_*) unless given. With `cluster`: what that cluster
    gets (its overrides, its Helm variables, the patches, its variables substituted)."""
    app = fleet.applications.get(name)
    if app is None:
        declared = ", ".join(sorted(fleet.applications)) or "none"
        raise PermanentError(f"{name}: no such application; declared applications: {declared}")
    repo = fleet.repositories[app.repository]
    limits = limits or render_limits(load_settings())
    chart_dir = mirror_dir.parent / "charts"
    with ExitStack() as stack:
        scratch = scratch_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="fleetsync-render-"))
        )
        values = _values_now(fleet, app, mirror_dir=mirror_dir, limits=limits)
        if repo.is_chart_source:
            chosen = replace(app, version=revision) if revision else app
            version = helm_sources.resolve_now(repo, chosen, chart_dir=chart_dir)
            resolved = helm_sources.chart_revision(version)
            root = stack.enter_context(
                helm_sources.unpack_chart(repo, version, chart_dir=chart_dir, scratch_dir=scratch)
            )
        else:
            resolved = _resolve_locally(repo, revision, mirror_dir=mirror_dir)
            mirror = git.sync_mirror(repo, mirror_dir=mirror_dir, sha=resolved.sha)
            area = stack.enter_context(scratch_area(scratch, prefix="checkout-"))
            root = stack.enter_context(git.checkout(mirror, resolved.sha, scratch_dir=area))

        def render(chosen: Application) -> RenderResult:
            return _render(
                chosen,
                root,
                values,
                fleet=fleet,
                chart_dir=chart_dir,
                scratch_dir=scratch,
                limits=limits,
            )

        if cluster is None:
            return resolved, render(app)
        origin = f"chart {app.chart}" if repo.is_chart_source else f"{repo.name}:{{path}}"
        result = _for_cluster(
            fleet, app, cluster, render, origin=origin, scratch_dir=scratch, limits=limits
        )
    return resolved, result


def _values_now(
    fleet: Fleet, app: Application, *, mirror_dir: Path, limits: RenderLimits
) -> helm_sources.ValuesFromFile | None:
    """`helm.valuesFrom` at its repository's ref now (no store: the CLI's render)."""
    source = app.helm.values_from
    if source is None:
        return None
    repo = fleet.repositories[source.repository]
    sha = git.resolve_revision(repo).sha
    return helm_sources.read_values_from(fleet, app, sha=sha, mirror_dir=mirror_dir, limits=limits)
