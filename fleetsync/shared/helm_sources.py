"""The source stage's Helm inputs from outside a Git checkout: charts from chart repositories
and OCI registries, the dependencies a chart fetches, and values from another Git repository.

- Chart sources. A repository of type `helm` or `oci` is polled like a Git ref: `poll_charts`
  resolves each of its applications' chart and version range with one read of the repository
  (one index.yaml, or a tag list per chart); the resolutions, as JSON, and their digest (the
  repository's "sha") are recorded together, so a fetch starts only when one changed. An
  application's revision is its chart version, identified by the archive's digest
  (`podinfo@6.7.1@sha256:...`, shown `podinfo@6.7.1`); `unpack_chart` brings the archive from
  the host's chart cache (downloaded and verified once) and unpacks it into a scratch area,
  which is the root its render reads.
- Dependencies. Before a Helm render, `fetch_chart_dependencies` fetches what Chart.yaml
  declares on chart repositories and registries into the chart's charts/ directory
  (charts.dependencies), so the render process itself never touches the network.
- `helm.valuesFrom`. `read_values_from` reads the file from the Git repository's mirror at that
  repository's last polled commit; its blob id joins the render key, so only a change to the
  file re-renders. A fetch of that repository names the repositories whose applications read it
  (`Fleet.values_readers_of`), and the fetch task fetches them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fleetsync.shared.git as git
from fleetsync.shared.charts import ChartVersion, ensure_archive, extract_chart, resolve_many
from fleetsync.shared.charts.dependencies import Fetched, fetch_dependencies
from fleetsync.shared.charts.http import Client
from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model.bundle import canonical_json
from fleetsync.shared.model.declaration import (
    Application,
    Fleet,
    RendererKind,
    Repository,
    RepoType,
)
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.model.revision import CHART, Revision
from fleetsync.shared.render import RenderLimits, detect_renderer, scratch_area
from fleetsync.shared.render.documents import parse_mapping
from fleetsync.shared.store import RepoState
from fleetsync.shared.urls import display_url

MAX_SUMMARY = 200


# --- chart sources ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChartPoll:
    """What one poll of a chart source resolved."""

    sha: str
    """Digest of `resolutions`: it changes when any application's resolution changes."""
    revision: Revision
    resolutions: str
    """JSON: application -> the chart version it resolved to, or the error that stopped it."""
    errors: Mapping[AppName, str] = field(default_factory=dict)


def poll_charts(repository: Repository, fleet: Fleet, *, chart_dir: Path) -> ChartPoll:
    """Resolve the chart and range of every application on `repository` now."""
    apps = fleet.applications_of(repository.name)
    wanted: dict[str, tuple[str, str | None]] = {
        app.name: (app.chart or app.path, app.version) for app in apps
    }
    results = resolve_many(repository, wanted, cache_dir=chart_dir)
    resolutions: dict[str, dict[str, str]] = {}
    errors: dict[AppName, str] = {}
    for name, result in results.items():
        if isinstance(result, ChartVersion):
            resolutions[name] = result.to_json()
        else:
            errors[AppName(name)] = str(result)
            resolutions[name] = {"error": str(result)}
    text = canonical_json(resolutions).decode()
    sha = hashlib.sha256(text.encode()).hexdigest()
    return ChartPoll(sha=sha, revision=_summary(resolutions, sha), resolutions=text, errors=errors)


def _summary(resolutions: Mapping[str, Mapping[str, str]], sha: str) -> Revision:
    """The repository's revision: its one chart's, or the charts it resolved (by the digest of
    the resolutions)."""
    found = [r for r in resolutions.values() if "error" not in r]
    distinct = {(r["name"], r["version"], r["digest"]) for r in found}
    if len(distinct) == 1:
        name, version, digest = distinct.pop()
        return Revision.chart(name, version, digest)
    names = sorted({f"{name}@{version}" for name, version, _ in distinct})
    text = ", ".join(names) or "nothing resolved"
    if len(text) > MAX_SUMMARY:
        text = text[:MAX_SUMMARY].rpartition(",")[0] + f" (and more, {len(names)} charts)"
    return Revision(ref=text, sha=sha, algorithm=CHART)


class UnresolvedChart(PermanentError):
    """The last poll resolved no chart version for the application (its error is recorded)."""


def chart_resolution(state: RepoState, app: Application) -> ChartVersion:
    """The chart version the last poll resolved for `app`; PermanentError with the poll's own
    error when it resolved none."""
    try:
        data = json.loads(state.charts or "{}").get(app.name)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UnresolvedChart(
            f"{app.name}: chart {app.chart} is not resolved yet; it is, at the next poll of "
            f"repository {app.repository}"
        )
    if "error" in data:
        raise UnresolvedChart(str(data["error"]))
    return ChartVersion.from_json(data)


