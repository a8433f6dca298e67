"""A lean HTTP/1.1 server on asyncio protocols: keep-alive, bounded bodies, chunked streams.

The application is a callable taking a `Request` and returning a `Response` at once (the fast
path: no task, no await), or an awaitable that resolves to a `Response`, a `Stream` (chunked,
long-lived: watches) or `DROP` (close the connection without answering: a "down" cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final
from urllib.parse import parse_qsl, unquote

MAX_HEADER_BYTES = 64 * 1024
MAX_DISCARD_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    body_too_large: bool = False

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stream:
    """A chunked response whose chunks come from an async iterator."""

    status: int
    chunks: AsyncIterator[bytes]
    content_type: str = "application/json"


class _Drop:
    __slots__ = ()


DROP: Final = _Drop()
Outcome = Response | Stream | _Drop
Handler = Callable[[Request], "Response | Awaitable[Outcome]"]

_REASONS = {s.value: s.phrase for s in HTTPStatus}


def _head(status: int, content_type: str, headers: Mapping[str, str], extra: str) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
        f"Content-Type: {content_type}",
        "Cache-Control: no-cache, private",
        extra,
    ]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Connections:
    """Client connections of one server: accepted since it started (or the last reset), and
    open now. Touched by the event loop's thread only."""

    accepted: int = 0
    open: int = 0


class HttpProtocol(asyncio.Protocol):
    """One client connection: parses requests one at a time and writes their responses."""

    def __init__(self, handler: Handler, max_body: int, connections: Connections) -> None:
        self.handler = handler
        self.connections = connections
        self.max_body = max_body
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.closed = False
        self.discard = 0
        self.pending: tuple[str, str, dict[str, str]] | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connections.accepted += 1
        self.connections.open += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.open -= 1
        self.closed = True
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        if self.discard:
            taken = min(self.discard, len(data))
            self.discard -= taken
            data = data[taken:]
            if self.discard == 0 and self.pending is not None:
                method, target, headers = self.pending
                self.pending = None
                self._dispatch(method, target, headers, b"", too_large=True)
        self.buf += data
        if not self.busy:
            self._process()

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _process(self) -> None:
        while not self.busy and not self.closed and not self.discard:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEADER_BYTES:
                    self._write(Response(431, b"request header too large"), keep_alive=False)
                return
            try:
                head = self.buf[:end].decode("latin-1").split("\r\n")
                method, target, _version = head[0].split(" ", 2)
                headers = {}
                for line in head[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
            except ValueError:
                self._write(Response(400, b"malformed request"), keep_alive=False)
                return
            start = end + 4
            if "chunked" in headers.get("transfer-encoding", ""):
                decoded = self._dechunk(start)
                if decoded is None:
                    return
                body, consumed = decoded
                del self.buf[:consumed]
            else:
                length = int(headers.get("content-length") or 0)
                if length > self.max_body:
                    del self.buf[:start]
                    if length > MAX_DISCARD_BYTES:
                        self._dispatch(method, target, headers, b"", too_large=True, close=True)
                        return
                    taken = min(length, len(self.buf))
                    del self.buf[:taken]
                    self.discard = length - taken
                    if self.discard:
                        self.pending = (method, target, headers)
                        return
                    self._dispatch(method, target, headers, b"", too_large=True)
                    continue
                if len(self.buf) - start < length:
                    return
                body = bytes(self.buf[start : start + length])
                del self.buf[: start + length]
            self._dispatch(method, target, headers, body)

    def _dechunk(self, start: int) -> tuple[bytes, int] | None:
        pos, body = start, bytearray()
        while True:
            line_end = self.buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(self.buf[pos:line_end]).split(b";")[0] or b"0", 16)
            pos = line_end + 2
            if size == 0:
                trailer_end = self.buf.find(b"\r\n", pos)
                return (bytes(body), trailer_end + 2) if trailer_end >= 0 else None
            if len(self.buf) < pos + size + 2:
                return None
            body += self.buf[pos : pos + size]
            pos += size + 2
            if len(body) > self.max_body:
                return bytes(body[: self.max_body + 1]), pos

    def _dispatch(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        *,
        too_large: bool = False,
        close: bool = False,
    ) -> None:
        path, _, raw_query = target.partition("?")
        query = dict(parse_qsl(raw_query, keep_blank_values=True)) if raw_query else {}
        request = Request(
            method, unquote(path), query, headers, body, too_large or len(body) > self.max_body
        )
        keep_alive = not close and headers.get("connection", "").lower() != "close"
        result = self.handler(request)
        if isinstance(result, Response):
            self._write(result, keep_alive)
        else:
            self.busy = True
            self.task = asyncio.ensure_future(self._finish(result, keep_alive))

    async def _finish(self, pending: Awaitable[Outcome], keep_alive: bool) -> None:
        try:
            outcome = await pending
            if isinstance(outcome, _Drop):
                self._close()
                return
            if isinstance(outcome, Stream):
                await self._stream(outcome)
            else:
                self._write(outcome, keep_alive)
        except asyncio.CancelledError:
            return
        finally:
            self.task = None
        self.busy = False
        if not self.closed:
            self._process()

    async def _stream(self, stream: Stream) -> None:
        transport = self.transport
        assert transport is not None
        transport.write(_head(stream.status, stream.content_type, {}, "Transfer-Encoding: chunked"))
        try:
            async for chunk in stream.chunks:
                if self.closed:
                    break
                transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        finally:
            with contextlib.suppress(Exception):
                await stream.chunks.aclose()  # type: ignore[attr-defined]
        if not self.closed:
            transport.write(b"0\r\n\r\n")

    def _write(self, response: Response, keep_alive: bool) -> None:
        if self.transport is None or self.closed:
            return
        extra = f"Content-Length: {len(response.body)}"
        if not keep_alive:
            extra += "\r\nConnection: close"
        self.transport.write(
            _head(response.status, response.content_type, response.headers, extra) + response.body
        )
        if not keep_alive:
            self._close()


async def start_server(
    handler: Handler, host: str, port: int, max_body: int, connections: Connections | None = None
) -> asyncio.Server:
    """Serve `handler` on `host:port`; `connections` counts the clients' connections."""
    loop = asyncio.get_running_loop()
    counted = connections if connections is not None else Connections()
    return await loop.create_server(
        lambda: HttpProtocol(handler, max_body, counted),
        host,
        port,
        reuse_address=True,
        backlog=1024,
    )


def json_response(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, body, "application/json", headers or {})
