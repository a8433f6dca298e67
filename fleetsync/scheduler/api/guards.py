"""What the API answers when it cannot do its work: 503 with the reason while Redis is away
(every route; the process itself stays up and answers again as soon as Redis does)."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from fleetsync.shared.store import Store
from fleetsync.shared.tasking import BROKER_UNAVAILABLE

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
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
