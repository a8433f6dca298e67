"""Helm charts for tests, packaged as Helm packages them, and served as real sources.

- `package_chart`: a chart archive (a gzipped tar of `NAME/...`) made with plain tarfile.
- `ChartRepoServer`: a chart repository over HTTP or HTTPS on loopback (a threaded Python HTTP
  server): the packaged charts and an index.yaml generated from them (with each archive's
  sha256 digest), an ETag on the index that answers If-None-Match with 304, HTTP Basic or
  Bearer authentication when asked, a count of the requests it served, and faults on demand
  (an answer status for a path, replaced content for a path).
- `make_tls`: a CA and a server certificate for 127.0.0.1, made with openssl.
"""

from __future__ import annotations

import base64
import hashlib
import io
import ssl
import subprocess
import tarfile
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from tests.support.redis_server import free_port


def chart_yaml(name: str, version: str, dependencies: list[dict[str, str]] | None = None) -> str:
    data: dict[str, object] = {"apiVersion": "v2", "name": name, "version": version}
    if dependencies:
        data["dependencies"] = dependencies
    return yaml.safe_dump(data, sort_keys=False)


def configmap_template(name: str = "{{ .Release.Name }}-settings") -> str:
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        f"  name: {name}\n"
        "data:\n  color: {{ .Values.color | quote }}\n  chart: {{ .Chart.Version | quote }}\n"
    )


def package_chart(
    name: str,
    version: str,
    files: Mapping[str, str | bytes] | None = None,
    *,
    dependencies: list[dict[str, str]] | None = None,
    top: str | None = None,
) -> bytes:
    """A chart archive: `NAME/Chart.yaml`, `NAME/values.yaml` and a ConfigMap template unless
    `files` (paths inside the chart) say otherwise."""
    contents: dict[str, str | bytes] = {
        "Chart.yaml": chart_yaml(name, version, dependencies),
        "values.yaml": "color: blue\n",
        "templates/configmap.yaml": configmap_template(),
    }
    contents.update(files or {})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, data in sorted(contents.items()):
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(f"{top or name}/{path}")
            info.size = len(raw)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Tls:
    ca: Path
    cert: Path
    key: Path


def make_tls(directory: Path) -> Tls:
    """A CA and a certificate for 127.0.0.1 and localhost signed by it (openssl)."""
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=fleetsync test CA",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
    )
    return Tls(ca=directory / "ca.pem", cert=directory / "server.pem", key=directory / "server.key")


@dataclass
class ChartRepoServer:
    """A chart repository: `add` charts, they are served with a generated index.yaml."""

    port: int
    scheme: str = "http"
    basic: tuple[str, str] | None = None
    token: str | None = None
    archives: dict[str, bytes] = field(default_factory=dict)
    index_entries: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    answers: dict[str, int] = field(default_factory=dict)
    """A status to answer for a path (a fault)."""
    replaced: dict[str, bytes] = field(default_factory=dict)
    """Content to serve instead of the real one for a path (a fault)."""
    index_etag: bool = True

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def add(self, archive: bytes, *, name: str, version: str, digest: bool = True) -> str:
        """Serve a chart archive and list it in the index; returns its file name."""
        filename = f"{name}-{version}.tgz"
        self.archives[filename] = archive
        entry: dict[str, object] = {
            "apiVersion": "v2",
            "name": name,
            "version": version,
            "urls": [filename],
            "created": "2024-01-01T00:00:00Z",
        }
        if digest:
            entry["digest"] = sha256(archive)
        self.index_entries.setdefault(name, []).insert(0, entry)
        return filename

    def index(self) -> bytes:
        if "/index.yaml" in self.replaced:
            return self.replaced["/index.yaml"]
        data = {"apiVersion": "v1", "entries": self.index_entries, "generated": "2024-01-01"}
        return yaml.safe_dump(data, sort_keys=True).encode()

    def authorized(self, header: str | None) -> bool:
        if self.basic is None and self.token is None:
            return True
        if self.token is not None and header == f"Bearer {self.token}":
            return True
        if self.basic is not None:
            expected = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            return header == f"Basic {expected}"
        return False


def _handler(repo: ChartRepoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            repo.requests[path] += 1
            if path in repo.answers:
                self._answer(repo.answers[path], b"fault\n")
                return
            if not repo.authorized(self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path == "/index.yaml":
                body = repo.index()
                etag = f'"{sha256(body)[:16]}"'
                if repo.index_etag and self.headers.get("If-None-Match") == etag:
                    repo.requests["304"] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self._answer(200, body, {"ETag": etag} if repo.index_etag else {})
                return
            name = path.lstrip("/")
            if name in repo.archives:
                self._answer(200, repo.replaced.get(path, repo.archives[name]))
                return
            self._answer(404, b"not found\n")

        def _answer(self, status: int, body: bytes, headers: Mapping[str, str] = {}) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serving_charts(
    *, tls: Tls | None = None, basic: tuple[str, str] | None = None, token: str | None = None
) -> Iterator[ChartRepoServer]:
    """A chart repository on a free loopback port, over HTTPS when `tls` is given."""
    port = free_port()
    repo = ChartRepoServer(port=port, scheme="https" if tls else "http", basic=basic, token=token)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(repo))
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert, tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield repo
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
