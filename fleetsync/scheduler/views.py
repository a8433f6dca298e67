"""The read model: fleet state as people see it, one set of values for the CLI, the HTTP API and
the web view, assembled from the published declaration and the store.

Targets come from the declaration; a target never reconciled is Unknown/Unknown "not yet
reconciled" rather than left out, so a new cluster or application is visible at once. Lists
that filter or count over the whole fleet read a `FleetSnapshot` (every pair's cell, in
memory); details read full statuses from the store. Filters that do not parse raise
`FilterError`, unknown names `NotFound`, each saying which one and why.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

from fleetsync.scheduler.fleet_index import NOT_YET_RECONCILED, FleetSnapshot, Tally
from fleetsync.scheduler.selectors import SelectorError, parse_selector
from fleetsync.shared.model.declaration import Application, Fleet, Repository, Selector
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.report import age as model_age
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.model.status import ChangeAction, Health, SyncState
from fleetsync.shared.store import Store
from fleetsync.shared.store.apply import HISTORY_LENGTH
from fleetsync.shared.store.cells import AppState, Cell
from fleetsync.shared.urls import display_url

SYNC_WORDS = tuple(s.value for s in SyncState)
HEALTH_WORDS = tuple(h.value for h in Health)
STATE_WORDS = tuple(dict.fromkeys((*SYNC_WORDS, *HEALTH_WORDS)))
MAX_PAGE = 500


class FilterError(ValueError):
    """A filter that does not parse (answered with 400)."""


class NotFound(LookupError):
    """An application, cluster, repository or revision that does not exist (answered with 404)."""


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeView:
    key: str
    action: ChangeAction
    message: str = ""


@dataclass(frozen=True, slots=True)
class PairView:
    """One application on one cluster, as its last reconcile left it."""

    application: str
    cluster: str
    sync: SyncState
    health: Health
    revision: str
    digest: str
    at: float | None
    """When the reconcile finished; None when the pair was never reconciled."""
    duration: float
    message: str
    error_object: str | None
    counts: dict[str, int]
    changes: list[ChangeView]
    drifted: list[str]
    reason: str
    """What triggered the reconcile, for people (`new desired state`, `drift check`, ...)."""
    trigger: str
    """The same as a stable token (`change`, `targeted`, `drift`, `manual`)."""
    targeted: bool = True
    """False for a cluster the application no longer targets but that still has a status."""
    hooks: list[HookView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PairSummary:
    cluster: str
    sync: SyncState
    health: Health
    revision: str
    at: float | None
    message: str


@dataclass(frozen=True, slots=True)
class DesiredView:
    revision: str
    digest: str
    renderer: str
    rendered_at: float
    observed: str | None
    warnings: list[str] = field(default_factory=list)
    """What the render skipped (files without a Kubernetes object, Helm test hooks)."""
    variants: int = 0
    """0: one bundle for every cluster (`digest`); otherwise how many distinct bundles the
    clusters run (per-cluster values or overrides) and `digest` names the set."""


@dataclass(frozen=True, slots=True)
class HookView:
    """A hook of the pair's last sync with hooks, and where to read its logs."""

    phase: str
    key: str
    name: str
    state: str
    message: str = ""
    logs: str = ""


@dataclass(frozen=True, slots=True)
class SourceErrorView:
    message: str
    revision: str
    at: float
    stage: str


@dataclass(frozen=True, slots=True)
class PinView:
    revision: str
    digest: str
    at: float
    clusters: dict[str, str] = field(default_factory=dict)
    """Per-cluster variants: the bundle each cluster is pinned to, as `<digest> <revision>`."""


@dataclass(frozen=True, slots=True)
class SourceView:
    repository: str
    url: str
    ref: str
    path: str
    renderer: str


@dataclass(frozen=True, slots=True)
class ApplicationSummary:
    name: str
    repository: str
    path: str
    namespace: str | None
    desired: DesiredView | None
    source_error: SourceErrorView | None
    suspended: bool
    pinned: PinView | None
    sync: SyncState
    """Synced when every target is, OutOfSync when any is, else Unknown."""
    health: Health
    """The worst health over the targets."""
    clusters: list[PairSummary]