def chart_revision(version: ChartVersion) -> Revision:
    return Revision.chart(version.name, version.version, version.digest)


@contextmanager
def unpack_chart(
    repository: Repository,
    version: ChartVersion,
    *,
    chart_dir: Path,
    scratch_dir: Path,
) -> Iterator[Path]:
    """A root holding the chart unpacked as `<root>/<chart name>/`, in a scratch area removed
    after the block; the archive comes from the chart cache (downloaded and verified once)."""
    archive = ensure_archive(Client(repository), version, cache_dir=chart_dir)
    with scratch_area(scratch_dir, prefix=f"chart-{version.digest[:12]}-") as area:
        root = area / "root"
        root.mkdir()
        shown = f"{repository.name}: chart {version.name} {version.version}"
        extract_chart(archive, root, name=version.name, shown=shown)
        yield root


def resolve_now(repository: Repository, app: Application, *, chart_dir: Path) -> ChartVersion:
    """The chart version `app` resolves to on its repository now (no store: the CLI's render)."""
    result = resolve_many(
        repository, {app.name: (app.chart or app.path, app.version)}, cache_dir=chart_dir
    )[app.name]
    if isinstance(result, PermanentError):
        raise result
    return result


# --- dependencies ----------------------------------------------------------------------------


def renders_with_helm(root: Path, app: Application) -> bool:
    """Whether `app` renders with Helm in this checkout (its renderer, or auto's pick)."""
    if app.renderer is RendererKind.HELM:
        return True
    if app.renderer is not RendererKind.AUTO:
        return False
    directory = (root / app.path).resolve()
    if not directory.is_relative_to(root.resolve()) or not directory.is_dir():
        return False
    return detect_renderer(os.listdir(directory)) is RendererKind.HELM


def fetch_chart_dependencies(
    root: Path, app: Application, fleet: Fleet, *, chart_dir: Path
) -> tuple[Fetched, ...]:
    """Fetch the chart's unvendored dependencies on chart repositories and registries into its
    charts/ directory (nothing when it does not render with Helm)."""
    if not renders_with_helm(root, app):
        return ()

    def source_for(text: str) -> Repository | None:
        by_name = fleet.repositories.get(RepoName(text))
        if by_name is not None:
            return by_name
        wanted = text.rstrip("/")
        return next(
            (
                r
                for r in fleet.repositories.values()
                if r.type is not RepoType.GIT and r.url.rstrip("/") == wanted
            ),
            None,
        )

    return fetch_dependencies(
        root, app.path, app=app.name, source_for=source_for, cache_dir=chart_dir
    )


# --- values from another repository ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValuesFromFile:
    blob: str
    """The file's git object id: the render key's part."""
    values: Mapping[str, Any]


def read_values_from(
    fleet: Fleet,
    app: Application,
    *,
    sha: str | None,
    mirror_dir: Path,
    limits: RenderLimits,
) -> ValuesFromFile | None:
    """The values `app` takes from `helm.valuesFrom` (the file at `sha`, its repository's last
    polled commit), or None when it takes none."""
    source = app.helm.values_from
    if source is None:
        return None
    repository = fleet.repositories.get(source.repository)
    where = f"helm.valuesFrom {source.repository}:{source.path}"
    if repository is None:
        raise PermanentError(f"{app.name}: {where}: repository is not declared")
    if sha is None:
        raise PermanentError(
            f"{app.name}: {where}: repository {source.repository} has not been polled yet; "
            "the application renders once it is"
        )
    mirror = git.sync_mirror(repository, mirror_dir=mirror_dir, sha=sha)
    blob = git.tree_hashes(mirror, sha, [source.path])[source.path]
    data = git.read_blob(mirror, sha, source.path, max_bytes=limits.max_file_bytes)
    if blob is None or data is None:
        raise PermanentError(
            f"{app.name}: {where}: no such file at {sha[:12]} of "
            f"{display_url(repository.url)}; check helm.valuesFrom.path"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PermanentError(f"{app.name}: {where}: not UTF-8 text") from None
    values = parse_mapping(
        text, source=f"{source.repository}:{source.path}", app=app.name, limits=limits
    )
    return ValuesFromFile(blob=blob, values=values)


def merged_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`, maps merged key by key (Helm's way with values)."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merged_values(current, value)
        else:
            merged[key] = value
    return merged
