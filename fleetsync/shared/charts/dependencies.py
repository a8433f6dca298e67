"""A chart's dependencies on chart repositories and OCI registries, fetched before it renders.

Helm charts declare `dependencies` in Chart.yaml; `helm dependency build` fetches the ones that
are not vendored under charts/. Here the fetch worker does that part, in plain Python: for the
chart directory about to render (an exported checkout, or an unpacked chart archive), each
dependency that charts/ does not hold and whose `repository` is a chart repository (https://,
http://), an OCI registry (oci://), or a repository of the fleet named as `@NAME` or
`alias:NAME`, is resolved, downloaded into the chart cache (verified by digest) and unpacked
into charts/NAME, where Helm finds it as if it were vendored. A `file://` dependency is walked
the same way (its own dependencies are fetched into its directory). Chart.lock, when present,
pins each dependency's exact version: a Chart.yaml dependency it does not pin in range is an
error (run `helm dependency update`). A dependency loop, a missing chart or version, more
than `MAX_DEPENDENCIES`, and dependencies that unpack to more than one archive's bound together
are errors naming the Chart.yaml, the dependency and its URL.

What is fetched is decided when the chart renders: with Chart.lock that is exactly what the lock
names; without it, a range picks the newest matching version at that time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleetsync.shared.charts import index, oci
from fleetsync.shared.charts.archive import DEFAULT_LIMITS, ArchiveLimits, extract_chart
from fleetsync.shared.charts.cache import ensure_archive
from fleetsync.shared.charts.http import Client
from fleetsync.shared.charts.semver import parse_range, parse_version
from fleetsync.shared.charts.versions import ChartVersion
from fleetsync.shared.errors import PermanentError
from fleetsync.shared.fast_yaml import FastSafeLoader
from fleetsync.shared.model.declaration import Repository, RepoType
from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.urls import display_url

MAX_DEPENDENCIES = 64
MAX_DEPTH = 8
MAX_METADATA_BYTES = 1024 * 1024

SourceFor = Callable[[str], Repository | None]
"""The fleet's repository a dependency's `repository` names (`@NAME`, `alias:NAME`, or a URL a
declared repository has: its credentials are used), or None."""


class DependencyError(PermanentError):
    """A dependency that cannot be had; the message names the chart, the dependency and URL."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A dependency fetched into a chart's charts/ directory."""

    chart: str
    """The root-relative chart directory it was fetched for."""
    version: ChartVersion


