"""A chart in Git whose Chart.yaml depends on charts in a chart repository and an OCI registry:
the dependencies are fetched (and cached) when it renders, Chart.lock pins them, vendored ones
are used as they are, and a loop, a missing chart or an out-of-date lock is an error naming the
Chart.yaml, the dependency and its URL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from fleetsync.shared.model.declaration import Application, Repository, RepoType
from fleetsync.shared.model.ids import AppName, RepoName
from fleetsync.shared.store import Store
from tests.integration.charts.sources import Sources, chart_repository, fleet_of
from tests.integration.charts.test_oci_registry import CREDENTIALS
from tests.support.charts import ChartRepoServer, chart_yaml, package_chart
from tests.support.git_server import GitServer, WorkRepo
from tests.support.oci_registry import Registry

TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}-settings\n"
    "data:\n  version: {{ .Chart.Version | quote }}\n  color: {{ .Values.color | quote }}\n"
)


@pytest.fixture
def sources(redis_url: str, cache: Path, registry_env: None) -> Sources:
    return Sources(Store.connect(redis_url), cache)


def _publish(repo: ChartRepoServer, name: str, version: str, **options: object) -> None:
    archive = package_chart(
        name,
        version,
        {"templates/configmap.yaml": TEMPLATE},
        **options,  # type: ignore[arg-type]
    )
    repo.add(archive, name=name, version=version)


def _git_app(server: GitServer, work: WorkRepo, *extra: Repository) -> tuple[Repository, object]:
    git = Repository(name=RepoName("platform"), url=server.git_url(work.bare.name[:-4]))
    app = Application(
        name=AppName("umbrella"), repository=git.name, path="charts/umbrella", namespace="web"
    )
    return git, fleet_of(git, app, *extra)


def _umbrella(
    work: WorkRepo,
    dependencies: list[dict[str, str]],
    lock: list[dict[str, str]] | None = None,
    files: dict[str, str] | None = None,
) -> None:
    work.write("charts/umbrella/Chart.yaml", chart_yaml("umbrella", "0.1.0", dependencies))
    work.write("charts/umbrella/values.yaml", "web: {color: red}\n")
    if lock is not None:
        text = yaml.safe_dump(
            {"dependencies": lock, "digest": "sha256:0", "generated": "2024-01-01T00:00:00Z"}
        )
        work.write("charts/umbrella/Chart.lock", text)
    for path, text in (files or {}).items():
        work.write(path, text)
    work.commit("umbrella")


def _objects(sources: Sources) -> dict[str, dict[str, str]]:
    desired = sources.store.desired(AppName("umbrella"))
    assert desired is not None, sources.error("umbrella")
    bundle = sources.store.get_bundle(desired.digest)
    assert bundle is not None
    return {o["metadata"]["name"]: o["data"] for o in bundle.objects}


def test_dependencies_on_a_chart_repository_and_an_oci_registry_are_fetched_at_render(
    sources: Sources,
    chart_repo: ChartRepoServer,
    registry: Registry,
    git_server: GitServer,
    git_repo: WorkRepo,
    cache: Path,
) -> None:
    _publish(chart_repo, "web", "1.0.0")
    _publish(chart_repo, "web", "1.1.0")
    path = f"d{uuid.uuid4().hex[:10]}"
    cache_chart = package_chart("cache", "2.0.0", {"templates/configmap.yaml": TEMPLATE})
    registry.push_chart(path, cache_chart, name="cache", version="2.0.0")
    oci = chart_repository(
        registry.oci_url(path),
        kind=RepoType.OCI,
        name="registry",
        credentials=CREDENTIALS,
        insecure=True,
    )
    _umbrella(
        git_repo,
        [
            {"name": "web", "version": "^1", "repository": chart_repo.url},
            {"name": "cache", "version": "2.0.0", "repository": registry.oci_url(path)},
        ],
    )
    _, fleet = _git_app(git_server, git_repo, oci)

    polled, fetched = sources.sync(fleet, "platform")  # type: ignore[arg-type]

    assert polled.error is None and fetched is not None and fetched.failed == {}
    assert _objects(sources) == {
        "web-settings": {"version": "1.1.0", "color": "red"},
        "cache-settings": {"version": "2.0.0", "color": "blue"},
    }
    assert len(list((cache / "charts" / "sha256").rglob("*.tgz"))) == 2


def test_chart_lock_pins_the_exact_version(
    sources: Sources, chart_repo: ChartRepoServer, git_server: GitServer, git_repo: WorkRepo
) -> None:
    _publish(chart_repo, "web", "1.0.0")
    _publish(chart_repo, "web", "1.1.0")
    dependency = {"name": "web", "version": "^1", "repository": chart_repo.url}
    _umbrella(git_repo, [dependency], lock=[{**dependency, "version": "1.0.0"}])
    _, fleet = _git_app(git_server, git_repo)
    sources.sync(fleet, "platform")  # type: ignore[arg-type]
    assert _objects(sources)["web-settings"]["version"] == "1.0.0"


def test_a_lock_out_of_date_with_chart_yaml_says_to_update_it(
    sources: Sources, chart_repo: ChartRepoServer, git_server: GitServer, git_repo: WorkRepo
) -> None:
    _publish(chart_repo, "web", "2.0.0")
    dependency = {"name": "web", "version": "^1", "repository": chart_repo.url}
    _umbrella(git_repo, [dependency], lock=[{**dependency, "version": "2.0.0"}])
    _, fleet = _git_app(git_server, git_repo)
    sources.sync(fleet, "platform")  # type: ignore[arg-type]
    assert sources.error("umbrella") == (
        f"umbrella: charts/umbrella/Chart.yaml: dependency web ({chart_repo.url}): Chart.lock pins "
        "2.0.0, outside '^1' in Chart.yaml: the lock is out of date; run `helm dependency "
        "update` and commit Chart.lock"
    )


def test_a_missing_dependency_is_named_with_its_url(
    sources: Sources, chart_repo: ChartRepoServer, git_server: GitServer, git_repo: WorkRepo
) -> None:
    _publish(chart_repo, "web", "1.0.0")
    _umbrella(git_repo, [{"name": "nginx", "version": "1.x", "repository": chart_repo.url}])
    _, fleet = _git_app(git_server, git_repo)
    _, fetched = sources.sync(fleet, "platform")  # type: ignore[arg-type]
    assert fetched is not None
    assert fetched.failed["umbrella"] == (
        "umbrella: charts/umbrella/Chart.yaml: dependency nginx: dependency "
        f"{chart_repo.url}: chart nginx: no such chart in {chart_repo.url}/index.yaml; charts "
        "there: web"
    )
    assert sources.store.desired(AppName("umbrella")) is None


def test_a_dependency_loop_is_an_error_naming_the_chain(
    sources: Sources, chart_repo: ChartRepoServer, git_server: GitServer, git_repo: WorkRepo
) -> None:
    url = chart_repo.url
    _publish(
        chart_repo,
        "alpha",
        "1.0.0",
        dependencies=[{"name": "beta", "version": "1.0.0", "repository": url}],
    )
    _publish(
        chart_repo,
        "beta",
        "1.0.0",
        dependencies=[{"name": "alpha", "version": "1.0.0", "repository": url}],
    )
    _umbrella(git_repo, [{"name": "alpha", "version": "1.0.0", "repository": url}])
    _, fleet = _git_app(git_server, git_repo)
    _, fetched = sources.sync(fleet, "platform")  # type: ignore[arg-type]
    assert fetched is not None
    message = fetched.failed["umbrella"]
    assert "dependency loop: alpha 1.0.0 (" in message
    assert f"-> beta 1.0.0 ({url}) -> alpha 1.0.0 ({url})" in message


def test_vendored_dependencies_are_used_and_one_without_repository_must_be_vendored(
    sources: Sources, git_server: GitServer, git_repo: WorkRepo
) -> None:
    vendored = {
        "charts/umbrella/charts/web/Chart.yaml": chart_yaml("web", "0.9.0"),
        "charts/umbrella/charts/web/templates/configmap.yaml": TEMPLATE,
        "charts/umbrella/charts/web/values.yaml": "color: grey\n",
    }
    _umbrella(
        git_repo,
        [{"name": "web", "version": "0.9.0", "repository": "https://charts.invalid"}],
        files=vendored,
    )
    _, fleet = _git_app(git_server, git_repo)
    sources.sync(fleet, "platform")  # type: ignore[arg-type]
    assert _objects(sources)["web-settings"]["version"] == "0.9.0"

    git_repo.write(
        "charts/umbrella/Chart.yaml",
        chart_yaml("umbrella", "0.1.0", [*_deps(git_repo), {"name": "db", "version": "1"}]),
    )
    git_repo.commit("an unvendored dependency without a repository")
    sources.sync(fleet, "platform")  # type: ignore[arg-type]
    assert sources.error("umbrella") == (
        "umbrella: charts/umbrella/Chart.yaml: dependency db (no repository) is not under "
        "charts/: give it a repository fleetsync fetches from (https://, oci://, or file:// "
        "inside the repository), or run `helm dependency update` and commit charts/"
    )


def _deps(work: WorkRepo) -> list[dict[str, str]]:
    data = yaml.safe_load((work.path / "charts/umbrella/Chart.yaml").read_text())
    return list(data["dependencies"])


def test_dependencies_that_unpack_to_too_much_together_are_refused(
    sources: Sources, chart_repo: ChartRepoServer, git_server: GitServer, git_repo: WorkRepo
) -> None:
    for name in ("big-a", "big-b"):
        chart_repo.add(
            package_chart(name, "1.0.0", {"files/zeros.bin": bytes(40 * 1024 * 1024)}),
            name=name,
            version="1.0.0",
        )
    _umbrella(
        git_repo,
        [
            {"name": "big-a", "version": "1.0.0", "repository": chart_repo.url},
            {"name": "big-b", "version": "1.0.0", "repository": chart_repo.url},
        ],
    )
    _, fleet = _git_app(git_server, git_repo)
    _, fetched = sources.sync(fleet, "platform")  # type: ignore[arg-type]
    assert fetched is not None
    assert fetched.failed["umbrella"] == (
        f"umbrella: charts/umbrella/Chart.yaml: dependency big-b ({chart_repo.url}): the chart's "
        "dependencies unpack to more than 64 MiB together; refused"
    )