@dataclass(frozen=True, slots=True)
class ApplicationDetail:
    name: str
    source: SourceView
    namespace: str | None
    desired: DesiredView | None
    source_error: SourceErrorView | None
    suspended: bool
    pinned: PinView | None
    sync: SyncState
    health: Health
    clusters: list[PairView]
    """Every target's full status, then any status left on a cluster no longer targeted."""


@dataclass(frozen=True, slots=True)
class ClusterView:
    name: str
    labels: dict[str, str]
    applications: list[str]
    health: Health
    """The worst health of the applications on it (Unknown while any is not yet reconciled)."""
    sync: SyncState
    drift_detection: str = ""
    """"watching", or "interval checks only: <why>" (watches refused, failing, no watcher)."""


@dataclass(frozen=True, slots=True)
class RevisionPair:
    application: str
    cluster: str
    sync: SyncState
    health: Health
    converged: bool
    """Synced and Healthy."""
    at: float | None


@dataclass(frozen=True, slots=True)
class RevisionView:
    revision: str
    health: Health
    converged: int
    """How many of the pairs running it are Synced and Healthy."""
    pairs: list[RevisionPair]


@dataclass(frozen=True, slots=True)
class RepositoryView:
    name: str
    url: str
    ref: str
    interval: float
    sha: str | None
    revision: str | None
    polled_at: float | None
    fetched_sha: str | None
    error: str | None
    error_at: float | None
    failures: int
    applications: list[str]


@dataclass(frozen=True, slots=True)
class MatrixCell:
    sync: SyncState
    health: Health
    revision: str
    at: float | None
    message: str


@dataclass(frozen=True, slots=True)
class MatrixRow:
    application: str
    sync: SyncState
    health: Health
    desired_revision: str | None
    source_error: str | None
    suspended: bool
    pinned: str | None
    cells: list[MatrixCell | None]
    """One per column; None where the application does not target the cluster."""


@dataclass(frozen=True, slots=True)
class MatrixColumn:
    cluster: str
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class FleetMatrix:
    columns: list[MatrixColumn]
    rows: list[MatrixRow]
    sync_counts: dict[str, int]
    """Pairs per sync state over the filtered fleet (before the state filter)."""
    health_counts: dict[str, int]
    """Pairs per health over the filtered fleet (before the state filter)."""
    source_errors: int
    """Applications (passing the filters) whose last render or fetch failed."""
    applications: int
    """Applications that pass every filter (rows over all pages)."""
    clusters: int
    """Clusters that pass the cluster filters (columns over all pages)."""
    offset: int
    limit: int
    cluster_offset: int
    cluster_limit: int
    version: str
    """Changes whenever anything shown may have changed: poll it to stay live."""


# -- filters and pages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    name: str = ""
    """Applications whose name contains this (case-insensitive)."""
    repository: str = ""
    cluster: str = ""
    selector: Selector | None = None
    selector_text: str = ""
    states: frozenset[str] = frozenset()
    """Keep applications with a pair in any of these sync or health states."""

    @property
    def restricts_clusters(self) -> bool:
        return bool(self.cluster) or self.selector is not None

    def cluster_key(self) -> tuple[str, str]:
        return self.cluster, self.selector_text


def parse_filters(
    fleet: Fleet,
    *,
    name: str | None = None,
    repository: str | None = None,
    cluster: str | None = None,
    selector: str | None = None,
    states: Iterable[str] = (),
) -> Filters:
    if cluster and cluster not in fleet.clusters:
        raise NotFound(f"{cluster}: no such cluster")
    if repository and repository not in fleet.repositories:
        raise NotFound(f"{repository}: no such repository")
    parsed = None
    if selector and selector.strip():
        try:
            parsed = parse_selector(selector)
        except SelectorError as exc:
            raise FilterError(str(exc)) from exc
    return Filters(
        name=(name or "").strip(),
        repository=repository or "",
        cluster=cluster or "",
        selector=parsed,
        selector_text=(selector or "").strip() if parsed is not None else "",
        states=parse_states(states),
    )


