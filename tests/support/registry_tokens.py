"""A small real token server for the OCI registry's token authentication (the Docker/OCI
distribution token protocol): the registry answers 401 with `WWW-Authenticate: Bearer
realm=...,service=...,scope=...`, the client asks the realm for a token (HTTP Basic
credentials), and the registry verifies the JWT it is given against the certificate it trusts.

The server checks the credentials, grants the scope asked for, and signs an RS256 JWT with an
RSA key whose self-signed certificate (in the token's `x5c` header) is the registry's
`rootcertbundle`. Keys, certificate and signatures are made by the openssl command line. It
counts the tokens it issued, and the Authorization headers it saw (never their value), so
that tests can show the flow really went through it.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ISSUER = "fleetsync-test-tokens"
SERVICE = "fleetsync-test-registry"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class TokenServer:
    directory: Path
    credentials: tuple[str, str]
    port: int = 0
    issued: list[str] = field(default_factory=list)
    """The scopes of each token issued, in order."""
    refused: int = 0

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def certificate(self) -> Path:
        return self.directory / "token.pem"

    def make_keys(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "token.key",
                "-out",
                "token.pem",
                "-days",
                "2",
                "-subj",
                "/CN=fleetsync test token issuer",
            ],
            cwd=self.directory,
            check=True,
            capture_output=True,
        )
        der = subprocess.run(
            ["openssl", "x509", "-in", "token.pem", "-outform", "DER"],
            cwd=self.directory,
            check=True,
            capture_output=True,
        ).stdout
        self._x5c = base64.b64encode(der).decode()

    def token(self, scopes: list[str]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        claims = {
            "iss": ISSUER,
            "sub": self.credentials[0],
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.directory / "token.key")],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def answer(self, path: str, authorization: str) -> tuple[int, dict[str, object]]:
        query = parse_qs(urlsplit(path).query)
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        if authorization != f"Basic {expected}":
            self.refused += 1
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
        scopes = query.get("scope", [])
        self.issued.append(" ".join(scopes))
        return 200, {"token": self.token(scopes), "expires_in": 300}


@contextmanager
def running_token_server(directory: Path, credentials: tuple[str, str]) -> Iterator[TokenServer]:
    """The token server on a free loopback port, its key and certificate in `directory`."""
    server = TokenServer(directory=directory, credentials=credentials)
    server.make_keys()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = server.answer(self.path, self.headers.get("Authorization", ""))
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="token-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
