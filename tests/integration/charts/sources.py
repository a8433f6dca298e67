"""Shared steps of the chart tests: declare, poll, fetch, read what was rendered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetsync.shared.model.declaration import (
    Application,
    Credentials,
    Fleet,
    HelmOptions,
    Repository,
    RepoType,
    ValuesFrom,
)
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.source import FetchOutcome, PollOutcome, fetch_repository, poll_repository
from fleetsync.shared.store import Store


def chart_repository(
    url: str,
    *,
    kind: RepoType = RepoType.HELM,
    name: str = "charts",
    credentials: Credentials | None = None,
    ca_file: Path | None = None,
    insecure: bool = False,
) -> Repository:
    return Repository(
        name=RepoName(name),
        url=url,
        type=kind,
        credentials=credentials,
        ca_file=str(ca_file) if ca_file else None,
        insecure=insecure,
        interval=5.0,
    )


def chart_app(
    name: str,
    repository: Repository,
    chart: str,
    version: str | None,
    *,
    values: dict[str, Any] | None = None,
    values_from: ValuesFrom | None = None,
) -> Application:
    return Application(
        name=AppName(name),
        repository=repository.name,
        path=chart,
        chart=chart,
        version=version,
        namespace="web",
        helm=HelmOptions(release=name, values=values or {}, values_from=values_from),
    )


def fleet_of(*items: Repository | Application) -> Fleet:
    return Fleet(
        repositories={r.name: r for r in items if isinstance(r, Repository)},
        applications={a.name: a for a in items if isinstance(a, Application)},
    )


@dataclass
class Sources:
    """Runs the source stage against one store and one cache directory, as a worker would."""

    store: Store
    cache: Path

    def poll(self, fleet: Fleet, repo: str, *, force: bool = False) -> PollOutcome:
        return poll_repository(
            self.store, fleet, RepoName(repo), force=force, chart_dir=self.cache / "charts"
        )

    def fetch(self, fleet: Fleet, repo: str, *, force: bool = False) -> FetchOutcome:
        return fetch_repository(
            self.store,
            fleet,
            RepoName(repo),
            mirror_dir=self.cache / "mirrors",
            scratch_dir=self.cache / "scratch",
            chart_dir=self.cache / "charts",
            force=force,
        )

    def sync(self, fleet: Fleet, repo: str) -> tuple[PollOutcome, FetchOutcome | None]:
        polled = self.poll(fleet, repo)
        if polled.error or not polled.fetch_needed:
            return polled, None
        return polled, self.fetch(fleet, repo)

    def rendered(self, app: str) -> dict[str, Any]:
        """The data of the ConfigMap the application's desired bundle holds."""
        desired = self.store.desired(AppName(app))
        assert desired is not None, f"{app} has no desired state"
        bundle = self.store.get_bundle(desired.digest)
        assert bundle is not None
        maps = [o for o in bundle.objects if o["kind"] == "ConfigMap"]
        assert maps, f"{app}: no ConfigMap in {bundle.objects}"
        return dict(maps[0]["data"])

    def error(self, app: str) -> str | None:
        err = self.store.source_error(AppName(app))
        return err.message if err else None
