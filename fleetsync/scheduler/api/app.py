"""The API's ASGI app: one factory wiring the routers, the web view and the offline API docs to a
store and a task sender.

`/docs` is FastAPI's Swagger page with its assets served from the `swagger-ui-bundle-v2` wheel
(no CDN), `/openapi.json` the document it shows; ReDoc, which only loads from a CDN, is off.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from fleetsync import __version__
from fleetsync.scheduler.api import (
    routes_applications,
    routes_fleet,
    routes_probes,
    routes_rollouts,
    routes_webhooks,
)
from fleetsync.scheduler.api.auth import AccessPolicy
from fleetsync.scheduler.api.context import ApiContext
from fleetsync.scheduler.api.guards import (
    install_body_limit,
    install_unavailable_handler,
    max_body_bytes,
)
from fleetsync.scheduler.api.metrics import QueueDepths
from fleetsync.scheduler.api.webhook_verify import WebhookSecrets
from fleetsync.scheduler.views import FilterError, NotFound
from fleetsync.scheduler.web import pages
from fleetsync.shared.settings import load_settings
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender

FLOWER_URL_ENV = "FLEETSYNC_FLOWER_URL"
DOCS_ASSETS = "/docs/assets"


def create_app(
    store: Store,
    sender: Sender,
    *,
    access: AccessPolicy | None = None,
    webhook_secrets: WebhookSecrets | None = None,
    queue_depths: QueueDepths | None = None,
    kube_cache_dir: Path | None = None,
    flower_url: str | None = None,
    max_body: int | None = None,
) -> FastAPI:
    """The API over `store`, enqueuing through `sender`. Access policy and webhook secrets
    default to the environment (FLEETSYNC_API_*, FLEETSYNC_WEBHOOK_SECRET*); queue depths to
    the store's `queue_depths()` when it has one; Flower's address to FLEETSYNC_FLOWER_URL; the
    body bound to FLEETSYNC_API_MAX_BODY_BYTES (1 MiB) unless `max_body` says."""
    ctx = ApiContext(
        store=store,
        sender=sender,
        access=access if access is not None else AccessPolicy.from_env(os.environ),
        webhook_secrets=(
            webhook_secrets if webhook_secrets is not None else WebhookSecrets.from_env(os.environ)
        ),
        queue_depths=queue_depths
        if queue_depths is not None
        else getattr(store, "queue_depths", None),
        kube_cache_dir=kube_cache_dir or load_settings().kube_cache_dir,
        flower_url=flower_url or os.environ.get(FLOWER_URL_ENV) or None,
    )
    app = FastAPI(
        title="fleetsync",
        version=__version__,
        summary="Pull-based GitOps for fleets of Kubernetes clusters: state, triggers, webhooks.",
        docs_url=None,
        redoc_url=None,
    )
    for routes in (
        routes_applications,
        routes_rollouts,
        routes_fleet,
        routes_webhooks,
        routes_probes,
    ):
        app.include_router(routes.build_router(ctx))
    _serve_docs(app)
    pages.mount(app, ctx)
    _map_errors(app)
    install_unavailable_handler(app, store)
    install_body_limit(app, max_body if max_body is not None else max_body_bytes(os.environ))
    return app


def _serve_docs(app: FastAPI) -> None:
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="fleetsync API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )


def _map_errors(app: FastAPI) -> None:
    """The read model's NotFound and FilterError as 404 and 400 with their message."""

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(FilterError)
    async def bad_filter(request: Request, exc: FilterError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_400_BAD_REQUEST)
