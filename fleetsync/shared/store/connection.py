"""How fleetsync reaches Redis: the URLs it accepts, the client it builds, the errors that mean
"Redis is away for now", and URLs fit to show (never with a password).

URLs:
- `redis://[:password@]host:port/db`, `rediss://...` (TLS) and `unix:///path?db=N`: one server;
- `sentinel://[:password@]host:port[,host:port...]/db?master=NAME`: Redis Sentinel. The client
  asks the sentinels where the master of NAME is, and asks again after a failover. The password
  is the data nodes' (requirepass); the sentinels themselves are reached without one.

The same URL serves the store (redis-py's `Sentinel.master_for`) and the Celery broker (kombu's
`sentinel` transport, see `celery_broker`). URLs are shown without userinfo
(`fleetsync.shared.urls.display_url`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import redis
import redis.exceptions
import redis.sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from fleetsync.shared.urls import display_url

SCHEMES = ("redis", "rediss", "unix", "sentinel")
CONNECT_TIMEOUT = 5.0
"""Seconds a connection to Redis may take to open (the store's and the broker's): a server that
drops packets is given up after this, not after the operating system's TCP timeout (minutes),
and the caller's retry takes over."""
DEFAULT_SENTINEL_PORT = 26379

UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
)
"""Errors that mean Redis cannot answer now (down, restarting, loading its data, failing over,
unreachable, refusing the password): retry later; the work itself did not fail."""


class RedisUrlError(ValueError):
    """A Redis URL fleetsync cannot use; the message names the problem and the URL (redacted)."""


@dataclass(frozen=True, slots=True)
class SentinelAddress:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    password: str | None
    username: str | None


def check_url(url: str) -> str:
    """`url` when fleetsync can use it; RedisUrlError saying what is wrong otherwise."""
    shown = display_url(url)
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme not in SCHEMES:
        raise RedisUrlError(
            f"{shown!r} is not a Redis URL: it must start with "
            + ", ".join(f"{s}://" for s in SCHEMES)
            + " (e.g. redis://127.0.0.1:6379/0)"
        )
    if scheme == "sentinel":
        sentinel_address(url)
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RedisUrlError(f"{shown!r}: {exc}") from exc
    query = parse_qs(parts.query)
    if "password" in query:  # a URL's query is shown: a password there would be too
        raise RedisUrlError(
            f"{display_url(url, path=False)!r}: the password goes before the host, not in the "
            f"query ({scheme}://:PASSWORD@...), so that it is never shown"
        )
    if scheme == "unix":
        if not parts.path.strip("/"):
            raise RedisUrlError(f"{shown!r}: no socket (write unix:///PATH/TO/redis.sock?db=N)")
        _db(query.get("db", ["0"])[0], shown)
        return url
    if not parts.hostname:
        raise RedisUrlError(f"{shown!r}: no host (write redis://HOST:PORT/DB)")
    if port is not None and not 0 < port < 65536:
        raise RedisUrlError(f"{shown!r}: port {port} is out of range")
    _db(parts.path.lstrip("/") or query.get("db", ["0"])[0], shown)
    return url


def _db(text: str, shown: str) -> int:
    if not text.isdigit() or int(text) > 15:
        raise RedisUrlError(f"{shown!r}: database {text!r} must be a number from 0 to 15")
    return int(text)


def sentinel_address(url: str) -> SentinelAddress:
    """The parts of a `sentinel://` URL; RedisUrlError when one is missing or wrong."""
    shown = display_url(url)
    rest = url.partition("://")[2]
    netloc, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    if "?" in netloc:
        netloc, _, query = netloc.partition("?")
    username = password = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, colon, secret = userinfo.partition(":")
        username = user or None
        password = secret if colon else None
    sentinels = []
    for host in filter(None, netloc.split(",")):
        name, colon, port_text = host.rpartition(":") if ":" in host else (host, "", "")
        if not colon:
            name, port_text = host, str(DEFAULT_SENTINEL_PORT)
        if not name or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise RedisUrlError(f"{shown!r}: {host!r} is not HOST:PORT of a sentinel")
        sentinels.append((name, int(port_text)))
    if not sentinels:
        raise RedisUrlError(f"{shown!r}: name at least one sentinel (sentinel://HOST:PORT/...)")
    masters = parse_qs(query).get("master") or parse_qs(query).get("master_name")
    if not masters or not masters[0]:
        raise RedisUrlError(
            f"{shown!r}: name the monitored master: sentinel://HOST:PORT/0?master=NAME"
        )
    db = _db(path or "0", shown)
    return SentinelAddress(tuple(sentinels), masters[0], db, password, username)


def _retry() -> Retry:
    # A blip (a dropped connection, a failover in progress) is retried a few times within a
    # second; a longer outage surfaces as an UNAVAILABLE error to the caller, who waits.
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=3)


def connect_client(url: str, *, socket_timeout: float = 30.0) -> redis.Redis:
    """A client for `url` (checked first): one server, or the master Sentinel points at."""
    check_url(url)
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "health_check_interval": 30,
        "retry": _retry(),
    }
    if url.startswith("sentinel://"):
        address = sentinel_address(url)
        sentinel = redis.sentinel.Sentinel(
            list(address.sentinels),
            sentinel_kwargs={"socket_timeout": 2, "socket_connect_timeout": 2},
            **options,
        )
        client: redis.Redis = sentinel.master_for(
            address.master,
            db=address.db,
            password=address.password,
            username=address.username,
        )
        return client
    return redis.Redis.from_url(url, **options)


def celery_broker(url: str) -> tuple[str, dict[str, object]]:
    """The broker URL and transport options that make kombu use `url`: itself for one
    server, kombu's `sentinel` transport (one `sentinel://` URL per sentinel, the master's
    name as a transport option) for Sentinel, and kombu's spelling of a Unix socket
    (`redis+socket:///PATH?virtual_host=DB`: kombu has no `unix` transport). Over TCP a
    connection takes at most `CONNECT_TIMEOUT` to open, as the store's do."""
    connect: dict[str, object] = {"socket_connect_timeout": CONNECT_TIMEOUT}
    if url.startswith("unix://"):
        return _socket_broker(url), {}
    if not url.startswith("sentinel://"):
        return url, connect
    address = sentinel_address(url)
    auth = ""
    if address.password is not None:
        auth = f"{quote(address.username or '', safe='')}:{quote(address.password, safe='')}@"
    broker = ";".join(f"sentinel://{auth}{h}:{p}/{address.db}" for h, p in address.sentinels)
    return broker, {
        **connect,
        "master_name": address.master,
        "sentinel_kwargs": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }


def _socket_broker(url: str) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    db = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{auth}{'@' if auth else ''}{parts.path}?virtual_host={db}"


def wait_until_reachable(client: redis.Redis, *, timeout: float) -> bool:
    """Ping `client` with growing pauses until it answers (True) or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    pause = 0.1
    while True:
        try:
            client.ping()
            return True
        except UNAVAILABLE:
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
