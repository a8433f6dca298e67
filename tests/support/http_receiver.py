"""A real HTTP receiver on loopback for notifications: a threaded http.server that records every
POST (headers and body) and answers as a test scripts it: a status for each of the next
requests (503, 429 with Retry-After...), or holding its answer until released (a slow one)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.waiting import wait_for


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    """(status, headers) for each of the next requests; 200 once it is empty."""
    hold: threading.Event | None = None
    """When set by the test, requests wait for it before they are answered."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer_next(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.script.extend((status, dict(headers or {})) for status in statuses)

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, oldest first."""
        with self.lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def all(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def wait_delivered(self, count: int, *, timeout: float = 60, what: str = "") -> list[Received]:
        found: list[Received] = wait_for(
            lambda: (d := self.delivered()) and len(d) >= count and d,
            timeout=timeout,
            interval=0.1,
            what=what or f"{count} messages delivered",
        )
        return found

    def wait_requests(self, count: int, *, timeout: float = 60, what: str = "") -> list[Received]:
        found: list[Received] = wait_for(
            lambda: (d := self.all()) and len(d) >= count and d,
            timeout=timeout,
            interval=0.1,
            what=what or f"{count} requests",
        )
        return found


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if receiver.hold is not None:
                receiver.hold.wait(timeout=60)
            with receiver.lock:
                status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                receiver.received.append(
                    Received(self.path, dict(self.headers.items()), body, status)
                )
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a slow receiver's test)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/fleet"
    thread = threading.Thread(target=server.serve_forever, name="test-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.shutdown()
        server.server_close()
