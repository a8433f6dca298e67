"""/healthz (the process is up), /readyz (it can serve: Redis answers and a fleet is published)
and /metrics. Probes are never behind a token; /metrics follows the read policy."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fleetsync.scheduler.api.auth import Access
from fleetsync.scheduler.api.context import NO_FLEET, ApiContext
from fleetsync.scheduler.api.guards import redis_unavailable_reason
from fleetsync.scheduler.api.metrics import metrics_registry
from fleetsync.scheduler.api.schemas import Probe

log = logging.getLogger(__name__)


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["probes"])
    registry = metrics_registry(ctx.store, ctx.queue_depths)

    @router.get("/healthz")
    def healthz() -> Probe:
        return Probe(status="ok")

    @router.get("/readyz", responses={503: {"model": Probe}})
    def readyz() -> JSONResponse:
        try:
            ctx.store.ping()
            fleet = ctx.store.load_fleet()
            fleet_error = ctx.store.fleet_error()
        except Exception as exc:
            reason = redis_unavailable_reason(ctx.store, exc)
            log.warning("readyz: %s", reason)
            probe = Probe(status="unavailable", reason=reason)
            return JSONResponse(probe.model_dump(), status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        if fleet is None:
            probe = Probe(status="unavailable", reason=NO_FLEET, fleet_error=fleet_error)
            return JSONResponse(probe.model_dump(), status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        return JSONResponse(Probe(status="ok", fleet_error=fleet_error).model_dump())

    @router.get(
        "/metrics",
        dependencies=[Depends(ctx.guard(Access.READ))],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
