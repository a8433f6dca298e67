"""The thin HTTP path: one cluster's requests sent over its urllib3 connection pool as they are.

The kubernetes client spends more Python on each request than the request itself costs
(`bench/RESULTS.md`): it walks the body to sanitize it, builds and quotes parameters through
generic tables, matches the content type with regular expressions, and looks the connection
pool up again from the URL (parsing it, normalizing a pool key) before every request. A
`Transport` does only what a request needs: the query quoted as the client quotes it, the body
dumped to JSON once, the authorization header, and the request sent straight to the pool the
client's own `PoolManager` holds for the cluster's host.

It changes nothing of what is sent or to whom. The pool manager is the client's (built from
the kubeconfig: CA bundle, client certificate, insecure-skip-verify, TLS server name, proxy,
retries); the authorization header is the client's own (`authorization`, asked before every
request, so that an exec plugin's or an auth provider's token is refreshed when it expires, as
the client does); the headers are the client's defaults (its User-Agent). Through a proxy
(`ProxyManager`), every request goes through the manager, which knows how to address it.

A 2xx answer is returned as decoded JSON; any other answer raises `Refusal` with the status,
reason phrase, body and headers, which `client.py` maps to fleetsync's errors; urllib3's own
errors (connection refused, timeouts, TLS) propagate for `client.py` to map as well.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import urllib3


class Refusal(Exception):
    """An answer outside 2xx: what the server said, for `client.py` to map."""

    def __init__(self, *, status: int, reason: str, body: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.body = body
        self.headers = headers


class NotJson(Exception):
    """A 2xx answer whose body is not JSON (an API server always answers JSON when asked)."""


Query = Sequence[tuple[str, str | int | bool]]


class Transport:
    """Requests to one cluster's API over its connection pool; shared by threads."""

    def __init__(
        self,
        *,
        host: str,
        pool_manager: urllib3.PoolManager,
        authorization: Callable[[], str | None],
        headers: Mapping[str, str],
        timeout: urllib3.Timeout,
    ) -> None:
        self._host = host.rstrip("/")
        self._prefix = urllib3.util.parse_url(self._host).path or ""
        self._manager = pool_manager
        self._proxied = isinstance(pool_manager, urllib3.ProxyManager)
        self._authorization = authorization
        self._headers = dict(headers)
        self._timeout = timeout
        self._pool: urllib3.HTTPConnectionPool | None = None
        self._lock = threading.Lock()

    def send(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """`method` on `path` (under the cluster's URL) with `query`; `body`, when given, sent
        as JSON with `content_type`. The answer decoded, or `Refusal` for a non-2xx one."""
        target = path + ("?" + _query_string(query) if query else "")
        headers = {**self._headers, "Accept": "application/json"}
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body, separators=(",", ":"), default=_jsonable).encode()
        token = self._authorization()
        if token:
            headers["authorization"] = token
        if self._proxied:
            response = self._manager.urlopen(
                method,
                self._host + target,
                body=data,
                headers=headers,
                timeout=self._timeout,
                redirect=False,
            )
        else:
            response = self._connection_pool().urlopen(
                method,
                self._prefix + target,
                body=data,
                headers=headers,
                timeout=self._timeout,
                redirect=False,
                assert_same_host=False,
            )
        status = response.status
        payload = response.data
        if not 200 <= status <= 299:
            raise Refusal(
                status=status,
                reason=response.reason or "",
                body=payload.decode("utf-8", "replace"),
                headers=response.headers,
            )
        try:
            return json.loads(payload)
        except ValueError:
            raise NotJson(
                f"{method} {path} answered {status} with a body that is not JSON"
            ) from None

    def forget_pool(self) -> None:
        """Ask the pool manager again on the next request (after it was cleared)."""
        with self._lock:
            self._pool = None

    def _connection_pool(self) -> urllib3.HTTPConnectionPool:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = self._manager.connection_from_url(self._host)
                pool = self._pool
        return pool


def _query_string(query: Query) -> str:
    """`k=v&...`, each value quoted and booleans lower-cased as the kubernetes client does."""
    parts = []
    for key, value in query:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        parts.append(f"{key}={quote(text)}")
    return "&".join(parts)


def _jsonable(value: object) -> object:
    """What the kubernetes client makes of the values YAML can load that JSON cannot dump
    (a date, a timestamp) and of the few other types it converts; anything else is refused."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"a {type(value).__name__} cannot be sent as JSON")