def fetch_dependencies(
    root: Path,
    chart_dir: str,
    *,
    app: str,
    source_for: SourceFor,
    cache_dir: Path,
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> tuple[Fetched, ...]:
    """Fetch every unvendored remote dependency of the chart at `root/chart_dir` (and of the
    charts it pulls in) into their charts/ directories; return what was fetched."""
    walk = _Walk(
        root=root.resolve(), app=app, source_for=source_for, cache_dir=cache_dir, limits=limits
    )
    walk.chart(walk.inside(chart_dir), chain=(), visiting=frozenset())
    return tuple(walk.fetched)


@dataclass
class _Walk:
    root: Path
    app: str
    source_for: SourceFor
    cache_dir: Path
    limits: ArchiveLimits

    def __post_init__(self) -> None:
        self.fetched: list[Fetched] = []
        self.clients: dict[str, Client] = {}
        self.unpacked = 0
        """Bytes unpacked for this chart so far: all its dependencies share one bound."""

    def inside(self, relative: str, base: Path | None = None) -> Path:
        path = ((base or self.root) / relative).resolve()
        if not path.is_relative_to(self.root):
            shown = os.path.relpath(path, self.root)
            raise DependencyError(f"{self.app}: {shown}: outside the chart's repository")
        return path

    def shown(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() or "."

    def chart(self, directory: Path, *, chain: tuple[str, ...], visiting: frozenset[Path]) -> None:
        where = f"{self.shown(directory)}/Chart.yaml"
        if len(chain) > MAX_DEPTH:
            raise DependencyError(f"{self.app}: {where}: dependencies nest deeper than {MAX_DEPTH}")
        metadata = _read_yaml(self.inside("Chart.yaml", directory), app=self.app, where=where)
        if metadata is None:
            raise DependencyError(f"{self.app}: {where}: no Chart.yaml: not a Helm chart")
        declared = metadata.get("dependencies") or []
        if not isinstance(declared, list):
            raise DependencyError(f"{self.app}: {where}: dependencies must be a list")
        lock_where = f"{self.shown(directory)}/Chart.lock"
        lock = _read_yaml(self.inside("Chart.lock", directory), app=self.app, where=lock_where)
        locked = _locked(lock, app=self.app, where=lock_where)
        vendored = _vendored(self.inside("charts", directory), self.root)
        for item in declared:
            if not isinstance(item, dict) or not item.get("name"):
                raise DependencyError(f"{self.app}: {where}: a dependency without a name")
            name, repository = str(item["name"]), str(item.get("repository") or "")
            if name in vendored or not repository:
                continue
            if repository.startswith("file://"):
                source = self.inside(repository.removeprefix("file://"), directory)
                if source in visiting or source == directory:
                    raise DependencyError(
                        f"{self.app}: {where}: dependency {name} ({repository}) is a loop"
                    )
                if (source / "Chart.yaml").is_file():
                    self.chart(source, chain=chain, visiting=visiting | {directory})
                continue
            self.remote(directory, where, item, locked, chain=chain, visiting=visiting)

    def remote(
        self,
        directory: Path,
        where: str,
        item: Mapping[str, Any],
        locked: Mapping[tuple[str, str], str] | None,
        *,
        chain: tuple[str, ...],
        visiting: frozenset[Path],
    ) -> None:
        name, repository_text = str(item["name"]), str(item["repository"])
        subject = f"{self.app}: {where}: dependency {name} ({display_url(repository_text)})"
        repository = self.repository(repository_text, subject)
        wanted = str(item.get("version") or "") or None
        if locked is not None:
            pinned = locked.get((name, repository_text))
            if pinned is None:
                raise DependencyError(
                    f"{subject}: not in Chart.lock; run `helm dependency update` and commit "
                    "Chart.lock"
                )
            if wanted and not _admits(wanted, pinned):
                raise DependencyError(
                    f"{subject}: Chart.lock pins {pinned}, outside {wanted!r} in Chart.yaml: the "
                    "lock is out of date; run `helm dependency update` and commit Chart.lock"
                )
            wanted = pinned
        if len(self.fetched) >= MAX_DEPENDENCIES:
            raise DependencyError(f"{subject}: more than {MAX_DEPENDENCIES} dependencies to fetch")
        client = self.clients.setdefault(repository.url, Client(repository))
        try:
            if repository.type is RepoType.OCI:
                version = oci.find(client, name, wanted)
            else:
                version = index.read_index(client, cache_dir=self.cache_dir).find(
                    repository, name, wanted
                )
        except PermanentError as exc:
            raise DependencyError(f"{self.app}: {where}: dependency {name}: {exc}") from None
        link = f"{name} {version.version} ({display_url(repository.url)})"
        if link in chain:
            loop = " -> ".join((*chain, link))
            raise DependencyError(f"{self.app}: {where}: dependency loop: {loop}")
        archive = ensure_archive(client, version, cache_dir=self.cache_dir)
        target = directory / "charts"
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            raise DependencyError(f"{subject}: charts/ is not a plain directory")
        if (target / name).exists():
            raise DependencyError(
                f"{subject}: charts/{name} exists but holds another chart than {name}"
            )
        unpacked = extract_chart(
            archive,
            target,
            name=name,
            shown=f"{subject}: {display_url(version.url)}",
            limits=self.limits,
        )
        self.unpacked += sum(p.stat().st_size for p in unpacked.rglob("*") if p.is_file())
        if self.unpacked > self.limits.max_bytes:
            raise DependencyError(
                f"{subject}: the chart's dependencies unpack to more than "
                f"{self.limits.max_bytes // (1024 * 1024)} MiB together; refused"
            )
        self.fetched.append(Fetched(chart=self.shown(directory), version=version))
        self.chart(unpacked, chain=(*chain, link), visiting=visiting | {directory})

    def repository(self, text: str, subject: str) -> Repository:
        """The repository a dependency names: one of the fleet's (by alias or URL, with its
        credentials), else an anonymous one at that URL."""
        alias = text[1:] if text.startswith("@") else text.removeprefix("alias:")
        if alias != text:
            declared = self.source_for(alias)
            if declared is None or declared.type is RepoType.GIT:
                raise DependencyError(
                    f"{subject}: names repository {alias!r}, which is not a chart repository "
                    "or OCI registry in fleet.yaml"
                )
            return declared
        declared = self.source_for(text)
        if declared is not None:
            return declared
        if text.startswith("oci://"):
            kind = RepoType.OCI
        elif text.startswith(("https://", "http://")):
            kind = RepoType.HELM
        else:
            raise DependencyError(
                f"{subject}: fleetsync fetches dependencies from https://, http:// and oci:// "
                "repositories: vendor it under charts/ or point it at a file:// chart"
            )
        return Repository(name=RepoName(f"dependency {display_url(text)}"), url=text, type=kind)


def _read_yaml(path: Path, *, app: str, where: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_METADATA_BYTES:
        raise DependencyError(f"{app}: {where}: larger than {MAX_METADATA_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=FastSafeLoader)):
            raise DependencyError(f"{app}: {where}: YAML aliases are not accepted here")
        data = yaml.load(text, Loader=FastSafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DependencyError(f"{app}: {where}: not valid YAML: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise DependencyError(f"{app}: {where}: must be a mapping")
    return data


def _locked(
    lock: Mapping[str, Any] | None, *, app: str, where: str
) -> dict[tuple[str, str], str] | None:
    """Chart.lock's pins: (name, repository) -> exact version; None without a lock."""
    if lock is None:
        return None
    items = lock.get("dependencies") or []
    if not isinstance(items, list):
        raise DependencyError(f"{app}: {where}: dependencies must be a list")
    pins: dict[tuple[str, str], str] = {}
    for item in items:
        if not isinstance(item, dict) or not item.get("name") or not item.get("version"):
            raise DependencyError(f"{app}: {where}: an entry without a name or version")
        pins[(str(item["name"]), str(item.get("repository") or ""))] = str(item["version"])
    return pins


def _admits(wanted: str, version: str) -> bool:
    parsed = parse_version(version)
    try:
        return parsed is not None and parse_range(wanted).allows(parsed)
    except ValueError:
        return False


def _vendored(charts: Path, root: Path) -> set[str]:
    """Names of the charts under charts/: directories by their Chart.yaml's name, archives
    `NAME-VERSION.tgz` by NAME."""
    names: set[str] = set()
    if not charts.is_dir():
        return names
    for entry in sorted(charts.iterdir()):
        if not entry.resolve().is_relative_to(root):
            continue
        if entry.is_dir() and (entry / "Chart.yaml").is_file():
            try:
                data = yaml.load(
                    (entry / "Chart.yaml").read_text(encoding="utf-8")[:MAX_METADATA_BYTES],
                    Loader=FastSafeLoader,
                )
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                data = None
            names.add(str(data.get("name")) if isinstance(data, dict) else entry.name)
        elif entry.name.endswith((".tgz", ".tar.gz")):
            stem = entry.name.removesuffix(".tgz").removesuffix(".tar.gz")
            names |= {
                stem[:i]
                for i, ch in enumerate(stem)
                if ch == "-" and parse_version(stem[i + 1 :]) is not None
            }
    return names


def lock_versions(fetched: Sequence[Fetched]) -> list[str]:
    """`chart: name version` lines for a log or a message."""
    return [f"{f.chart}: {f.version.name} {f.version.version}" for f in fetched]
