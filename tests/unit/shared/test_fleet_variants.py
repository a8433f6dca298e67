"""fleet.yaml for per-cluster variants: clusters[].values, applications[].substitute, variables
in helm.values; each mistake named by file, line and key."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from fleetsync.shared.fleet import FleetError, parse_fleet
from fleetsync.shared.fleet_variants import MAX_VALUES_BYTES
from fleetsync.shared.model.declaration import Fleet

BASE = Path("/srv/fleet")


def _fleet(clusters: str, app: str = "") -> str:
    return dedent(
        """\
        repositories:
          - {name: platform, url: https://git.example.com/platform.git}
        clusters:
        %s
        applications:
          - name: web
            repository: platform
            path: apps/web
            targets: {selector: {}}
        %s
        """
    ) % (
        dedent(clusters).rstrip().replace("\n", "\n  ").join(["  ", ""]),
        dedent(app).rstrip().replace("\n", "\n    ").join(["    ", ""]) if app else "",
    )


GOOD = _fleet(
    """\
    - name: eu-1
      kubeconfig: /k/eu-1.yaml
      labels: {region: eu}
      values: {domain: eu.example.com, replicas: 3, db: {host: db-eu}, zones: [a, b]}
    - {name: us-1, kubeconfig: /k/us-1.yaml}
    """,
    """\
    substitute: true
    helm: {values: {host: "${cluster.values.domain:=example.com}"}}
    """,
)


def _parse(text: str) -> Fleet:
    return parse_fleet(text, source="fleet.yaml", base_dir=BASE)


def _errors(text: str) -> str:
    with pytest.raises(FleetError) as caught:
        _parse(text)
    return str(caught.value)


def test_cluster_values_and_substitution_parse_and_survive_the_json_round_trip() -> None:
    fleet = _parse(GOOD)
    eu = fleet.clusters["eu-1"]  # type: ignore[index]
    assert eu.values == {
        "domain": "eu.example.com",
        "replicas": 3,
        "db": {"host": "db-eu"},
        "zones": ["a", "b"],
    }
    assert fleet.clusters["us-1"].values == {}  # type: ignore[index]
    web = fleet.applications["web"]  # type: ignore[index]
    assert web.substitute and web.varies
    assert Fleet.from_json(fleet.to_json()) == fleet


def test_an_application_without_variables_does_not_vary() -> None:
    fleet = _parse(_fleet("- {name: c, kubeconfig: /k/c.yaml, values: {a: 1}}"))
    assert not fleet.applications["web"].varies  # type: ignore[index]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ("[a, b]", ["clusters[0].values", "must be a mapping"]),
        ("{a.b: 1}", ["clusters[0].values", "key 'a.b' cannot be reached", "nest mappings"]),
        ("{a: {'': 1}}", ["key '' cannot be reached"]),
    ],
)
def test_bad_cluster_values_are_named_by_line_and_key(values: str, words: list[str]) -> None:
    text = _fleet(f"- {{name: c, kubeconfig: /k/c.yaml, values: {values}}}")
    message = _errors(text)
    assert "fleet.yaml:4: " in message
    for word in words:
        assert word in message


def test_values_nested_too_deep_or_too_large_are_refused() -> None:
    deep = "{a: " * 17 + "1" + "}" * 17
    assert "nested deeper than 16 levels" in _errors(
        _fleet(f"- {{name: c, kubeconfig: /k/c.yaml, values: {deep}}}")
    )
    big = "x" * (MAX_VALUES_BYTES + 1)
    message = _errors(_fleet(f"- {{name: c, kubeconfig: /k/c.yaml, values: {{blob: {big}}}}}"))
    assert "a cluster holds at most 64 KiB" in message and big not in message


def test_an_unresolved_helm_variable_names_the_variable_application_cluster_and_line() -> None:
    text = _fleet(
        """\
        - {name: eu-1, kubeconfig: /k/eu-1.yaml, values: {domain: eu.example.com}}
        - {name: us-1, kubeconfig: /k/us-1.yaml}
        """,
        'helm: {values: {host: "${cluster.values.domain}"}}',
    )
    message = _errors(text)
    assert "fleet.yaml:11: applications[0].helm: application 'web': " in message
    assert "helm.values.host: ${cluster.values.domain}: cluster.values.domain is not" in message
    assert "for cluster 'us-1'" in message and "eu-1" not in message


@pytest.mark.parametrize(
    ("helm", "words"),
    [
        ('{values: {"${cluster.name}": x}}', ["a variable in a mapping key"]),
        ('{values: {a: "${cluster.region}"}}', ["${cluster.region} is not a variable"]),
    ],
)
def test_bad_helm_variables_are_errors_where_they_are_written(helm: str, words: list[str]) -> None:
    message = _errors(_fleet("- {name: c, kubeconfig: /k/c.yaml}", f"helm: {helm}"))
    assert "applications[0].helm" in message
    for word in words:
        assert word in message


def test_substitute_must_be_a_boolean() -> None:
    message = _errors(_fleet("- {name: c, kubeconfig: /k/c.yaml}", "substitute: yes please"))
    assert "applications[0].substitute: must be true or false" in message
