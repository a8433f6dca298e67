"""Deliver one event to one notification: the notify worker's use case.

Re-reads everything when it runs (the declaration, the event, the URL and secret from the
worker's environment), so a notification removed or narrowed meanwhile sends nothing. Then:
the notification's rate window (`maxPerMinute`: beyond it the message waits for the next
minute), the body (the generic webhook's JSON, signed with HMAC-SHA256 when `secret_env` is
given, or Slack's incoming-webhook shape), one POST under a timeout, no redirect followed.

A receiver that is down, slow, or answers 429 or 5xx is tried again with backoff
(`model/backoff.py`, honouring Retry-After) up to `MAX_ATTEMPTS`; one that refuses the message
(another 4xx) is not. The outcome says what the task does next; nothing here sends a task. The
URL is shown as scheme and host only, the secret never.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message

from fleetsync.shared.model.backoff import backoff_delay
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.notification import (
    SIGNATURE_HEADER,
    Event,
    Notification,
    NotifierKind,
    sign,
    slack_body,
    webhook_body,
)
from fleetsync.shared.store import Store
from fleetsync.shared.urls import display_url, redact_urls

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = 2.0
MAX_RETRY = 300.0
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Sent:
    result: str
    """delivered, retry (it failed and is tried again), deferred (over the rate), dropped."""
    detail: str = ""
    retry_in: float | None = None
    """When to try again (retry, deferred)."""
    attempt: int = 1
    """The attempt the next try is (a deferral does not count as one)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def deliver_event(
    store: Store,
    fleet: Fleet,
    notification: str,
    event_id: str,
    *,
    attempt: int,
    environ: Mapping[str, str],
    timeout: float,
) -> Sent:
    target = next((n for n in fleet.notifications if n.name == notification), None)
    if target is None:
        return Sent("dropped", f"notification {notification} is no longer declared")
    event = store.event(event_id)
    if event is None:
        return Sent("dropped", f"event {event_id} expired before it could be delivered")
    if not target.wants(event):
        return Sent("dropped", f"notification {notification} no longer wants this event")
    url = target.url or environ.get(target.url_env or "", "").strip()
    if not url:
        return _refused(target, f"{target.url_env} is not set in the notify worker's environment")
    if not _usable(url):
        return _refused(target, f"{target.url_env} does not hold an http or https URL")
    secret = None
    if target.secret_env:
        secret = environ.get(target.secret_env, "")
        if not secret:
            why = f"{target.secret_env} (its signing secret) is not set in the notify worker's "
            return _refused(target, why + "environment; nothing is sent unsigned")
    wait = store.take_send_slot(target.name, target.per_minute, store.now())
    if wait is not None:
        return Sent("deferred", f"over {target.per_minute} a minute", wait + 0.5, attempt)
    problem, retry_after = _post(target, event, url, secret, timeout)
    shown = display_url(url, path=False)
    if problem is None:
        log.info(
            "notification %s: %s %s delivered to %s", target.name, event.kind, event.state, shown
        )
        return Sent("delivered", shown)
    if retry_after is None or attempt >= MAX_ATTEMPTS:
        gave_up = f" (gave up after {attempt} attempts)" if retry_after is not None else ""
        log.error("notification %s: %s: %s%s; dropped", target.name, shown, problem, gave_up)
        return Sent("dropped", f"{shown}: {problem}{gave_up}")
    delay = backoff_delay(attempt, first=FIRST_RETRY, cap=MAX_RETRY, floor=retry_after)
    log.warning(
        "notification %s: %s: %s; attempt %d, again in %.0fs",
        target.name,
        shown,
        problem,
        attempt,
        delay,
    )
    return Sent("retry", f"{shown}: {problem}", delay, attempt + 1)


def _refused(target: Notification, why: str) -> Sent:
    log.error("notification %s: %s", target.name, why)
    return Sent("dropped", why)


def _post(
    target: Notification, event: Event, url: str, secret: str | None, timeout: float
) -> tuple[str | None, float | None]:
    """POST the event: (None, None) when delivered; else what went wrong and, when worth
    another try, the least delay the receiver asked for (0 when it asked none)."""
    if target.kind is NotifierKind.SLACK:
        body = slack_body(event)
    else:
        body = webhook_body(event, target.name)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "fleetsync",
        "X-Fleetsync-Event": event.kind.value,
        "X-Fleetsync-Delivery": event.id,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(MAX_RESPONSE_BYTES)
            return None, None
    except urllib.error.HTTPError as exc:
        status = exc.code
        what = f"answered HTTP {status}"
        if status == 429 or status >= 500:
            return what, _retry_after(exc.headers)
        if 300 <= status < 400:
            return f"{what} (a redirect, not followed: give the final URL)", None
        return f"{what}: the receiver refused the message", None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        text = str(reason) if not isinstance(reason, TimeoutError) else ""
        return redact_urls(f"{type(reason).__name__}{': ' + text if text else ''}"), 0.0
    except (ValueError, http.client.InvalidURL) as exc:
        return f"the URL cannot be used ({type(exc).__name__})", None  # its text may quote it
    except http.client.HTTPException as exc:
        return f"the answer was not HTTP ({type(exc).__name__})", 0.0


def _usable(url: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _retry_after(headers: Message) -> float:
    raw = headers.get("Retry-After", "") if headers is not None else ""
    try:
        return min(max(float(raw), 0.0), MAX_RETRY)
    except ValueError:
        return 0.0
