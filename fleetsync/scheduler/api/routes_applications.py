"""/api/v1/applications: what each application should run and runs where, its history per
cluster, and manual syncs (a reconcile per target, queued ahead of periodic work)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, status

from fleetsync.scheduler.api.auth import Access
from fleetsync.scheduler.api.context import ApiContext
from fleetsync.scheduler.api.schemas import (
    ApplicationDetail,
    ApplicationSummary,
    PairRef,
    PairStatusView,
    SyncRequest,
    SyncResult,
    error_responses,
)
from fleetsync.scheduler.api.views import application_detail, application_summary, pair_view
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName, ClusterName
from fleetsync.shared.store.apply import HISTORY_LENGTH
from fleetsync.shared.tasking import Priority, Trigger

log = logging.getLogger(__name__)

MANUAL_SYNC_REASON = Trigger.MANUAL


def _known(fleet: Fleet, name: str) -> AppName:
    if name not in fleet.applications:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{name}: no such application")
    return AppName(name)


def build_router(ctx: ApiContext) -> APIRouter:
    reads = [Depends(ctx.guard(Access.READ))]
    router = APIRouter(
        prefix="/api/v1/applications",
        tags=["applications"],
        responses=error_responses(401, 403, 404, 503),
    )

    @router.get("", dependencies=reads)
    def list_applications() -> list[ApplicationSummary]:
        fleet = ctx.fleet()
        return [application_summary(ctx.store, fleet, name) for name in sorted(fleet.applications)]

    @router.get("/{name}", dependencies=reads)
    def get_application(name: str) -> ApplicationDetail:
        fleet = ctx.fleet()
        return application_detail(ctx.store, fleet, _known(fleet, name))

    @router.get("/{name}/clusters/{cluster}/history", dependencies=reads)
    def get_history(
        name: str,
        cluster: str,
        limit: Annotated[int, Query(ge=1, le=HISTORY_LENGTH)] = HISTORY_LENGTH,
    ) -> list[PairStatusView]:
        """The pair's last reconciles, newest first."""
        fleet = ctx.fleet()
        app = _known(fleet, name)
        history = ctx.store.history(app, cluster, limit=limit)
        if not history and cluster not in fleet.clusters:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{cluster}: no such cluster")
        targets = fleet.targets_of(app)
        return [pair_view(s, targeted=cluster in targets) for s in history]

    @router.post(
        "/{name}/sync",
        status_code=status.HTTP_202_ACCEPTED,
        dependencies=[Depends(ctx.guard(Access.WRITE))],
    )
    def sync_application(
        name: str, request: Annotated[SyncRequest | None, Body()] = None
    ) -> SyncResult:
        """Reconcile the application now on every target cluster, or on `cluster` only."""
        fleet = ctx.fleet()
        app = _known(fleet, name)
        targets = fleet.targets_of(app)
        wanted = request.cluster if request is not None else None
        if wanted is not None and wanted not in targets:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"{name}: does not target a cluster named {wanted!r}"
            )
        result = SyncResult(enqueued=[], already_queued=[])
        for cluster in [ClusterName(wanted)] if wanted else targets:
            queued = ctx.sender.reconcile(
                app, cluster, reason=MANUAL_SYNC_REASON, priority=Priority.MANUAL
            )
            pair = PairRef(application=app, cluster=cluster)
            (result.enqueued if queued else result.already_queued).append(pair)
        log.info(
            "manual sync %s: %d enqueued, %d already queued",
            name,
            len(result.enqueued),
            len(result.already_queued),
        )
        return result

    return router
