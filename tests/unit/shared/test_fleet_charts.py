"""fleet.yaml for chart sources: repositories of type helm and oci, applications naming a chart
and a version range, helm.valuesFrom; each mistake named by line and key."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from fleetsync.shared.fleet import FleetError, check_fleet, parse_fleet
from fleetsync.shared.model.declaration import Credentials, Fleet, RepoType, ValuesFrom

BASE = Path("/srv/fleet")

GOOD = dedent(
    """\
    repositories:
      - name: platform
        url: https://git.example.com/platform.git
      - name: charts
        type: helm
        url: https://charts.example.com/stable/
        credentials: {token_env: CHART_TOKEN}
      - name: registry
        type: oci
        url: oci://registry.example.com:5000/charts
        insecure: true
        credentials: {username_env: REG_USER, password_env: REG_PASSWORD}
    clusters:
      - {name: prod, kubeconfig: /k/prod.yaml}
    applications:
      - name: podinfo
        repository: charts
        chart: podinfo
        version: ">=6.0 <7"
        helm:
          release: web
          valuesFrom: {repository: platform, path: values/podinfo.yaml}
        targets: {clusters: [prod]}
      - name: cache
        repository: registry
        chart: redis
        version: 1.10
        targets: {clusters: [prod]}
    """
)


def test_chart_sources_parse_into_typed_values() -> None:
    fleet = parse_fleet(GOOD, source="fleet.yaml", base_dir=BASE)
    charts = fleet.repositories["charts"]  # type: ignore[index]
    assert charts.type is RepoType.HELM
    assert charts.url == "https://charts.example.com/stable"
    assert charts.credentials == Credentials(token_env="CHART_TOKEN")
    registry = fleet.repositories["registry"]  # type: ignore[index]
    assert (registry.type, registry.insecure) == (RepoType.OCI, True)
    assert fleet.repositories["platform"].type is RepoType.GIT  # type: ignore[index]
    podinfo = fleet.applications["podinfo"]  # type: ignore[index]
    assert (podinfo.chart, podinfo.version, podinfo.path) == ("podinfo", ">=6.0 <7", "podinfo")
    assert podinfo.helm.values_from == ValuesFrom(repository="platform", path="values/podinfo.yaml")
    # An unquoted version keeps its text: 1.10 is not the number 1.1.
    assert fleet.applications["cache"].version == "1.10"  # type: ignore[index]
    assert Fleet.from_json(fleet.to_json()) == fleet
    assert fleet.values_readers_of("platform") == ("charts",)  # type: ignore[arg-type]


def test_a_repository_read_only_for_values_is_not_reported_unused(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(GOOD)
    warnings = [str(w) for w in check_fleet(path).warnings]
    assert not any("no application uses repository 'platform'" in w for w in warnings)


def _errors(text: str) -> list[str]:
    with pytest.raises(FleetError) as caught:
        parse_fleet(text, source="fleet.yaml", base_dir=BASE)
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("type: helm\n", "type: chart\n", "fleet.yaml:5: repositories[1].type: 'chart' is not one"),
        (
            "url: https://charts.example.com/stable/",
            "url: oci://charts.example.com/stable",
            "repositories[1].url: a helm repository's URL starts with https:// or http://",
        ),
        (
            "url: oci://registry.example.com:5000/charts",
            "url: https://registry.example.com/charts",
            "repositories[2].url: an oci repository's URL starts with oci://",
        ),
        (
            "url: https://charts.example.com/stable/",
            "url: https://user:pw@charts.example.com/stable/",
            "repositories[1].url: must not carry credentials",
        ),
        (
            "credentials: {token_env: CHART_TOKEN}",
            "credentials: {ssh_key_file: /k/id}",
            "repositories[1].credentials.ssh_key_file: applies only to Git repositories",
        ),
        (
            "url: https://git.example.com/platform.git",
            "url: https://git.example.com/platform.git\n    caFile: /k/ca.pem",
            "fleet.yaml:4: repositories[0].caFile: applies only to repositories of type helm "
            "or oci",
        ),
        (
            "url: https://git.example.com/platform.git",
            "url: https://git.example.com/platform.git\n    credentials: {token_env: T}",
            "fleet.yaml:4: repositories[0].credentials.token_env: applies only to repositories "
            "of type helm or oci",
        ),
        (
            "credentials: {token_env: CHART_TOKEN}",
            "credentials: {token_env: CHART_TOKEN, username_env: U}",
            "fleet.yaml:7: repositories[1].credentials: use either username_env and password_env, "
            "or token_env, not both",
        ),
        (
            "credentials: {token_env: CHART_TOKEN}",
            "credentials: {}",
            "fleet.yaml:7: repositories[1].credentials: name username_env and password_env, or "
            "token_env",
        ),
        (
            "url: https://charts.example.com/stable/",
            "url: https://charts.example.com/stable/?channel=beta",
            "fleet.yaml:6: repositories[1].url: must not have a query or a fragment",
        ),
        (
            "credentials: {token_env: CHART_TOKEN}",
            "credentials: {token_env: CHART_TOKEN, username_env: U, password_env: P}",
            "use either username_env and password_env, or token_env, not both",
        ),
        (
            "credentials: {token_env: CHART_TOKEN}",
            "credentials: {token_env: CHART_TOKEN}\n    insecure: true",
            "repositories[1].insecure: applies only to repositories of type oci",
        ),
        (
            "credentials: {token_env: CHART_TOKEN}",
            "credentials: {token_env: CHART_TOKEN}\n    ref: main",
            "repositories[1].ref: a helm repository has no ref: each application names its "
            "chart and version",
        ),
        (
            'version: ">=6.0 <7"',
            'version: ">>6"',
            "applications[0].version: '>>6': '>6' is not a version or a comparison",
        ),
        (
            "    chart: podinfo\n",
            "    path: charts/podinfo\n",
            "needs 'chart' (the chart's name) and a 'version' or range",
        ),
        (
            "    chart: podinfo\n",
            "    chart: Podinfo!\n",
            "applications[0].chart: 'Podinfo!' is not a chart name: lowercase letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit",
        ),
        (
            "    chart: podinfo\n",
            f"    chart: {'p' * 251}\n",  # Helm's limit is 250 characters
            f"applications[0].chart: '{'p' * 251}' is not a chart name",
        ),
        (
            "url: oci://registry.example.com:5000/charts",
            "url: https://registry.example.com/charts",
            "repositories[2].url: an oci repository's URL starts with oci:// "
            "(e.g. oci://registry.example.com/charts)",
        ),
        (
            "repository: platform, path",
            "repository: nowhere, path",
            "helm.valuesFrom.repository: repository 'nowhere' is not declared",
        ),
        (
            "repository: platform, path",
            "repository: registry, path",
            "repository 'registry' is of type oci: values come from a Git repository",
        ),
        (
            "path: values/podinfo.yaml}",
            "path: ../values.yaml}",
            "helm.valuesFrom.path: must not contain '..'",
        ),
        (
            "    chart: redis\n",
            "    chart: redis\n    renderer: kustomize\n",
            "a chart renders with renderer helm (or auto), not kustomize",
        ),
    ],
)
def test_each_chart_source_mistake_is_named_where_it_is(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    errors = _errors(GOOD.replace(old, new, 1))
    assert any(expected in e for e in errors), errors


def test_a_ca_file_is_taken_for_chart_repositories_of_either_type() -> None:
    body = GOOD.replace("insecure: true", "insecure: true\n    caFile: /k/registry-ca.pem")
    body = body.replace("{token_env: CHART_TOKEN}", "{token_env: CHART_TOKEN}\n    caFile: ca.pem")
    fleet = parse_fleet(body, source="fleet.yaml", base_dir=BASE)
    assert fleet.repositories["charts"].ca_file == str(BASE / "ca.pem")
    assert fleet.repositories["registry"].ca_file == "/k/registry-ca.pem"


def test_a_chart_name_of_250_characters_is_accepted() -> None:
    longest = "p" * 250
    text = GOOD.replace("    chart: podinfo\n", f"    chart: {longest}\n", 1)
    fleet = parse_fleet(text, source="fleet.yaml", base_dir=BASE)
    assert fleet.applications["podinfo"].chart == longest  # type: ignore[index]


def test_an_application_on_a_git_repository_needs_a_path_and_takes_no_chart() -> None:
    text = GOOD.replace(
        "    repository: charts\n    chart: podinfo\n", "    repository: platform\n    chart: x\n"
    )
    errors = _errors(text)
    assert any("applications[0]: missing required key 'path'" in e for e in errors), errors
    assert any(
        "applications[0].chart: applies only to applications on a chart" in e for e in errors
    ), errors
