"""The demo's chart repository: the example charts packaged as Helm packages them (a gzipped
tar of `NAME/...`), listed in an index.yaml with their digests, and served over HTTP on a
loopback port, as any static chart repository is (GitHub Pages, a bucket, ChartMuseum)."""

from __future__ import annotations

import functools
import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from fleetsync.examples import CHARTS


def package_charts(directory: Path) -> list[tuple[str, str]]:
    """Package every example chart into `directory` and write its index.yaml; the (name,
    version) of each chart."""
    directory.mkdir(parents=True, exist_ok=True)
    entries: dict[str, list[dict[str, object]]] = {}
    for chart in sorted(p for p in CHARTS.iterdir() if (p / "Chart.yaml").is_file()):
        metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
        name, version = str(metadata["name"]), str(metadata["version"])
        archive = _package(chart, name)
        filename = f"{name}-{version}.tgz"
        (directory / filename).write_bytes(archive)
        entries.setdefault(name, []).append(
            {
                **metadata,
                "urls": [filename],
                "digest": hashlib.sha256(archive).hexdigest(),
                "created": "2024-01-01T00:00:00Z",
            }
        )
    index = {"apiVersion": "v1", "entries": entries, "generated": "2024-01-01T00:00:00Z"}
    (directory / "index.yaml").write_text(yaml.safe_dump(index, sort_keys=True))
    return [(name, str(e["version"])) for name, es in entries.items() for e in es]


def _package(chart: Path, name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(p for p in chart.rglob("*") if p.is_file()):
            data = path.read_bytes()
            info = tarfile.TarInfo(f"{name}/{path.relative_to(chart).as_posix()}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving_chart_repository(directory: Path) -> Iterator[str]:
    """Serve `directory` over HTTP on a free loopback port; yields the repository's URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-charts", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
