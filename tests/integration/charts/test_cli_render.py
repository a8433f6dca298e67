"""`fleetsync render` of an application on a chart repository: the chart resolved, fetched and
rendered locally, with its values from Git; `--revision` picks another version."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fleetsync.scheduler.cli import main
from tests.support.charts import ChartRepoServer, package_chart, sha256
from tests.support.git_server import GitServer, WorkRepo


@pytest.fixture
def fleet_file(
    tmp_path: Path,
    chart_repo: ChartRepoServer,
    git_server: GitServer,
    git_repo: WorkRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.setenv("FLEETSYNC_CACHE_DIR", str(tmp_path / "cache"))
    for version in ("1.0.0", "1.1.0"):
        chart_repo.add(package_chart("web", version), name="web", version=version)
    git_repo.write("values/web.yaml", "color: purple\n")
    git_repo.commit("values")
    url = git_server.git_url(git_repo.bare.name.removesuffix(".git"))
    path = tmp_path / "fleet.yaml"
    path.write_text(
        f'repositories:\n  - {{name: platform, url: "{url}"}}\n'
        f"  - {{name: charts, type: helm, url: {chart_repo.url}}}\n"
        "applications:\n"
        "  - {name: web, repository: charts, chart: web, version: ^1, namespace: web,\n"
        "     helm: {valuesFrom: {repository: platform, path: values/web.yaml}}}\n"
    )
    return path


def test_render_resolves_fetches_and_renders_the_chart(
    fleet_file: Path, chart_repo: ChartRepoServer
) -> None:
    result = CliRunner().invoke(main, ["render", "web", "-c", str(fleet_file)])
    assert result.exit_code == 0, result.output
    header, _, body = result.output.partition("\n")
    digest = sha256(chart_repo.archives["web-1.1.0.tgz"])
    assert f"# web at web@1.1.0@sha256:{digest} (helm, 1 objects" in header
    (configmap,) = yaml.safe_load_all(body)
    assert configmap["data"] == {"color": "purple", "chart": "1.1.0"}


def test_render_at_another_chart_version(fleet_file: Path) -> None:
    result = CliRunner().invoke(
        main, ["render", "web", "-c", str(fleet_file), "--revision", "1.0.0"]
    )
    assert result.exit_code == 0, result.output
    assert "# web at web@1.0.0@sha256:" in result.output
