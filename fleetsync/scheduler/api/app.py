"""The API's ASGI app: one factory wiring the routers to a store and a task sender."""

from __future__ import annotations

import os

from fastapi import FastAPI

from fleetsync import __version__
from fleetsync.scheduler.api import (
    routes_applications,
    routes_fleet,
    routes_probes,
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
from fleetsync.shared.store import Store
from fleetsync.shared.tasking import Sender


def create_app(
    store: Store,
    sender: Sender,
    *,
    access: AccessPolicy | None = None,
    webhook_secrets: WebhookSecrets | None = None,
    queue_depths: QueueDepths | None = None,
    max_body: int | None = None,
) -> FastAPI:
    """The API over `store`, enqueuing through `sender`. Access policy and webhook secrets
    default to the environment (FLEETSYNC_API_*, FLEETSYNC_WEBHOOK_SECRET*); queue depths to
    the store's `queue_depths()` when it has one; the body bound to FLEETSYNC_API_MAX_BODY_BYTES
    (1 MiB) unless `max_body` says."""
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
    )
    app = FastAPI(
        title="fleetsync",
        version=__version__,
        summary="Pull-based GitOps for fleets of Kubernetes clusters: state, triggers, webhooks.",
    )
    for routes in (routes_applications, routes_fleet, routes_webhooks, routes_probes):
        app.include_router(routes.build_router(ctx))
    install_unavailable_handler(app, store)
    install_body_limit(app, max_body if max_body is not None else max_body_bytes(os.environ))
    return app