def parse_states(values: Iterable[str]) -> frozenset[str]:
    """Sync and health words, case-insensitive, comma-separated or repeated."""
    canonical = {w.lower(): w for w in STATE_WORDS}
    found = set()
    for value in values:
        for word in (w.strip() for w in value.split(",")):
            if not word:
                continue
            if word.lower() not in canonical:
                raise FilterError(f"state {word!r}: expected one of {', '.join(STATE_WORDS)}")
            found.add(canonical[word.lower()])
    return frozenset(found)


def page_bounds(offset: int, limit: int) -> tuple[int, int]:
    if offset < 0:
        raise FilterError(f"offset {offset}: expected 0 or more")
    if not 1 <= limit <= MAX_PAGE:
        raise FilterError(f"limit {limit}: expected 1 to {MAX_PAGE}")
    return offset, limit


# -- pairs -------------------------------------------------------------------------------------


def unreconciled(app: str, cluster: str) -> PairStatus:
    return PairStatus(
        application=app,
        cluster=cluster,
        sync=SyncState.UNKNOWN,
        health=Health.UNKNOWN,
        message=NOT_YET_RECONCILED,
    )


def pair_view(status: PairStatus, *, targeted: bool = True) -> PairView:
    return PairView(
        application=status.application,
        cluster=status.cluster,
        sync=status.sync,
        health=status.health,
        revision=str(status.revision or ""),
        digest=status.digest or "",
        at=status.at or None,
        duration=status.duration,
        message=status.message,
        error_object=status.error_object,
        counts=dict(status.counts),
        changes=[ChangeView(key=c.key, action=c.action, message=c.message) for c in status.changes],
        drifted=list(status.drifted),
        reason=status.trigger.label,
        trigger=status.trigger.value,
        targeted=targeted,
        hooks=[HookView(**h.to_json()) for h in status.hooks],
    )


def target_statuses(
    store: Store, fleet: Fleet, app: AppName, clusters: Sequence[ClusterName] | None = None
) -> list[PairStatus]:
    """One status per target cluster of `app` (or per cluster of `clusters`), by cluster."""
    wanted = list(fleet.targets_of(app) if clusters is None else clusters)
    found = store.statuses_of([(app, c) for c in wanted])
    return [s or unreconciled(app, c) for c, s in zip(wanted, found, strict=True)]


def aggregate_sync(states: Iterable[SyncState]) -> SyncState:
    """Synced when every part is (and there is one), OutOfSync when any is, else Unknown."""
    seen = set(states)
    if SyncState.OUT_OF_SYNC in seen:
        return SyncState.OUT_OF_SYNC
    return SyncState.SYNCED if seen == {SyncState.SYNCED} else SyncState.UNKNOWN


def _summary(cluster: str, cell: Cell) -> PairSummary:
    sync, health, revision, at, message, *_ = cell
    return PairSummary(cluster, SyncState(sync), Health(health), revision, at or None, message)


def _matrix_cell(cell: Cell) -> MatrixCell:
    sync, health, revision, at, message, *_ = cell
    return MatrixCell(SyncState(sync), Health(health), revision, at or None, message)


# -- applications ------------------------------------------------------------------------------


def known_application(fleet: Fleet, name: str) -> AppName:
    if name not in fleet.applications:
        raise NotFound(f"{name}: no such application")
    return AppName(name)


def known_cluster(fleet: Fleet, name: str) -> ClusterName:
    if name not in fleet.clusters:
        raise NotFound(f"{name}: no such cluster")
    return ClusterName(name)


def _app_fields(state: AppState) -> dict[str, object]:
    return {
        "desired": DesiredView(**state.desired.to_json()) if state.desired else None,
        "source_error": SourceErrorView(**asdict(state.source_error))
        if state.source_error
        else None,
        "suspended": state.suspended,
        "pinned": PinView(**state.pin.to_json()) if state.pin else None,
    }


