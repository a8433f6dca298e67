"""/webhooks/{github,gitlab,gitea,bitbucket,generic}: a push becomes an immediate poll of every
declared repository it moves, queued ahead of periodic polls.

Order of checks: a configured secret, a bounded body (1 MiB), the provider's signature over the
raw body, the event, then the body (JSON, or a form-encoded `payload` where the provider sends
one; any other content type is refused with 415 naming the one to choose). Nothing is enqueued
before the signature holds.

Replays: a redelivered push enqueues nothing while the first poll is still queued (the Sender
coalesces), and a poll that finds the sha unchanged stops at one ls-remote, so accepting
replays is harmless; delivery ids are logged, not stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fleetsync.scheduler.api.context import ApiContext
from fleetsync.scheduler.api.schemas import WebhookResult, error_responses
from fleetsync.scheduler.api.webhook_events import (
    ContentTypeError,
    EventKind,
    PayloadError,
    Push,
    classify_event,
    decode_body,
    delivery_id,
    match_repositories,
    parse_push,
)
from fleetsync.scheduler.api.webhook_verify import (
    SHARED_SECRET_ENV,
    Provider,
    verify_delivery,
)
from fleetsync.shared.tasking import Priority

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
CONTENT_TOO_LARGE = 413
UNSUPPORTED_MEDIA_TYPE = 415


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refused with 413 past `limit` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid Content-Length")
        if int(declared) > limit:
            raise HTTPException(CONTENT_TOO_LARGE, f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(CONTENT_TOO_LARGE, f"body over {limit} bytes")
    return bytes(body)


def _enqueue_polls(ctx: ApiContext, push: Push) -> WebhookResult:
    fleet = ctx.fleet()
    result = WebhookResult(event="push")
    for repo in match_repositories(fleet, push):
        queued = ctx.sender.poll(repo, priority=Priority.MANUAL, fetch=True)
        (result.enqueued if queued else result.already_queued).append(repo)
    if not result.enqueued and not result.already_queued:
        result.message = "no declared repository matches the pushed repository and ref"
    return result


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])

    def receiver(provider: Provider) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def receive(request: Request) -> JSONResponse:
            secret = ctx.webhook_secrets.secret_for(provider)
            if secret is None:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    f"{provider} webhooks are disabled: no secret configured; set "
                    f"{provider.secret_env} (or {SHARED_SECRET_ENV} for every provider)",
                )
            body = await read_body(request)
            delivery = delivery_id(provider, request.headers)
            problem = verify_delivery(provider, secret, request.headers, body)
            if problem is not None:
                log.warning("webhook %s delivery %s refused: %s", provider, delivery, problem)
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, problem)
            try:
                kind, event = classify_event(provider, request.headers)
                if kind is not EventKind.PUSH:
                    message = (
                        "pong" if kind is EventKind.PING else f"ignored: {event!r} is not a push"
                    )
                    return JSONResponse(WebhookResult(event=event, message=message).model_dump())
                payload = decode_body(provider, request.headers.get("content-type"), body)
                push = parse_push(provider, payload)
            except ContentTypeError as exc:
                raise HTTPException(UNSUPPORTED_MEDIA_TYPE, str(exc)) from exc
            except (PayloadError, UnicodeDecodeError) as exc:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
            result = await run_in_threadpool(_enqueue_polls, ctx, push)
            log.log(
                logging.INFO if result.enqueued or result.already_queued else logging.WARNING,
                "webhook %s delivery %s: push of %s at %s: enqueued %s, already queued %s",
                provider,
                delivery,
                ", ".join(sorted(push.url_keys)),
                push.ref or "(any ref)",
                result.enqueued or "nothing",
                result.already_queued or "nothing",
            )
            return JSONResponse(result.model_dump(), status_code=status.HTTP_202_ACCEPTED)

        return receive

    for provider in Provider:
        router.add_api_route(
            f"/{provider.value}",
            receiver(provider),
            methods=["POST"],
            status_code=status.HTTP_202_ACCEPTED,
            response_model=WebhookResult,
            summary=f"Receive a {provider.value} push",
            responses={
                200: {"model": WebhookResult, "description": "Ping, or an event that is no push."},
                **error_responses(400, 401, 413, 415, 503),
            },
        )
    return router
