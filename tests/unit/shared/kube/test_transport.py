"""The thin path sends what the kubernetes client would: the same query string and the same JSON
for every value a manifest loaded from YAML can hold (checked against the client's own code)."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes.client import ApiClient, Configuration

from fleetsync.shared.kube.transport import NotJson, Refusal, Transport, _jsonable, _query_string


@pytest.fixture(scope="module")
def api_client() -> ApiClient:
    return ApiClient(Configuration())


@pytest.mark.parametrize(
    "query",
    [
        [("fieldValidation", "Strict"), ("fieldManager", "fleetsync"), ("force", True)],
        [("force", False), ("dryRun", "All")],
        [("limit", 1), ("labelSelector", "app.kubernetes.io/managed-by=fleetsync")],
        [("labelSelector", "tier in (web, api),!legacy,env!=prod")],
        [("propagationPolicy", "Foreground")],
        [("labelSelector", "name=ä/ü+%")],
    ],
)
def test_a_query_is_quoted_as_the_kubernetes_client_quotes_it(
    api_client: ApiClient, query: list[tuple[str, Any]]
) -> None:
    assert _query_string(query) == api_client.parameters_to_url_query(query, None)


def test_a_manifest_s_dates_and_timestamps_are_sent_as_the_client_sends_them(
    api_client: ApiClient,
) -> None:
    manifest = yaml.safe_load(
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: dates, annotations: {when: 2024-01-31}}
        data: {at: 2024-01-31T10:20:30Z, ratio: 1.5, n: 3, on: true, none: null, list: [a, 1]}
        """
    )
    assert isinstance(manifest["metadata"]["annotations"]["when"], datetime.date)

    sent = json.loads(json.dumps(manifest, default=_jsonable))

    assert sent == json.loads(json.dumps(api_client.sanitize_for_serialization(manifest)))
    assert sent["data"]["at"] == "2024-01-31T10:20:30+00:00"


def test_a_value_json_cannot_hold_is_refused_as_the_client_refuses_it() -> None:
    with pytest.raises(TypeError, match="a bytes cannot be sent as JSON"):
        json.dumps({"data": b"raw"}, default=_jsonable)


def test_decimals_uuids_and_enums_are_sent_as_their_text_and_value() -> None:
    class Tier(enum.Enum):
        WEB = "web"

    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    sent = json.dumps([decimal.Decimal("1.50"), ident, Tier.WEB], default=_jsonable)
    assert sent == '["1.50", "12345678-1234-5678-1234-567812345678", "web"]'


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@contextmanager
def answering(status: int, body: bytes) -> Iterator[tuple[str, list[Seen]]]:
    """A loopback HTTP server answering every request with `status` and `body`; what it was
    sent, in order."""
    seen: list[Seen] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append(Seen(self.command, self.path, dict(self.headers), self.rfile.read(length)))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Seen", str(len(seen)))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PATCH = do_DELETE = answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def transport(url: str, token: str | None = None, **kwargs: Any) -> Transport:
    return Transport(
        host=url,
        pool_manager=urllib3.PoolManager(**kwargs),
        authorization=lambda: token,
        headers={"User-Agent": "fleetsync-test"},
        timeout=urllib3.Timeout(total=10.0),
    )


def test_a_body_is_sent_as_compact_json_with_its_content_type_and_the_token() -> None:
    with answering(200, b'{"kind": "ConfigMap"}') as (url, seen):
        answer = transport(url + "/", "Bearer t0k").send(
            "PATCH",
            "/api/v1/namespaces/web/configmaps/a",
            query=[("force", True), ("fieldManager", "fleetsync")],
            body={"data": {"k": "v", "n": "1"}},
            content_type="application/apply-patch+yaml",
        )
    assert answer == {"kind": "ConfigMap"}
    (request,) = seen
    assert (request.method, request.path, request.body) == (
        "PATCH",
        "/api/v1/namespaces/web/configmaps/a?force=true&fieldManager=fleetsync",
        b'{"data":{"k":"v","n":"1"}}',
    )
    assert request.headers["Content-Type"] == "application/apply-patch+yaml"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["authorization"] == "Bearer t0k"
    assert request.headers["User-Agent"] == "fleetsync-test"


def test_a_read_without_a_token_sends_no_authorization_and_no_body() -> None:
    with answering(200, b"{}") as (url, seen):
        assert transport(url, None).send("GET", "/api/v1/namespaces") == {}
    (request,) = seen
    assert (request.path, request.body) == ("/api/v1/namespaces", b"")
    assert "authorization" not in {h.lower() for h in request.headers}
    assert "content-type" not in {h.lower() for h in request.headers}


def test_a_cluster_url_with_a_path_prefixes_every_request_with_it() -> None:
    with answering(200, b"[]") as (url, seen):
        assert transport(url + "/clusters/prod/").send("GET", "/api") == []
    assert [r.path for r in seen] == ["/clusters/prod/api"]


@pytest.mark.parametrize("status", [200, 201, 299])
def test_every_2xx_answer_is_an_answer(status: int) -> None:
    with answering(status, b'{"ok": true}') as (url, _):
        assert transport(url).send("GET", "/api") == {"ok": True}


@pytest.mark.parametrize(("status", "reason"), [(300, "Multiple Choices"), (404, "Not Found")])
def test_an_answer_outside_2xx_is_a_refusal_with_what_the_server_said(
    status: int, reason: str
) -> None:
    with answering(status, b"gone \xff") as (url, _), pytest.raises(Refusal) as caught:
        transport(url).send("GET", "/api/v1/namespaces/x")
    refusal = caught.value
    assert (str(refusal), refusal.status, refusal.reason, refusal.body) == (
        f"{status} {reason}",
        status,
        reason,
        "gone \ufffd",
    )
    assert refusal.headers["X-Seen"] == "1"


def test_a_2xx_answer_that_is_not_json_names_the_request_without_its_query() -> None:
    with answering(200, b"<html/>") as (url, _), pytest.raises(NotJson) as caught:
        transport(url).send("GET", "/api/v1/namespaces", query=[("limit", 1)])
    assert str(caught.value) == "GET /api/v1/namespaces answered 200 with a body that is not JSON"


def test_after_the_pools_are_cleared_the_next_request_asks_the_manager_again() -> None:
    with answering(200, b"{}") as (url, seen):
        sender = transport(url)
        sender.send("GET", "/api")
        manager = sender._manager
        manager.connection_from_url(url).close()  # the pool the transport held, disposed of
        manager.clear()
        sender.forget_pool()
        assert sender.send("GET", "/api") == {}
    assert len(seen) == 2