def filtered_applications(snapshot: FleetSnapshot, filters: Filters) -> list[AppName]:
    """Applications passing `filters`, by name."""
    return [app for app, _ in _filtered(snapshot, filters)]


def _filtered(snapshot: FleetSnapshot, filters: Filters) -> list[tuple[AppName, Tally]]:
    """Applications passing `filters`, each with its pairs per (sync, health) over the clusters
    in view (from the index's tallies unless the clusters are filtered)."""
    fleet = snapshot.fleet
    clusters = _clusters_in_view(fleet, filters) if filters.restricts_clusters else []
    allowed = set(clusters)
    needle = filters.name.lower()
    kept = []
    for app in sorted(fleet.applications):
        if needle and needle not in app.lower():
            continue
        if filters.repository and fleet.applications[app].repository != filters.repository:
            continue
        if filters.restricts_clusters:
            targets = [c for c in snapshot.targets.get(app, ()) if c in allowed]
            if not targets:
                continue
            tally: Tally = Counter(snapshot.cell(app, c)[:2] for c in targets)
        else:
            tally = snapshot.app_tally.get(app, {})
        if filters.states and not _in_states(tally, filters.states):
            continue
        kept.append((app, tally))
    return kept


def _in_states(tally: Tally, states: frozenset[str]) -> bool:
    return any(n > 0 and (s in states or h in states) for (s, h), n in tally.items())


def _aggregate(tally: Tally) -> tuple[SyncState, Health]:
    present = [state for state, n in tally.items() if n > 0]
    return (
        aggregate_sync(SyncState(s) for s, _ in present),
        Health.worst(Health(h) for _, h in present),
    )


def application_summaries(
    store: Store, snapshot: FleetSnapshot, apps: Sequence[AppName], filters: Filters
) -> list[ApplicationSummary]:
    fleet = snapshot.fleet
    clusters = _clusters_in_view(fleet, filters)
    states = store.app_states(list(apps))
    summaries = []
    for app in apps:
        declared = fleet.applications[app]
        pairs = [
            _summary(c, snapshot.cell(app, c))
            for c in _visible_targets(snapshot, app, clusters, filters)
        ]
        summaries.append(
            ApplicationSummary(
                name=app,
                repository=declared.repository,
                path=declared.path,
                namespace=declared.namespace,
                **_app_fields(states[app]),  # type: ignore[arg-type]
                sync=aggregate_sync(p.sync for p in pairs),
                health=Health.worst(p.health for p in pairs),
                clusters=pairs,
            )
        )
    return summaries


def application_detail(store: Store, fleet: Fleet, name: str) -> ApplicationDetail:
    app = known_application(fleet, name)
    declared = fleet.applications[app]
    repo = fleet.repositories.get(declared.repository)
    statuses = target_statuses(store, fleet, app)
    targets = {s.cluster for s in statuses}
    leftovers = [s for s in store.statuses(app) if s.cluster not in targets]
    state = store.app_states([app])[app]
    return ApplicationDetail(
        name=app,
        source=SourceView(
            repository=declared.repository,
            url=display_url(repo.url) if repo else "",
            ref=source_ref(repo, declared),
            path=declared.path,
            renderer=declared.renderer.value,
        ),
        namespace=declared.namespace,
        **_app_fields(state),  # type: ignore[arg-type]
        sync=aggregate_sync(s.sync for s in statuses),
        health=Health.worst(s.health for s in statuses),
        clusters=[pair_view(s) for s in statuses]
        + [pair_view(s, targeted=False) for s in leftovers],
    )


