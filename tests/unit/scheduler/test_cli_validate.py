"""`fleetsync validate`: every error on stderr with exit 1, a summary on stdout with exit 0."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner

from fleetsync.examples import APPS
from fleetsync.scheduler.cli import main
from fleetsync.shared.fleet import load_fleet
from fleetsync.shared.model.ids import RepoName

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = REPO_ROOT / "deploy" / "examples" / "fleet.yaml"

VALID = """\
repositories:
  - name: platform
    url: https://robot@git.example.com/platform.git
    interval: 90
clusters:
  - name: prod-eu-1
    kubeconfig: kube/prod-eu-1.yaml
    labels: {env: prod, region: eu}
  - name: lab
    kubeconfig: kube/lab.yaml
applications:
  - name: guestbook
    repository: platform
    path: apps/guestbook
    renderer: plain
    targets: {selector: {matchLabels: {env: prod}}}
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(dedent(text))
    return path


def test_a_valid_fleet_prints_its_summary_and_exits_zero(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    result = runner.invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{path}: valid: 1 repository, 2 clusters, 1 application" in out
    assert "platform  https://git.example.com/platform.git  main  1m30s" in out
    assert "prod-eu-1  env=prod, region=eu  watch" in out
    assert "guestbook  platform    apps/guestbook  plain     prod-eu-1" in out
    assert "robot" not in out


def test_a_cluster_declared_without_watches_is_shown_as_interval_checked(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, VALID.replace("kube/lab.yaml\n", "kube/lab.yaml\n    watch: false\n"))
    result = runner.invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert re.search(r"^ *lab +interval only$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^ *prod-eu-1 +env=prod, region=eu +watch$", result.stdout, re.MULTILINE)


def test_warnings_follow_the_summary_with_file_line_and_key(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, VALID)
    result = runner.invoke(main, ["validate", "-c", str(path)])
    warnings = result.stdout.split("warnings:")[1]
    assert f"{path}:9: clusters[1]: no application targets cluster 'lab'" in warnings
    assert f"{path}:7: clusters[0].kubeconfig: kubeconfig " in warnings


def test_every_error_goes_to_stderr_and_the_exit_status_is_one(
    runner: CliRunner, tmp_path: Path
) -> None:
    text = VALID.replace("interval: 90", "interval: soon").replace("renderer: plain", "renderer: x")
    path = write(tmp_path, text)
    result = runner.invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{path}:4: repositories[0].interval: 'soon' is not a duration")
    assert lines[1].startswith(f"{path}:15: applications[0].renderer: 'x' is not one of")
    assert lines[2] == f"{path}: 2 errors, not valid"


def test_a_missing_file_exits_two_with_a_clear_message(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    result = runner.invoke(main, ["validate", "-c", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: cannot read the fleet file: No such file or directory" in result.stderr
    assert "-c/--config or FLEETSYNC_FLEET" in result.stderr


def test_a_directory_instead_of_a_file_exits_two(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["validate", "-c", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot read the fleet file: Is a directory" in result.stderr


def test_the_fleet_file_defaults_to_fleetsync_fleet_then_fleet_yaml(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLEETSYNC_FLEET", raising=False)
    write(tmp_path, VALID)
    assert runner.invoke(main, ["validate"]).exit_code == 0
    other = tmp_path / "other.yaml"
    other.write_text("clusters: 3\n")
    result = runner.invoke(main, ["validate"], env={"FLEETSYNC_FLEET": str(other)})
    assert result.exit_code == 1
    assert f"{other}:1: clusters: must be a list" in result.stderr


def test_the_example_fleet_in_deploy_is_valid(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", "-c", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "valid: 1 repository, 2 clusters, 3 applications" in result.stdout
    applications = result.stdout.split("applications:")[1].split("warnings:")[0]
    assert "guestbook  fleetsync   fleetsync/examples/apps/guestbook" in applications
    assert "sim-001, sim-002" in applications
    warnings = result.stdout.partition("warnings:")[2]
    assert all("kubeconfig" in line for line in warnings.strip().splitlines())


def test_the_example_applications_exist_where_the_example_fleet_says() -> None:
    apps = APPS
    fleet = load_fleet(EXAMPLE)
    repo_root = Path(fleet.repositories[RepoName("fleetsync")].url)
    for app in fleet.applications.values():
        assert (repo_root / app.path).resolve().is_relative_to(apps.resolve()), app.path
        assert (repo_root / app.path).is_dir(), app.path
    assert sorted(p.name for p in (apps / "guestbook").glob("*.yaml")) == [
        "configmap.yaml",
        "deployment.yaml",
        "namespace.yaml",
        "service.yaml",
    ]
    assert (apps / "podinfo" / "overlays" / "prod" / "kustomization.yaml").is_file()
    assert (apps / "podinfo" / "base" / "kustomization.yaml").is_file()
    chart = apps / "redis-chart"
    assert "apiVersion: v2" in (chart / "Chart.yaml").read_text()
    assert ".Release.Name" in (chart / "templates" / "deployment.yaml").read_text()
    assert ".Values" in (chart / "templates" / "service.yaml").read_text()


def test_hook_jsonnet_and_directory_options_are_checked_each_with_its_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    text = VALID.replace(
        "    renderer: plain\n",
        "    renderer: jsonnet\n"
        "    jsonnet: {tlas: [{name: replicas}], libs: [../vendor]}\n"
        "    directory: {include: [../other/*.yaml]}\n"
        "    sync: {hookTimeout: soon}\n",
    )
    path = write(tmp_path, text)

    result = runner.invoke(main, ["validate", "-c", str(path)])

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:4] == [
        f"{path}:16: applications[0].jsonnet.tlas[0]: missing required key 'value'",
        f"{path}:16: applications[0].jsonnet.libs[0]: must not contain '..': name a directory "
        "inside the repository",
        f"{path}:17: applications[0].directory.include[0]: must be relative to the application "
        "directory, without '..'",
        f"{path}:18: applications[0].sync.hookTimeout: 'soon' is not a duration; write seconds "
        "(90) or hours, minutes, seconds (30s, 5m, 1h30m)",
    ]


def test_a_valid_fleet_lists_its_notifications_without_their_urls_secrets(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        VALID
        + "notifications:\n"
        + "  - {name: ops, url_env: OPS_HOOK_URL, secret_env: OPS_SECRET, events: [sync-failed]}\n"
        + "  - {name: plain, url: 'https://hooks.example.com/t0k3n-path',"
        + " events: [drift, degraded], clusters: [lab]}\n",
    )
    result = runner.invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert (
        "ops    webhook  $OPS_HOOK_URL                  sync-failed      (every)       (every)"
        in out
    )
    assert (
        "plain  webhook  https://hooks.example.com/...  drift, degraded  (every)       lab" in out
    )
    assert "t0k3n" not in out
