"""What the API answers when it cannot or will not do the work: 503 with the reason while Redis
is away (every route; the process itself stays up and answers again as soon as Redis does), and
413 for a request body over the bound (1 MiB unless FLEETSYNC_API_MAX_BODY_BYTES says)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleetsync.shared.store import Store
from fleetsync.shared.tasking import BROKER_UNAVAILABLE

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
CONTENT_TOO_LARGE = 413
_LOG_EVERY_SECONDS = 30.0


def redis_unavailable_reason(store: Store, exc: BaseException) -> str:
    return f"cannot reach Redis at {store.address}: {type(exc).__name__}: {exc}"


def install_unavailable_handler(app: FastAPI, store: Store) -> None:
    """Answer 503 with a clear reason (and Retry-After) when a route meets an unreachable
    Redis; log it once per half minute, not once per request."""
    last_logged = [0.0]

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        reason = redis_unavailable_reason(store, exc)
        now = time.monotonic()
        if now - last_logged[0] > _LOG_EVERY_SECONDS:
            last_logged[0] = now
            log.warning("%s: answering 503 until it is back", reason)
        detail = f"{reason}; fleetsync's state cannot be read or changed until it is back"
        return JSONResponse(
            {"detail": detail},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    for error in BROKER_UNAVAILABLE:
        app.add_exception_handler(error, unavailable)


MAX_BODY_ENV = "FLEETSYNC_API_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(Exception):
    """A request body over the API's bound."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        self.limit = limit
        shown = f"{size} bytes" if size is not None else f"more than {limit} bytes"
        super().__init__(
            f"request body of {shown} is over the API's limit of {limit} bytes "
            f"({MAX_BODY_ENV}); send less"
        )


def max_body_bytes(env: Mapping[str, str]) -> int:
    raw = env.get(MAX_BODY_ENV, "")
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{MAX_BODY_ENV}={raw!r}: expected a whole number of bytes, 1 or more")
    return int(raw)


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is refused with 413 and a clear
    message, whether Content-Length announces it or the body just keeps coming. The body is
    read (up to the bound) before the route runs, so the route never sees a cut one; what was
    read is never echoed back."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(BodyTooLarge(self.limit, int(declared)), scope, receive, send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: nothing to answer
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await _too_large(BodyTooLarge(self.limit), scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(exc: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"detail": str(exc)}, status_code=CONTENT_TOO_LARGE)
    await response(scope, receive, send)


def install_body_limit(app: FastAPI, limit: int) -> None:
    """Bound request bodies at `limit` bytes (413 past it)."""
    app.add_middleware(BodyLimit, limit=limit)
