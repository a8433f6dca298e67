"""`fleetsync render`: an application rendered locally from Git, printed as YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fleetsync.scheduler.cli import main
from tests.support.git_server import GitServer, WorkRepo, run_git


@pytest.fixture
def fleet_file(
    tmp_path: Path, git_server: GitServer, git_repo: WorkRepo, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("FLEETSYNC_CACHE_DIR", str(tmp_path / "cache"))
    git_repo.write(
        "apps/web/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
        "---\napiVersion: v1\nkind: Namespace\n"
        "metadata: {name: web}\n",
    )
    git_repo.commit("web")
    url = git_server.git_url(git_repo.bare.name.removesuffix(".git"))
    path = tmp_path / "fleet.yaml"
    path.write_text(
        f'repositories: [{{name: platform, url: "{url}"}}]\n'
        "applications: [{name: web, repository: platform, path: apps/web, namespace: web}]\n"
    )
    return path


def test_render_prints_the_bundle_with_its_revision_and_default_namespace(
    fleet_file: Path,
    git_repo: WorkRepo,
) -> None:
    result = CliRunner().invoke(main, ["render", "web", "-c", str(fleet_file)])
    assert result.exit_code == 0, result.output
    header, _, body = result.output.partition("\n")
    assert f"web at main@sha1:{git_repo.head} (plain, 2 objects" in header
    objects = list(yaml.safe_load_all(body))
    assert [(o["kind"], o["metadata"].get("namespace")) for o in objects] == [
        ("ConfigMap", "web"),
        ("Namespace", None),
    ]


def test_render_at_an_older_revision(fleet_file: Path, git_repo: WorkRepo) -> None:
    first = git_repo.head
    git_repo.remove("apps/web/cm.yaml")
    git_repo.write("apps/web/other.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    git_repo.commit("replace")
    result = CliRunner().invoke(main, ["render", "web", "-c", str(fleet_file), "--revision", first])
    assert result.exit_code == 0, result.output
    assert "kind: Secret" not in result.output and "kind: ConfigMap" in result.output


def test_render_of_an_unknown_application_names_the_declared_ones(fleet_file: Path) -> None:
    result = CliRunner().invoke(main, ["render", "nope", "-c", str(fleet_file)])
    assert result.exit_code == 1
    assert "nope: no such application; declared applications: web" in result.output


def test_render_names_what_it_skipped_on_standard_error(
    fleet_file: Path, git_repo: WorkRepo
) -> None:
    git_repo.write("apps/web/README.yaml", "title: web\nowners: [web-team]\n")
    git_repo.commit("a README in YAML")
    result = CliRunner().invoke(main, ["render", "web", "-c", str(fleet_file)])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "warning: apps/web/README.yaml: not a Kubernetes object (no apiVersion or kind): skipped\n"
    )
    assert "README" not in result.stdout


def test_render_refuses_a_hook_with_an_unknown_phase_at_its_file_and_line(
    fleet_file: Path, git_repo: WorkRepo
) -> None:
    git_repo.write(
        "apps/web/migrate.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n"
        "  annotations: {argocd.argoproj.io/hook: BeforeSync}\n",
    )
    git_repo.commit("a hook with a phase Argo CD does not have")
    result = CliRunner().invoke(main, ["render", "web", "-c", str(fleet_file)])
    assert result.exit_code == 1
    assert (
        "web: apps/web/migrate.yaml:1: annotation argocd.argoproj.io/hook: unknown hook phase "
        "'BeforeSync'; use PreSync, Sync, PostSync, SyncFail, PostDelete or Skip"
    ) in result.output


def test_render_takes_a_unique_prefix_of_a_commit_sha(fleet_file: Path, git_repo: WorkRepo) -> None:
    first = git_repo.head
    git_repo.remove("apps/web/cm.yaml")
    git_repo.write("apps/web/other.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    git_repo.commit("replace")
    result = CliRunner().invoke(
        main, ["render", "web", "-c", str(fleet_file), "--revision", first[:7]]
    )
    assert result.exit_code == 0, result.output
    assert f"web at {first}@sha1:{first} (plain, 2 objects" in result.output
    assert "kind: Secret" not in result.output and "kind: ConfigMap" in result.output


def _commits_until_two_share(git_repo: WorkRepo, digits: int) -> tuple[str, list[str]]:
    """Commit on branch `many` (plumbing: fast) until two commits' shas share their first
    `digits` hex digits; that prefix and every sha made."""
    tree = run_git("rev-parse", "HEAD^{tree}", cwd=git_repo.path).strip()
    parent, seen, made = git_repo.head, {}, []
    for n in range(5000):
        parent = run_git("commit-tree", tree, "-p", parent, "-m", f"n{n}", cwd=git_repo.path)
        parent = parent.strip()
        made.append(parent)
        if parent[:digits] in seen:
            run_git("push", "--quiet", "origin", f"{parent}:refs/heads/many", cwd=git_repo.path)
            return parent[:digits], made
        seen[parent[:digits]] = parent
    raise AssertionError("no two commits shared a prefix")


def test_an_ambiguous_or_unknown_sha_prefix_is_a_clear_error(
    fleet_file: Path, git_repo: WorkRepo
) -> None:
    prefix, made = _commits_until_two_share(git_repo, 4)
    result = CliRunner().invoke(
        main, ["render", "web", "-c", str(fleet_file), "--revision", prefix]
    )
    assert result.exit_code == 1
    assert f"platform: {prefix} is ambiguous: 2 commits start with it (" in result.output
    assert "give more of the sha" in result.output
    unknown = next(
        p for p in (f"{n:06x}" for n in range(1 << 24)) if not any(m.startswith(p) for m in made)
    )
    result = CliRunner().invoke(
        main, ["render", "web", "-c", str(fleet_file), "--revision", unknown]
    )
    assert result.exit_code == 1
    assert "no commit of the branches and tags of" in result.output
    assert f"starts with {unknown}" in result.output


@pytest.fixture
def variant_fleet(
    tmp_path: Path, git_server: GitServer, git_repo: WorkRepo, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("FLEETSYNC_CACHE_DIR", str(tmp_path / "cache"))
    git_repo.write(
        "apps/web/app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
        'data: {host: "web.${cluster.values.domain}", cluster: "${cluster.name}"}\n'
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n"
        "spec: {replicas: 1, selector: {matchLabels: {app: api}}, template: "
        "{metadata: {labels: {app: api}}, spec: {containers: [{name: api, image: api}]}}}\n",
    )
    git_repo.commit("web")
    url = git_server.git_url(git_repo.bare.name.removesuffix(".git"))
    path = tmp_path / "fleet.yaml"
    path.write_text(
        f'repositories: [{{name: platform, url: "{url}"}}]\n'
        "clusters:\n"
        "  - {name: eu, kubeconfig: /k/eu, labels: {tier: big}, values: {domain: eu.example}}\n"
        "  - {name: us, kubeconfig: /k/us, values: {domain: us.example}}\n"
        "  - {name: lab, kubeconfig: /k/lab}\n"
        "applications:\n"
        "  - name: web\n"
        "    repository: platform\n"
        "    path: apps/web\n"
        "    namespace: web\n"
        "    substitute: true\n"
        "    targets: {clusters: [eu, us, lab]}\n"
        "    overrides:\n"
        "      - name: big\n"
        "        selector: {matchLabels: {tier: big}}\n"
        "        patches: [{target: {kind: Deployment, name: api}, patch: {spec: {replicas: 4}}}]\n"
    )
    return path


def test_render_for_a_cluster_shows_its_overrides_and_its_values(variant_fleet: Path) -> None:
    result = CliRunner().invoke(
        main, ["render", "web", "-c", str(variant_fleet), "--cluster", "eu"]
    )
    assert result.exit_code == 0, result.output
    header, _, body = result.stdout.partition("\n")
    assert header.startswith("# web for cluster eu at main@sha1:")
    objects = {o["kind"]: o for o in yaml.safe_load_all(body)}
    assert objects["ConfigMap"]["data"] == {"host": "web.eu.example", "cluster": "eu"}
    assert objects["Deployment"]["spec"]["replicas"] == 4

    us = CliRunner().invoke(main, ["render", "web", "-c", str(variant_fleet), "--cluster", "us"])
    assert us.exit_code == 0, us.output
    us_objects = {o["kind"]: o for o in yaml.safe_load_all(us.stdout.partition("\n")[2])}
    assert us_objects["ConfigMap"]["data"]["host"] == "web.us.example"
    assert us_objects["Deployment"]["spec"]["replicas"] == 1


def test_render_for_a_cluster_missing_a_value_names_the_variable_and_object(
    variant_fleet: Path,
) -> None:
    result = CliRunner().invoke(
        main, ["render", "web", "-c", str(variant_fleet), "--cluster", "lab"]
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: web: cluster 'lab': core/ConfigMap/web/settings.data.host: "
        "${cluster.values.domain} (in apps/web/app.yaml, rendered from platform:apps/web): "
        "cluster.values.domain is not defined for cluster 'lab'; declare it in the cluster's "
        "values in fleet.yaml or give a default (${cluster.values.domain:=...})\n"
    )
    other = CliRunner().invoke(main, ["render", "web", "-c", str(variant_fleet), "--cluster", "x"])
    assert "web: does not target cluster 'x'; it targets eu, lab, us" in other.output


def test_validate_reports_the_renders_the_fleet_needs_and_who_shares_them(
    variant_fleet: Path,
) -> None:
    result = CliRunner().invoke(main, ["validate", "-c", str(variant_fleet)])
    assert result.exit_code == 0, result.output
    assert "web          2 (then substituted per cluster)  eu | lab, us" in result.stdout