def history(
    store: Store,
    fleet: Fleet,
    name: str,
    cluster: str | None = None,
    *,
    limit: int = 20,
    revision: str | None = None,
) -> list[PairView]:
    """The newest reconciles of the application on `cluster`, or on every cluster it targets
    (or has a status on), newest first; with `revision`, only those at the revision it names
    (as `resolve_revision` reads it: a unique sha prefix will do)."""
    app = known_application(fleet, name)
    targets = fleet.targets_of(app)
    if cluster is not None:
        if cluster not in fleet.clusters and not store.history(app, cluster, limit=1):
            raise NotFound(f"{cluster}: no such cluster")
        clusters: list[str] = [cluster]
    else:
        clusters = sorted(set(targets) | set(store.clusters_of(app)))
    kept = limit if revision is None else HISTORY_LENGTH
    entries = [e for c in clusters for e in store.history(app, c, limit=kept)]
    entries.sort(key=lambda e: e.at, reverse=True)
    if revision is not None:
        entries = _at_revision(entries, revision, app)
    return [pair_view(e, targeted=e.cluster in targets) for e in entries[:limit]]


def _at_revision(entries: list[PairStatus], wanted: str, app: str) -> list[PairStatus]:
    """The entries at the one revision `wanted` names; FilterError when it names several
    commits or cannot name one, NotFound when the history holds none."""
    text = wanted.strip()
    if not _may_name_revision(text):
        raise FilterError(f"revision {wanted!r}: {REVISION_FORMS}")
    found = [e for e in entries if e.revision is not None and e.revision.named_by(text)]
    commits = sorted({str(e.revision) for e in found if e.revision is not None})
    if len({e.revision.sha for e in found if e.revision is not None}) > 1:
        raise FilterError(
            f"revision {wanted!r} is ambiguous: it names {_first_few(commits)}; "
            "give more of the sha"
        )
    if not found:
        raise NotFound(f"{app}: revision {wanted!r} is not in its history")
    return found


# -- clusters ----------------------------------------------------------------------------------


def _clusters_in_view(fleet: Fleet, filters: Filters) -> list[ClusterName]:
    names = [ClusterName(filters.cluster)] if filters.cluster else sorted(fleet.clusters)
    if filters.selector is not None:
        selector = filters.selector
        names = [n for n in names if selector.matches(fleet.clusters[n].labels)]
    return names


def _visible_targets(
    snapshot: FleetSnapshot, app: AppName, clusters: Sequence[ClusterName], filters: Filters
) -> tuple[ClusterName, ...]:
    targets = snapshot.targets.get(app, ())
    if not filters.restricts_clusters:
        return targets
    allowed = set(clusters)
    return tuple(c for c in targets if c in allowed)


def cluster_views(snapshot: FleetSnapshot, filters: Filters) -> list[ClusterView]:
    fleet = snapshot.fleet
    views = []
    for name in _clusters_in_view(fleet, filters):
        tally = snapshot.cluster_tally.get(name, {})
        if filters.states and not _in_states(tally, filters.states):
            continue
        sync, health = _aggregate(tally)
        views.append(
            ClusterView(
                name=name,
                labels=dict(fleet.clusters[name].labels),
                applications=list(snapshot.apps_of_cluster.get(name, ())),
                health=health,
                sync=sync,
            )
        )
    return views


# -- revisions ---------------------------------------------------------------------------------

MIN_SHA_PREFIX = 4
REVISION_FORMS = (
    f"give ref@sha1:<sha>, a commit sha or a prefix of at least {MIN_SHA_PREFIX} hex digits, "
    "or chart@version"
)
"""The ways to name a revision, for errors that refuse a text naming none."""


def resolve_revision(snapshot: FleetSnapshot, wanted: str) -> str:
    """The one revision some pair runs that `wanted` names: a full `ref@sha1:<sha>`, a commit
    sha, or a unique sha prefix (at least 4 hex digits), optionally with its `ref@sha1:`; for a
    chart, `name@version`, its full form or a prefix of its digest (Revision.named_by)."""
    text = wanted.strip()
    known = snapshot.revisions() - {""}
    if text in known:
        return text
    matches = sorted(r for r, rev in _parsed(known).items() if rev.named_by(text))
    if not matches:
        if not _may_name_revision(text):
            raise NotFound(f"{wanted}: no pair runs this revision ({REVISION_FORMS})")
        raise NotFound(f"{wanted}: no pair runs this revision")
    identities = {_parsed(known)[r].sha for r in matches}
    if len(identities) > 1:
        raise FilterError(
            f"{wanted}: ambiguous: it is a prefix of {_first_few(matches)}; give more of the sha"
        )
    return matches[0]


