"""The chart cache: chart archives by content, shared by every worker process on a host.

`<cache>/sha256/<2 hex>/<digest>.tgz`. An archive is downloaded once, written to a temporary
file beside its place, verified against the digest its source gave (the index's `digest`, the
OCI manifest's layer digest) and only then renamed into place: a reader sees a whole, verified
archive or none, however many processes download the same chart at once. A mismatch is an error
naming the URL, and nothing is kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from fleetsync.shared.charts.http import Client, MiB
from fleetsync.shared.charts.versions import ChartVersion
from fleetsync.shared.errors import PermanentError
from fleetsync.shared.urls import display_url

MAX_ARCHIVE_BYTES = 32 * MiB
_DIGEST = re.compile(r"[0-9a-f]{64}")


def archive_path(cache_dir: Path, digest: str) -> Path:
    if not _DIGEST.fullmatch(digest):
        raise PermanentError(f"{digest[:80]!r} is not a sha256 digest")
    return cache_dir / "sha256" / digest[:2] / f"{digest}.tgz"


def cached_archive(cache_dir: Path, digest: str) -> Path | None:
    path = archive_path(cache_dir, digest)
    return path if path.is_file() else None


def ensure_archive(
    client: Client, chart: ChartVersion, *, cache_dir: Path, max_bytes: int = MAX_ARCHIVE_BYTES
) -> Path:
    """The verified archive of `chart` in the cache, downloaded when it is not there yet."""
    path = archive_path(cache_dir, chart.digest)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".download-", suffix=".tgz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            client.get(chart.url, max_bytes=max_bytes, into=file, what=f"chart {chart.name}")
        digest = _sha256(Path(temporary))
        if digest != chart.digest:
            raise PermanentError(
                f"{client.subject}: chart {chart.name} {chart.version} from "
                f"{display_url(chart.url)} has digest sha256:{digest}, but its source gives "
                f"sha256:{chart.digest}: refused (a corrupt or replaced archive)"
            )
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
