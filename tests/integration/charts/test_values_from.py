"""`helm.valuesFrom`: values from a file in a Git repository of the fleet. A commit there that
changes the file re-renders the applications that read it (and only a change to the file
does); the inline values win over it; a missing file is an error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsync.shared.model.declaration import Repository, ValuesFrom
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.store import Store
from tests.integration.charts.sources import Sources, chart_app, chart_repository, fleet_of
from tests.support.charts import ChartRepoServer, package_chart
from tests.support.git_server import GitServer, WorkRepo


@pytest.fixture
def sources(redis_url: str, cache: Path) -> Sources:
    return Sources(Store.connect(redis_url), cache)


@pytest.fixture
def world(
    chart_repo: ChartRepoServer, git_server: GitServer, git_repo: WorkRepo
) -> tuple[object, WorkRepo]:
    chart_repo.add(package_chart("web", "1.0.0"), name="web", version="1.0.0")
    git_repo.write("values/web.yaml", "color: purple\nextra: {a: 1}\n")
    git_repo.write("README.md", "values for the fleet\n")
    git_repo.commit("values")
    values = Repository(name=RepoName("values"), url=git_server.git_url(git_repo.bare.name[:-4]))
    charts = chart_repository(chart_repo.url)
    source = ValuesFrom(repository=RepoName("values"), path="values/web.yaml")
    fleet = fleet_of(
        values,
        charts,
        chart_app("web", charts, "web", "1.0.0", values_from=source),
        chart_app("pinned", charts, "web", "1.0.0", values_from=source, values={"color": "red"}),
    )
    return fleet, git_repo


def test_values_come_from_the_file_and_inline_values_win(
    sources: Sources, world: tuple[object, WorkRepo]
) -> None:
    fleet, _ = world
    sources.sync(fleet, "values")  # type: ignore[arg-type]
    _, fetched = sources.sync(fleet, "charts")  # type: ignore[arg-type]
    assert fetched is not None and fetched.failed == {}
    assert sources.rendered("web")["color"] == "purple"
    assert sources.rendered("pinned")["color"] == "red"


def test_a_commit_changing_the_file_re_renders_its_readers_and_only_that_file_matters(
    sources: Sources, world: tuple[object, WorkRepo]
) -> None:
    fleet, work = world
    sources.sync(fleet, "values")  # type: ignore[arg-type]
    sources.sync(fleet, "charts")  # type: ignore[arg-type]
    before = sources.store.desired(AppName("web"))

    work.write("README.md", "still values for the fleet\n")
    work.commit("an unrelated change")
    _, values_fetch = sources.sync(fleet, "values")  # type: ignore[arg-type]
    assert values_fetch is not None and values_fetch.values_readers == ("charts",)
    unrelated = sources.fetch(fleet, "charts", force=True)  # type: ignore[arg-type]
    assert unrelated.rendered == () and unrelated.changed == {}

    work.write("values/web.yaml", "color: orange\n")
    work.commit("orange")
    sources.sync(fleet, "values")  # type: ignore[arg-type]
    changed = sources.fetch(fleet, "charts", force=True)  # type: ignore[arg-type]

    assert changed.rendered == ("pinned", "web")
    assert list(changed.changed) == ["web"]  # pinned renders the same bundle: red wins
    assert sources.rendered("web")["color"] == "orange"
    after = sources.store.desired(AppName("web"))
    assert before is not None and after is not None and after.revision == before.revision


def test_a_forced_fetch_of_the_same_commit_names_no_reader(
    sources: Sources, world: tuple[object, WorkRepo]
) -> None:
    fleet, _ = world
    sources.sync(fleet, "values")  # type: ignore[arg-type]
    again = sources.fetch(fleet, "values", force=True)  # type: ignore[arg-type]
    assert again.values_readers == ()


def test_a_missing_values_file_is_named_and_the_others_carry_on(
    sources: Sources, world: tuple[object, WorkRepo]
) -> None:
    fleet, work = world
    work.remove("values/web.yaml")
    work.commit("no more values")
    sources.sync(fleet, "values")  # type: ignore[arg-type]
    _, fetched = sources.sync(fleet, "charts")  # type: ignore[arg-type]
    assert fetched is not None
    error = sources.error("web") or ""
    assert error.startswith("web: helm.valuesFrom values:values/web.yaml: no such file at ")
    assert "check helm.valuesFrom.path" in error


def test_values_from_a_repository_not_polled_yet_wait_for_it(
    sources: Sources, world: tuple[object, WorkRepo]
) -> None:
    fleet, _ = world
    sources.sync(fleet, "charts")  # type: ignore[arg-type]
    assert sources.error("web") == (
        "web: helm.valuesFrom values:values/web.yaml: repository values has not been polled "
        "yet; the application renders once it is"
    )