def _may_name_revision(text: str) -> bool:
    """Whether `text` has a form that can name a revision: with an `@`, or ending in a sha
    prefix of at least MIN_SHA_PREFIX hex digits."""
    prefix = text.rpartition(":")[2].lower()
    return "@" in text or (
        len(prefix) >= MIN_SHA_PREFIX and all(ch in "0123456789abcdef" for ch in prefix)
    )


def _first_few(revisions: Sequence[str]) -> str:
    """The first five revisions, then `...` when there are more."""
    return ", ".join(revisions[:5]) + (" ..." if len(revisions) > 5 else "")


def _parsed(revisions: set[str]) -> dict[str, Revision]:
    parsed: dict[str, Revision] = {}
    for text in revisions:
        try:
            parsed[text] = Revision.parse(text)
        except ValueError:
            continue
    return parsed


def revision_views(store: Store, snapshot: FleetSnapshot, wanted: str) -> list[RevisionView]:
    """Every revision string with the commit (or chart digest) `wanted` names (the same sha can
    be reached by several refs), each with the pairs that run it."""
    first = resolve_revision(snapshot, wanted)
    known = _parsed(snapshot.revisions() - {""})
    identity = known[first].sha if first in known else first
    explicit = wanted.strip() == first or "@sha" in wanted
    revisions = sorted(
        r for r, rev in known.items() if rev.sha == identity and (not explicit or r == first)
    )
    return [_revision_view(store, r) for r in revisions or [first]]


def _revision_view(store: Store, revision: str) -> RevisionView:
    pairs = [
        RevisionPair(
            application=s.application,
            cluster=s.cluster,
            sync=s.sync,
            health=s.health,
            converged=s.sync is SyncState.SYNCED and s.health is Health.HEALTHY,
            at=s.at or None,
        )
        for s in store.pairs_at_revision(revision)
    ]
    return RevisionView(
        revision=revision,
        health=Health.worst(p.health for p in pairs),
        converged=sum(1 for p in pairs if p.converged),
        pairs=pairs,
    )


# -- repositories ------------------------------------------------------------------------------


def repository_views(store: Store, fleet: Fleet) -> list[RepositoryView]:
    return [repository_view(store, fleet, name) for name in sorted(fleet.repositories)]


def repository_view(store: Store, fleet: Fleet, name: str) -> RepositoryView:
    if name not in fleet.repositories:
        raise NotFound(f"{name}: no such repository")
    repo = fleet.repositories[RepoName(name)]
    state = store.repo_state(RepoName(name))
    return RepositoryView(
        name=name,
        url=display_url(repo.url),
        ref=repo.ref if not repo.is_chart_source else f"({repo.type} repository)",
        interval=repo.interval,
        sha=state.sha,
        revision=state.revision,
        polled_at=state.polled_at,
        fetched_sha=state.fetched_sha,
        error=state.error,
        error_at=state.error_at,
        failures=state.failures,
        applications=[a.name for a in fleet.applications_of(RepoName(name))],
    )


# -- the fleet matrix --------------------------------------------------------------------------


