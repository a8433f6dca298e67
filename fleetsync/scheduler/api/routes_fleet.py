"""/api/v1/fleet, /api/v1/clusters, /api/v1/revisions and /api/v1/repositories: the fleet as an
application x cluster matrix with counts per state, where things run, which pairs run a given
commit, what each repository resolved to, and a manual refresh (a forced poll)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from fleetsync.scheduler.api.auth import Access
from fleetsync.scheduler.api.context import ApiContext
from fleetsync.scheduler.api.routes_applications import Filtered, Limit, Offset, StateQuery
from fleetsync.scheduler.api.schemas import Page, RefreshResult, error_responses, json_body
from fleetsync.scheduler.views import (
    ClusterView,
    FleetMatrix,
    NotFound,
    RepositoryView,
    RevisionView,
    cluster_views,
    fleet_matrix,
    fleet_version,
    page_bounds,
    parse_filters,
    repository_view,
    repository_views,
    revision_views,
)
from fleetsync.shared.model.status import Health
from fleetsync.shared.tasking import Priority

log = logging.getLogger(__name__)


def build_router(ctx: ApiContext) -> APIRouter:
    reads = [Depends(ctx.guard(Access.READ))]
    router = APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 404, 503))

    @router.get("/fleet", tags=["fleet"], dependencies=reads, response_model=FleetMatrix)
    def get_fleet(
        offset: Offset = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cluster_offset: Annotated[int, Query(ge=0)] = 0,
        cluster_limit: Annotated[int, Query(ge=1, le=500)] = 50,
        *,
        query: Filtered,
    ) -> Response:
        """One page of applications (rows) by one page of clusters (columns), every cell's
        sync, health and revision, and pair counts per state over the whole filtered fleet.
        `version` changes when anything shown may have: poll it (or /fleet/version) to stay
        live."""
        snapshot = ctx.snapshot()
        filters = query.parse(snapshot.fleet)
        matrix = fleet_matrix(
            ctx.store,
            snapshot,
            filters,
            offset=offset,
            limit=limit,
            cluster_offset=cluster_offset,
            cluster_limit=cluster_limit,
        )
        return json_body(matrix, FleetMatrix)

    @router.get("/fleet/version", tags=["fleet"], dependencies=reads)
    def get_fleet_version() -> dict[str, str]:
        """A token that changes whenever any pair's status, any application's own state
        (desired revision, source error, suspension) or the declaration changes."""
        return {"version": fleet_version(ctx.store, ctx.snapshot())}

    @router.get(
        "/clusters", tags=["clusters"], dependencies=reads, response_model=Page[ClusterView]
    )
    def list_clusters(
        offset: Offset = 0,
        limit: Limit = 100,
        cluster: Annotated[str | None, Query(description="This cluster only.")] = None,
        selector: Annotated[str | None, Query(description="Label selector.")] = None,
        state: StateQuery = [],  # noqa: B006
    ) -> Response:
        """Clusters with their labels, the applications they run and their worst health."""
        snapshot = ctx.snapshot()
        filters = parse_filters(snapshot.fleet, cluster=cluster, selector=selector, states=state)
        page_bounds(offset, limit)
        views = cluster_views(snapshot, filters)
        shown = views[offset : offset + limit]
        detection = ctx.store.drift_detection(
            [v.name for v in shown], unwatched=snapshot.fleet.unwatched()
        )
        shown = [replace(v, drift_detection=detection[v.name].describe()) for v in shown]
        page = Page[ClusterView](items=shown, total=len(views), offset=offset, limit=limit)
        return json_body(page, Page[ClusterView])

    @router.get("/revisions/{revision:path}", tags=["revisions"], dependencies=reads)
    def get_revision(revision: str) -> RevisionView:
        """Every (application, cluster) pair whose last applied revision is `revision`:
        `ref@sha1:<sha>`, a commit sha or a unique prefix of one (4+ hex digits); 404 when no
        pair runs it. When several refs reached the commit, their pairs are merged."""
        views = revision_views(ctx.store, ctx.snapshot(), revision)
        if not views:
            raise NotFound(f"{revision}: no pair runs this revision")
        pairs = [p for v in views for p in v.pairs]
        return RevisionView(
            revision=views[0].revision,
            health=Health.worst(p.health for p in pairs),
            converged=sum(v.converged for v in views),
            pairs=pairs,
        )

    @router.get("/repositories", tags=["repositories"], dependencies=reads)
    def list_repositories(offset: Offset = 0, limit: Limit = 100) -> Page[RepositoryView]:
        views = repository_views(ctx.store, ctx.fleet())
        return Page(
            items=views[offset : offset + limit], total=len(views), offset=offset, limit=limit
        )

    @router.get("/repositories/{name}", tags=["repositories"], dependencies=reads)
    def get_repository(name: str) -> RepositoryView:
        return repository_view(ctx.store, ctx.fleet(), name)

    @router.post(
        "/repositories/{name}/refresh",
        tags=["repositories"],
        status_code=status.HTTP_202_ACCEPTED,
        dependencies=[Depends(ctx.guard(Access.WRITE))],
    )
    def refresh_repository(name: str) -> RefreshResult:
        """Poll the repository now and fetch and render even if its sha did not move."""
        if name not in ctx.fleet().repositories:
            raise NotFound(f"{name}: no such repository")
        queued = ctx.sender.poll(name, force=True, priority=Priority.MANUAL)
        log.info("manual refresh %s: %s", name, "enqueued" if queued else "already queued")
        return RefreshResult(
            enqueued=[name] if queued else [], already_queued=[] if queued else [name]
        )

    return router
