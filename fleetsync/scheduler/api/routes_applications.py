"""/api/v1/applications: what each application should run and runs where (paginated, filtered),
its history, the diff of a pair against its cluster, and the operator's actions: sync, refresh,
rollback, suspend, resume (each needs the API token and enqueues ahead of periodic work)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from starlette.concurrency import run_in_threadpool

from fleetsync.scheduler import operations
from fleetsync.scheduler.api.auth import Access
from fleetsync.scheduler.api.context import ApiContext
from fleetsync.scheduler.api.schemas import (
    Page,
    PairRef,
    RefreshResult,
    RefusedPair,
    RollbackRequest,
    RollbackResult,
    SuspendResult,
    SyncRequest,
    SyncResult,
    error_responses,
    json_body,
)
from fleetsync.scheduler.inspection import PairDiff, inspect_pair
from fleetsync.scheduler.views import (
    MAX_PAGE,
    ApplicationDetail,
    ApplicationSummary,
    Filters,
    PairView,
    application_detail,
    application_summaries,
    filtered_applications,
    history,
    known_application,
    known_cluster,
    page_bounds,
    parse_filters,
)
from fleetsync.shared.desired import desired_for_pair
from fleetsync.shared.errors import FleetsyncError, PermanentError
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import Digest
from fleetsync.shared.store.apply import HISTORY_LENGTH
from fleetsync.shared.tasking import Priority

log = logging.getLogger(__name__)

Offset = Annotated[int, Query(ge=0, description="Items to skip.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")]
StateQuery = Annotated[
    list[str],
    Query(description="Sync or health states (repeat or comma-separate): any pair in one."),
]


@dataclass(frozen=True, slots=True)
class FilterQuery:
    """The query parameters that filter applications and their pairs, as given."""

    name: str | None
    repository: str | None
    cluster: str | None
    selector: str | None
    states: list[str]

    def parse(self, fleet: Fleet) -> Filters:
        """The filters against `fleet` (FilterError or NotFound saying which one is wrong)."""
        return parse_filters(
            fleet,
            name=self.name,
            repository=self.repository,
            cluster=self.cluster,
            selector=self.selector,
            states=self.states,
        )


def filter_query(
    name: Annotated[str | None, Query(description="Name contains this.")] = None,
    repository: str | None = None,
    cluster: Annotated[str | None, Query(description="Only pairs on this cluster.")] = None,
    selector: Annotated[
        str | None, Query(description="Only pairs on clusters matching this label selector.")
    ] = None,
    state: StateQuery = [],  # noqa: B006 (FastAPI copies defaults)
) -> FilterQuery:
    """The filter parameters of a request (a dependency of the routes that list applications)."""
    return FilterQuery(name, repository, cluster, selector, state)


Filtered = Annotated[FilterQuery, Depends(filter_query)]


def build_router(ctx: ApiContext) -> APIRouter:
    reads = [Depends(ctx.guard(Access.READ))]
    writes = [Depends(ctx.guard(Access.WRITE))]
    router = APIRouter(
        prefix="/api/v1/applications",
        tags=["applications"],
        responses=error_responses(400, 401, 403, 404, 503),
    )

    @router.get("", dependencies=reads, response_model=Page[ApplicationSummary])
    def list_applications(
        offset: Offset = 0,
        limit: Limit = 100,
        *,
        query: Filtered,
    ) -> Response:
        """Applications with their aggregate sync and health and their pairs, by name."""
        snapshot = ctx.snapshot()
        filters = query.parse(snapshot.fleet)
        page_bounds(offset, limit)
        names = filtered_applications(snapshot, filters)
        items = application_summaries(ctx.store, snapshot, names[offset : offset + limit], filters)
        page = Page[ApplicationSummary](items=items, total=len(names), offset=offset, limit=limit)
        return json_body(page, Page[ApplicationSummary])

    @router.get("/{name}", dependencies=reads)
    def get_application(name: str) -> ApplicationDetail:
        """The application's source, render state and every target's full status."""
        return application_detail(ctx.store, ctx.fleet(), name)

    @router.get("/{name}/history", dependencies=reads)
    def get_application_history(
        name: str,
        limit: Annotated[int, Query(ge=1, le=HISTORY_LENGTH * 10)] = HISTORY_LENGTH,
        revision: Annotated[str | None, Query(max_length=200)] = None,
    ) -> list[PairView]:
        """The application's last reconciles on every cluster, newest first; `revision` keeps
        those at one revision (`ref@sha1:<sha>`, a sha or a unique prefix of 4+ hex digits;
        400 when ambiguous, 404 when not in the history)."""
        return history(ctx.store, ctx.fleet(), name, limit=limit, revision=revision)

    @router.get("/{name}/clusters/{cluster}/history", dependencies=reads)
    def get_history(
        name: str,
        cluster: str,
        limit: Annotated[int, Query(ge=1, le=HISTORY_LENGTH)] = HISTORY_LENGTH,
        revision: Annotated[str | None, Query(max_length=200)] = None,
    ) -> list[PairView]:
        """The pair's last reconciles, newest first (`revision` as for the application's)."""
        return history(ctx.store, ctx.fleet(), name, cluster, limit=limit, revision=revision)

    @router.get(
        "/{name}/clusters/{cluster}/diff",
        dependencies=reads,
        responses=error_responses(502),
    )
    async def get_diff(name: str, cluster: str) -> PairDiff:
        """Each object of the desired state with its live health and drift, and each object a
        sync would prune, read from the cluster now. Secret values are masked."""
        return await run_in_threadpool(_diff, ctx, name, cluster)

    @router.post("/{name}/sync", status_code=status.HTTP_202_ACCEPTED, dependencies=writes)
    def sync_application(
        name: str,
        request: Annotated[SyncRequest | None, Body()] = None,
        cluster: Annotated[
            str | None, Query(description="Only this target cluster (or give it in the body).")
        ] = None,
    ) -> SyncResult:
        """Reconcile the application now on every target cluster, or on `cluster` only."""
        fleet = ctx.fleet()
        app = known_application(fleet, name)
        in_body = request.cluster if request is not None else None
        if cluster is not None and in_body is not None and cluster != in_body:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                f"cluster {cluster!r} in the query and {in_body!r} in the body: give one",
            )
        wanted = cluster if cluster is not None else in_body
        if wanted is not None:
            known_cluster(fleet, wanted)
            if wanted not in fleet.targets_of(app):
                raise HTTPException(
                    status.HTTP_404_NOT_FOUND,
                    f"{name}: does not target a cluster named {wanted!r}",
                )
        requested = operations.request_sync(ctx.sender, fleet, app, wanted, store=ctx.store)
        refused = [
            RefusedPair(application=app, cluster=e.cluster, reason=e.refused)
            for e in requested
            if e.refused
        ]
        if refused and len(refused) == len(requested):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"{name}: manual sync refused: "
                + "; ".join(f"{r.cluster}: {r.reason}" for r in refused),
            )
        enqueued = [e for e in requested if not e.refused]
        result = SyncResult(
            enqueued=[PairRef(application=app, cluster=e.cluster) for e in enqueued if e.queued],
            already_queued=[
                PairRef(application=app, cluster=e.cluster) for e in enqueued if not e.queued
            ],
            refused=refused,
        )
        log.info(
            "manual sync %s%s: %d enqueued, %d already queued",
            name,
            f" on {wanted}" if wanted else "",
            len(result.enqueued),
            len(result.already_queued),
        )
        return result

    @router.post("/{name}/refresh", status_code=status.HTTP_202_ACCEPTED, dependencies=writes)
    def refresh_application(name: str) -> RefreshResult:
        """Poll the application's repository now (fetch and render even if its sha did not
        move)."""
        fleet = ctx.fleet()
        repo = fleet.applications[known_application(fleet, name)].repository
        queued = ctx.sender.poll(repo, force=True, priority=Priority.MANUAL)
        log.info("manual refresh of %s for %s", repo, name)
        return RefreshResult(
            enqueued=[repo] if queued else [], already_queued=[] if queued else [repo]
        )

    @router.post("/{name}/rollback", status_code=status.HTTP_202_ACCEPTED, dependencies=writes)
    def rollback_application(name: str, request: RollbackRequest) -> RollbackResult:
        """Apply a revision the application ran before on every target and suspend automated
        sync, so the next commit does not undo it; `resume` returns it to Git."""
        fleet = ctx.fleet()
        app = known_application(fleet, name)
        try:
            pin, enqueued = operations.rollback(ctx.store, ctx.sender, fleet, app, request.revision)
        except PermanentError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        log.info("rollback %s to %s", name, pin.revision)
        return RollbackResult(
            application=app,
            revision=str(pin.revision),
            suspended=True,
            enqueued=[PairRef(application=app, cluster=e.cluster) for e in enqueued],
        )

    @router.post("/{name}/suspend", dependencies=writes)
    def suspend_application(name: str) -> SuspendResult:
        """Stop applying new revisions and healing drift (both still reported)."""
        fleet = ctx.fleet()
        app = known_application(fleet, name)
        operations.suspend(ctx.store, ctx.sender, fleet, app)
        log.info("suspend %s", name)
        return SuspendResult(application=app, suspended=True)

    @router.post("/{name}/resume", status_code=status.HTTP_202_ACCEPTED, dependencies=writes)
    def resume_application(name: str) -> SuspendResult:
        """Back to Git's latest revision (dropping a rollback), automated sync on again."""
        fleet = ctx.fleet()
        app = known_application(fleet, name)
        enqueued = operations.resume(ctx.store, ctx.sender, fleet, app)
        log.info("resume %s", name)
        return SuspendResult(
            application=app,
            suspended=False,
            enqueued=[PairRef(application=app, cluster=e.cluster) for e in enqueued],
        )

    return router


def _diff(ctx: ApiContext, name: str, cluster: str) -> PairDiff:
    fleet = ctx.fleet()
    app = known_application(fleet, name)
    target = known_cluster(fleet, cluster)
    if target not in fleet.targets_of(app):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"{name}: does not target a cluster named {cluster!r}"
        )
    chosen = desired_for_pair(ctx.store, app, target)
    digest = chosen.digest if chosen else None
    if digest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{name}: no desired state rendered yet")
    bundle = ctx.store.get_bundle(Digest(digest))
    if bundle is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"{name}: bundle {digest[:12]} is no longer in Redis"
        )
    try:
        return inspect_pair(
            fleet,
            app,
            target,
            bundle,
            stored_inventory=ctx.store.inventory(app, target),
            cache_dir=ctx.kube_cache_dir,
        )
    except FleetsyncError as exc:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"{cluster}: cannot read the cluster: {exc}"
        ) from exc