def fleet_matrix(
    store: Store,
    snapshot: FleetSnapshot,
    filters: Filters,
    *,
    offset: int = 0,
    limit: int = 50,
    cluster_offset: int = 0,
    cluster_limit: int = 50,
) -> FleetMatrix:
    """Applications x clusters, one page of each, with counts over everything filtered."""
    page_bounds(offset, limit)
    page_bounds(cluster_offset, cluster_limit)
    fleet = snapshot.fleet
    clusters = _clusters_in_view(fleet, filters)
    syncs: Counter[str] = Counter()
    healths: Counter[str] = Counter()
    candidates = _filtered(snapshot, replace(filters, states=frozenset()))
    kept: list[AppName] = []
    tallies: dict[AppName, Tally] = {}
    for app, tally in candidates:
        for (sync, health), n in tally.items():
            syncs[sync] += n
            healths[health] += n
        if not filters.states or _in_states(tally, filters.states):
            kept.append(app)
            tallies[app] = tally
    page_apps = kept[offset : offset + limit]
    columns = clusters[cluster_offset : cluster_offset + cluster_limit]
    states = store.app_states(page_apps)
    rows = []
    for app in page_apps:
        targeted = set(snapshot.targets.get(app, ()))
        sync, health = _aggregate(tallies[app])
        state = states[app]
        rows.append(
            MatrixRow(
                application=app,
                sync=sync,
                health=health,
                desired_revision=str(state.desired.revision) if state.desired else None,
                source_error=state.source_error.message if state.source_error else None,
                suspended=state.suspended,
                pinned=str(state.pin.revision) if state.pin else None,
                cells=[
                    _matrix_cell(snapshot.cell(app, c)) if c in targeted else None for c in columns
                ],
            )
        )
    return FleetMatrix(
        columns=[MatrixColumn(c, dict(fleet.clusters[c].labels)) for c in columns],
        rows=rows,
        sync_counts={w: syncs.get(w, 0) for w in SYNC_WORDS},
        health_counts={w: healths.get(w, 0) for w in HEALTH_WORDS},
        source_errors=len(store.with_source_errors(kept)),
        applications=len(kept),
        clusters=len(clusters),
        offset=offset,
        limit=limit,
        cluster_offset=cluster_offset,
        cluster_limit=cluster_limit,
        version=fleet_version(store, snapshot),
    )


def fleet_version(store: Store, snapshot: FleetSnapshot) -> str:
    """A short token that changes when any pair, any application's own state (desired
    revision, source error, suspension, pin) or the declaration changes: cheap enough to poll."""
    digest = hashlib.sha256()
    digest.update(snapshot.position.encode())
    digest.update((store.fleet_digest() or "").encode())
    digest.update((store.fleet_error() or "").encode())
    digest.update(store.app_states_digest(sorted(snapshot.fleet.applications)).encode())
    frozen = store.freeze()
    digest.update(repr(frozen).encode() if frozen else b"-")
    return digest.hexdigest()[:16]


def source_ref(repo: Repository | None, app: Application) -> str:
    """What an application follows: its repository's ref, or its chart's version range."""
    if repo is None:
        return ""
    if repo.is_chart_source:
        return f"chart {app.chart} {app.version or '(newest release)'}"
    return repo.ref


# -- words for people --------------------------------------------------------------------------


def age(at: float | None, now: float | None = None) -> str:
    """`42s`, `5m`, `3h`, `2d`; `-` for never."""
    if not at:
        return "-"
    return model_age(at, time.time() if now is None else now)


def short_revision(revision: object, *, sha_only: bool = False) -> str:
    """`main@sha1:<12 hex>` (or just 10 hex of the sha) for a table, `podinfo@6.7.1` for a
    chart (whatever `sha_only` says: its version is what a person reads); `-` for none."""
    if not revision:
        return "-"
    text = str(revision)
    try:
        parsed = Revision.parse(text)
    except ValueError:
        return text
    return parsed.sha[:10] if sha_only and not parsed.is_chart else parsed.short


STATE_STYLE = {
    "Synced": "green",
    "Healthy": "green",
    "OutOfSync": "yellow",
    "Progressing": "cyan",
    "Degraded": "red",
    "Missing": "red",
    "Unknown": "magenta",
    "Suspended": "blue",
}
"""The colour of each sync and health word in terminal tables (rich markup)."""


def styled(word: str) -> str:
    """`word` in its colour (rich markup), or as it is."""
    style = STATE_STYLE.get(word)
    return f"[{style}]{word}[/]" if style else word


def as_json(value: object) -> object:
    """A read-model value as plain JSON data (enums as their words)."""
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {f: as_json(getattr(value, f)) for f in value.__dataclass_fields__}
    if isinstance(value, SyncState | Health | ChangeAction):
        return value.value
    return value
