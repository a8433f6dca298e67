"""Charts from chart repositories and OCI registries: resolve a version, fetch it once, unpack
it safely.

The source stage uses these for applications on a repository of type `helm` (an index.yaml over
https or http) or `oci` (an OCI registry), and for the dependencies a chart declares on such
sources. Plain Python HTTP in the fetch worker (http), never Helm; what is downloaded is kept by
digest in a cache shared by the host's worker processes (cache) and unpacked with every path
checked (archive).

- semver: versions and the ranges Helm accepts (`>=6.0 <7`, `^6.7`, `~6.7`, `6.x`)
- index: a chart repository's index.yaml, with conditional requests
- oci: a registry's tag list and manifests
- resolve (here): a chart and a range on a repository -> one `ChartVersion` with its digest
- dependencies: Chart.yaml dependencies on chart repositories and registries, honouring
  Chart.lock, fetched into the chart's charts/ directory before it renders
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fleetsync.shared.charts import index, oci
from fleetsync.shared.charts.archive import ArchiveError, ArchiveLimits, extract_chart
from fleetsync.shared.charts.cache import cached_archive, ensure_archive
from fleetsync.shared.charts.http import Client, SourceHTTPError
from fleetsync.shared.charts.versions import ChartVersion
from fleetsync.shared.errors import PermanentError, TransientError
from fleetsync.shared.model.declaration import Repository, RepoType

__all__ = [
    "ArchiveError",
    "ArchiveLimits",
    "ChartVersion",
    "Client",
    "cached_archive",
    "ensure_archive",
    "extract_chart",
    "resolve",
    "resolve_many",
]


def resolve(
    repository: Repository,
    chart: str,
    wanted: str | None,
    *,
    cache_dir: Path,
    client: Client | None = None,
) -> ChartVersion:
    """The version of `chart` that `wanted` (a version or a range; None: the newest release)
    picks on `repository` now."""
    client = client or Client(repository)
    if repository.type is RepoType.OCI:
        return oci.find(client, chart, wanted)
    return index.read_index(client, cache_dir=cache_dir).find(repository, chart, wanted)


def resolve_many(
    repository: Repository,
    wanted: Mapping[str, tuple[str, str | None]],
    *,
    cache_dir: Path,
) -> dict[str, ChartVersion | PermanentError]:
    """Resolve each key's (chart, range) with one read of the repository (one index.yaml, or one
    tag list per chart). What concerns one chart only (no such chart, no matching version, a tag
    that does not exist) is that key's error; what concerns the repository (down, 401, a
    malformed index) raises."""
    client = Client(repository)
    resolved: dict[str, ChartVersion | PermanentError] = {}
    if repository.type is RepoType.HELM:
        found = index.read_index(client, cache_dir=cache_dir)
        for key, (chart, version) in sorted(wanted.items()):
            try:
                resolved[key] = found.find(repository, chart, version)
            except PermanentError as exc:
                resolved[key] = exc
        return resolved
    for key, (chart, version) in sorted(wanted.items()):
        try:
            resolved[key] = oci.find(client, chart, version)
        except (SourceHTTPError, TransientError):
            raise
        except PermanentError as exc:
            resolved[key] = exc
    return resolved
