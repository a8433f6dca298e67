"""fleet.yaml for per-cluster variants: clusters[].values, applications[].substitute, variables
in helm.values; each mistake named by file, line and key."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from fleetsync.shared.fleet import FleetError, FleetReport, parse_fleet
from fleetsync.shared.fleet.loading import check_text as _check_text
from fleetsync.shared.fleet.variants import MAX_VALUES_BYTES
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


def check_text(text: str) -> FleetReport:
    return _check_text(text, source="fleet.yaml", base_dir=BASE)


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
    assert "fleet.yaml:11: applications[0].helm: web: cluster 'us-1': " in message
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


OVERRIDES = """\
overrides:
  - name: big
    selector: {matchLabels: {size: big}}
    helm: {values: {replicas: 5}, valuesFiles: [values-big.yaml]}
    patches:
      - target: {kind: Deployment, name: api}
        patch: {spec: {replicas: 5}}
      - target: {kind: ConfigMap, name: settings}
        patch: |
          - {op: add, path: /data/size, value: big}
  - name: us
    selector: {matchExpressions: [{key: region, operator: In, values: [us]}]}
    path: apps/web-us
"""


def test_overrides_parse_in_order_and_survive_the_json_round_trip() -> None:
    fleet = _parse(
        _fleet(
            """\
            - {name: a, kubeconfig: /k/a.yaml, labels: {size: big}}
            - {name: b, kubeconfig: /k/b.yaml, labels: {region: us}}
            """,
            OVERRIDES,
        )
    )
    web = fleet.applications["web"]  # type: ignore[index]
    assert [o.name for o in web.overrides] == ["big", "us"] and web.varies
    big, us = web.overrides
    assert big.helm.values == {"replicas": 5} and big.helm.values_files == ("values-big.yaml",)
    assert big.patches[0].patch == {"spec": {"replicas": 5}}
    assert big.patches[1].patch == [{"op": "add", "path": "/data/size", "value": "big"}]
    assert us.path == "apps/web-us" and us.selector.matches({"region": "us"})
    assert Fleet.from_json(fleet.to_json()) == fleet


def test_an_override_that_matches_none_of_the_clusters_is_a_warning_not_an_error() -> None:
    report = check_text(
        _fleet("- {name: a, kubeconfig: /k/a.yaml, labels: {size: small}}", OVERRIDES)
    )
    assert report.fleet is not None
    warnings = [str(w) for w in report.warnings]
    for name in ("big", "us"):
        assert any(
            f"override '{name}' of application 'web' matches none of its clusters" in w
            for w in warnings
        ), warnings


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("{name: x}", ["overrides[0]: missing required key 'selector'"]),
        (
            "{name: x, selector: {}, patches: [{target: {kind: A, name: b}, patch: 3}]}",
            ["overrides[0].patches[0].patch: must be a strategic merge patch"],
        ),
        (
            "{name: x, selector: {}, patches: [{target: {kind: A, name: b},"
            " patch: [{op: jump, path: /a}]}]}",
            ["operation 0: a JSON 6902 operation"],
        ),
        (
            "{name: x, selector: {}, patches: [{target: {kind: A}, patch: {a: 1}}]}",
            ["overrides[0].patches[0].target: missing required key 'name'"],
        ),
        ("{name: x, selector: {}, path: ../escape}", ["overrides[0].path: must not contain '..'"]),
        (
            '{name: x, selector: {}, helm: {values: {a: "${cluster.nope}"}}}',
            ["${cluster.nope} is not a variable"],
        ),
    ],
    ids=["no-selector", "patch-scalar", "bad-op", "target-name", "path-escape", "bad-variable"],
)
def test_bad_overrides_are_named_by_key(override: str, words: list[str]) -> None:
    message = _errors(_fleet("- {name: a, kubeconfig: /k/a.yaml}", f"overrides: [{override}]"))
    for word in words:
        assert word in message, message


def test_two_overrides_of_one_name_are_an_error() -> None:
    message = _errors(
        _fleet(
            "- {name: a, kubeconfig: /k/a.yaml}",
            "overrides: [{name: x, selector: {}}, {name: x, selector: {}}]",
        )
    )
    assert "override 'x' is declared twice" in message


def test_override_keys_that_cannot_apply_to_the_application_are_errors() -> None:
    plain = _errors(
        _fleet(
            "- {name: a, kubeconfig: /k/a.yaml}",
            "renderer: plain\noverrides: [{name: x, selector: {}, helm: {values: {a: 1}}}]",
        )
    )
    assert "overrides[0].helm: applies only to renderer helm or auto, not plain" in plain
    chart = dedent(
        """\
        repositories:
          - {name: charts, type: helm, url: https://charts.example.com}
        clusters:
          - {name: a, kubeconfig: /k/a.yaml}
        applications:
          - name: web
            repository: charts
            chart: web
            targets: {clusters: [a]}
            overrides: [{name: x, selector: {}, path: other}]
        """
    )
    assert "overrides[0].path: an application on a chart repository" in _errors(chart)


def test_a_patch_written_as_text_holding_a_date_is_refused_not_carried() -> None:
    message = _errors(
        _fleet(
            "- {name: a, kubeconfig: /k/a.yaml}",
            "overrides: [{name: x, selector: {},"
            " patches: [{target: {kind: A, name: b}, patch: 'data: {day: 2024-01-01}'}]}]",
        )
    )
    assert "overrides[0].patches[0].patch: holds a value JSON cannot carry" in message


def test_jsonnet_values_may_read_cluster_variables_and_bad_ones_are_errors() -> None:
    clusters = """\
        - {name: eu-1, kubeconfig: /k/eu-1.yaml, values: {domain: eu.example.com}}
        - {name: us-1, kubeconfig: /k/us-1.yaml}
        """
    good = _fleet(clusters, 'jsonnet: {extVars: {domain: "${cluster.values.domain:=x}"}}')
    web = _parse(good).applications["web"]  # type: ignore[index]
    assert web.jsonnet.ext_vars[0].value == "${cluster.values.domain:=x}" and web.varies

    unknown = _errors(_fleet(clusters, 'jsonnet: {tlas: {home: "${HOME}"}}'))
    assert "applications[0].jsonnet.tlas: " in unknown and "${HOME}" in unknown

    unresolved = _errors(_fleet(clusters, 'jsonnet: {extVars: {d: "${cluster.values.domain}"}}'))
    assert "web: cluster 'us-1': jsonnet.extVars.d: ${cluster.values.domain}" in unresolved
    assert "eu-1" not in unresolved
