"""`fleetsync api`: serve the HTTP API, Git webhooks and /metrics with uvicorn.

Stateless: run as many as you like behind a load balancer. Redis comes from FLEETSYNC_REDIS_URL;
the API token and webhook secrets from their environment variables (see
`fleetsync.scheduler.api.auth` and `webhook_verify`), never from options, so they stay out of
process listings and shell history. The web stack is imported when the command runs, not when
the CLI starts, so other commands do not pay for it.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from fleetsync.scheduler.api.auth import AccessPolicy
    from fleetsync.scheduler.api.webhook_verify import WebhookSecrets

log = logging.getLogger(__name__)


@click.command("api")
@click.option(
    "--host",
    envvar="FLEETSYNC_API_HOST",
    default="127.0.0.1",
    show_default=True,
    show_envvar=True,
    help="Address to listen on (0.0.0.0 in a container).",
)
@click.option(
    "--port",
    envvar="FLEETSYNC_API_PORT",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    show_envvar=True,
    help="Port to listen on.",
)
def command(host: str, port: int) -> None:
    """Serve the web view (/), the HTTP API (/api/v1, /docs), Git webhooks
    (/webhooks/<provider>) and Prometheus /metrics."""
    import uvicorn

    from fleetsync.scheduler.api import create_app
    from fleetsync.scheduler.api.auth import AccessPolicy, TokenError
    from fleetsync.scheduler.api.webhook_verify import WebhookSecrets
    from fleetsync.shared.settings import load_settings
    from fleetsync.shared.store import RedisUrlError, Store
    from fleetsync.shared.tasking import Sender, make_celery

    fleetsync_log = logging.getLogger("fleetsync")
    if fleetsync_log.getEffectiveLevel() > logging.INFO:
        fleetsync_log.setLevel(logging.INFO)
    try:
        access = AccessPolicy.from_env(os.environ)
    except TokenError as exc:
        raise click.ClickException(f"refusing to start: {exc}") from None
    settings = load_settings()
    try:
        store = Store.connect(settings.redis_url, prefix=settings.key_prefix)
    except RedisUrlError as exc:
        raise click.ClickException(f"FLEETSYNC_REDIS_URL: {exc}") from exc
    secrets = WebhookSecrets.from_env(os.environ)
    _warn_about(access, secrets)
    sender = Sender(make_celery(settings, main="fleetsync.api"), store)
    sender.warm()  # the first webhook sends at once
    app = create_app(
        store,
        sender,
        access=access,
        webhook_secrets=secrets,
        kube_cache_dir=settings.kube_cache_dir,
    )
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def _warn_about(access: AccessPolicy, secrets: WebhookSecrets) -> None:
    from fleetsync.scheduler.api.auth import INSECURE_ENV, TOKEN_ENV
    from fleetsync.scheduler.api.webhook_verify import SHARED_SECRET_ENV, Provider

    if access.token is None and access.insecure:
        log.warning("%s=1: anyone who can reach the API can trigger syncs", INSECURE_ENV)
    elif access.token is None:
        log.warning("no %s: sync and refresh endpoints are refused until it is set", TOKEN_ENV)
    missing = [p.value for p in Provider if secrets.secret_for(p) is None]
    if missing:
        log.warning(
            "webhooks refused for %s: set %s or %s_<PROVIDER>",
            ", ".join(missing),
            SHARED_SECRET_ENV,
            SHARED_SECRET_ENV,
        )
