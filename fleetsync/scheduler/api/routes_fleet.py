"""/api/v1/clusters, /api/v1/revisions and /api/v1/repositories: where things run, which pairs
run a given revision, what each repository resolved to, and a manual refresh (a forced poll)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, status

from fleetsync.scheduler.api.auth import Access
from fleetsync.scheduler.api.context import ApiContext
from fleetsync.scheduler.api.schemas import (
    ClusterView,
    RefreshResult,
    RepositoryView,
    RevisionView,
    error_responses,
)
from fleetsync.scheduler.api.views import cluster_views, repository_views, revision_view
from fleetsync.shared.tasking import Priority

log = logging.getLogger(__name__)


def build_router(ctx: ApiContext) -> APIRouter:
    reads = [Depends(ctx.guard(Access.READ))]
    router = APIRouter(prefix="/api/v1", responses=error_responses(401, 403, 503))

    @router.get("/clusters", tags=["clusters"], dependencies=reads)
    def list_clusters() -> list[ClusterView]:
        return cluster_views(ctx.store, ctx.fleet())

    @router.get("/revisions/{revision:path}", tags=["revisions"], dependencies=reads)
    def get_revision(revision: str) -> RevisionView:
        """Every (application, cluster) pair whose last applied revision is `revision`
        (`ref@sha1:<hash>`), with its health; empty when none runs it."""
        return revision_view(ctx.store, revision)

    @router.get("/repositories", tags=["repositories"], dependencies=reads)
    def list_repositories() -> list[RepositoryView]:
        return repository_views(ctx.store, ctx.fleet())

    @router.post(
        "/repositories/{name}/refresh",
        tags=["repositories"],
        status_code=status.HTTP_202_ACCEPTED,
        dependencies=[Depends(ctx.guard(Access.WRITE))],
        responses=error_responses(404),
    )
    def refresh_repository(name: str) -> RefreshResult:
        """Poll the repository now and fetch and render even if its sha did not move."""
        if name not in ctx.fleet().repositories:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{name}: no such repository")
        queued = ctx.sender.poll(name, force=True, priority=Priority.MANUAL)
        log.info("manual refresh %s: %s", name, "enqueued" if queued else "already queued")
        return RefreshResult(
            enqueued=[name] if queued else [], already_queued=[] if queued else [name]
        )

    return router
