"""Fleet state as the API shows it: the declaration joined with what the store knows.

Targets come from the declaration; a target never reconciled is shown as Unknown/Unknown "not yet
reconciled" rather than left out, so a new cluster or application is visible at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from fleetsync.scheduler.api.schemas import (
    ApplicationBase,
    ApplicationDetail,
    ApplicationSummary,
    ClusterView,
    DesiredView,
    ObjectChangeView,
    PairStatusView,
    PairSummary,
    PinView,
    RepositoryView,
    RevisionPair,
    RevisionView,
    SourceErrorView,
)
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName, ClusterName, RepoName
from fleetsync.shared.model.report import PairStatus
from fleetsync.shared.model.status import Health, SyncState
from fleetsync.shared.store import Store
from fleetsync.shared.urls import display_url

NOT_YET_RECONCILED = "not yet reconciled"


def unreconciled(app: str, cluster: str) -> PairStatus:
    return PairStatus(
        application=app,
        cluster=cluster,
        sync=SyncState.UNKNOWN,
        health=Health.UNKNOWN,
        message=NOT_YET_RECONCILED,
    )


def target_statuses(store: Store, fleet: Fleet, app: AppName) -> list[PairStatus]:
    """One status per target cluster of `app`, sorted by cluster."""
    return [
        store.status(app, cluster) or unreconciled(app, cluster)
        for cluster in fleet.targets_of(app)
    ]


def aggregate_sync(states: Iterable[SyncState]) -> SyncState:
    """Synced when every part is (and there is one), OutOfSync when any is, else Unknown."""
    seen = set(states)
    if SyncState.OUT_OF_SYNC in seen:
        return SyncState.OUT_OF_SYNC
    return SyncState.SYNCED if seen == {SyncState.SYNCED} else SyncState.UNKNOWN


def pair_view(status: PairStatus, *, targeted: bool = True) -> PairStatusView:
    return PairStatusView(
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
        changes=[
            ObjectChangeView(key=c.key, action=c.action, message=c.message) for c in status.changes
        ],
        drifted=list(status.drifted),
        reason=status.trigger.label,
        trigger=status.trigger,
        targeted=targeted,
    )


def _application_fields(
    store: Store, fleet: Fleet, name: AppName, statuses: list[PairStatus]
) -> ApplicationBase:
    app = fleet.applications[name]
    desired = store.desired(name)
    error = store.source_error(name)
    pin = store.pin(name)
    return ApplicationBase(
        name=name,
        repository=app.repository,
        path=app.path,
        namespace=app.namespace,
        desired=DesiredView(**desired.to_json()) if desired else None,
        source_error=SourceErrorView(**asdict(error)) if error else None,
        suspended=store.is_suspended(name),
        pinned=PinView(**pin.to_json()) if pin else None,
        sync=aggregate_sync(s.sync for s in statuses),
        health=Health.worst(s.health for s in statuses),
    )


def application_summary(store: Store, fleet: Fleet, name: AppName) -> ApplicationSummary:
    statuses = target_statuses(store, fleet, name)
    return ApplicationSummary(
        **dict(_application_fields(store, fleet, name, statuses)),
        clusters=[
            PairSummary(
                cluster=s.cluster, sync=s.sync, health=s.health, revision=str(s.revision or "")
            )
            for s in statuses
        ],
    )


def application_detail(store: Store, fleet: Fleet, name: AppName) -> ApplicationDetail:
    """The application with every target's full status, then any status left on a cluster it
    no longer targets."""
    statuses = target_statuses(store, fleet, name)
    targets = {s.cluster for s in statuses}
    leftovers = [s for s in store.statuses(name) if s.cluster not in targets]
    return ApplicationDetail(
        **dict(_application_fields(store, fleet, name, statuses)),
        clusters=[pair_view(s) for s in statuses]
        + [pair_view(s, targeted=False) for s in leftovers],
    )


def cluster_views(store: Store, fleet: Fleet) -> list[ClusterView]:
    on_cluster: dict[ClusterName, list[PairStatus]] = {name: [] for name in fleet.clusters}
    for app in sorted(fleet.applications):
        for status in target_statuses(store, fleet, app):
            on_cluster.setdefault(ClusterName(status.cluster), []).append(status)
    return [
        ClusterView(
            name=name,
            labels=dict(fleet.clusters[name].labels) if name in fleet.clusters else {},
            applications=[s.application for s in statuses],
            health=Health.worst(s.health for s in statuses),
        )
        for name, statuses in sorted(on_cluster.items())
    ]


def revision_view(store: Store, revision: str) -> RevisionView:
    pairs = store.pairs_at_revision(revision)
    return RevisionView(
        revision=revision,
        health=Health.worst(s.health for s in pairs),
        pairs=[
            RevisionPair(application=s.application, cluster=s.cluster, sync=s.sync, health=s.health)
            for s in pairs
        ],
    )


def repository_views(store: Store, fleet: Fleet) -> list[RepositoryView]:
    return [repository_view(store, fleet, name) for name in sorted(fleet.repositories)]


def repository_view(store: Store, fleet: Fleet, name: RepoName) -> RepositoryView:
    repo = fleet.repositories[name]
    state = store.repo_state(name)
    return RepositoryView(
        name=name,
        url=display_url(repo.url),
        ref=repo.ref,
        interval=repo.interval,
        sha=state.sha,
        revision=state.revision,
        polled_at=state.polled_at,
        fetched_sha=state.fetched_sha,
        error=state.error,
        error_at=state.error_at,
        failures=state.failures,
        applications=[a.name for a in fleet.applications_of(name)],
    )
