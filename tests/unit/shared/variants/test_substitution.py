"""Cluster variables, as tables: what a tree reads, what it resolves to for one cluster, and what
it becomes; every bad input is an error naming the variable and where it is."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.variants.substitution import (
    ClusterScope,
    Reference,
    SubstitutionError,
    references,
    resolve,
    substitute,
)

SCOPE = ClusterScope(
    name="prod-eu-1",
    labels={"env": "prod", "topology.kubernetes.io/region": "eu"},
    values={"domain": "eu.example.com", "replicas": 3, "tls": True, "db": {"host": "db-eu"}},
)


def _render(tree: Any, *, typed: bool = False, scope: ClusterScope = SCOPE) -> Any:
    return substitute(tree, resolve(references(tree), scope, typed=typed), typed=typed)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${cluster.name}", "prod-eu-1"),
        ("web.${cluster.values.domain}", "web.eu.example.com"),
        ("${cluster.labels.env}-${cluster.name}", "prod-prod-eu-1"),
        ("${cluster.labels.topology.kubernetes.io/region}", "eu"),
        ("${cluster.values.db.host}:5432", "db-eu:5432"),
        ("${cluster.values.replicas}", "3"),
        ("${cluster.values.tls}", "true"),
        ("${cluster.values.missing:=fallback}", "fallback"),
        ("${cluster.values.missing:=}", ""),
        ("${cluster.values.domain:=unused}", "eu.example.com"),
        ("$${cluster.name}", "${cluster.name}"),
        ("echo $${HOME} on ${cluster.name}", "echo ${HOME} on prod-eu-1"),
        ("no variable at all, $HOME and $ {x}", "no variable at all, $HOME and $ {x}"),
    ],
)
def test_a_variable_in_a_string_value_becomes_the_cluster_s_value(text: str, expected: str) -> None:
    assert _render({"data": {"v": text}}) == {"data": {"v": expected}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${cluster.values.replicas}", 3),
        ("${cluster.values.tls}", True),
        ("${cluster.values.db}", {"host": "db-eu"}),
        ("n-${cluster.values.replicas}", "n-3"),
        ("${cluster.values.missing:=2}", "2"),
    ],
)
def test_helm_values_take_a_whole_variable_s_own_type(text: str, expected: object) -> None:
    assert _render({"v": text}, typed=True) == {"v": expected}


def test_only_strings_change_and_nothing_else_of_the_tree() -> None:
    tree = {"a": [1, True, None, 2.5, {"b": "${cluster.name}"}], "c": "plain"}
    assert _render(tree) == {"a": [1, True, None, 2.5, {"b": "prod-eu-1"}], "c": "plain"}


def test_references_are_exactly_what_the_tree_reads_with_where_each_is_first_used() -> None:
    tree = {
        "metadata": {"name": "${cluster.name}"},
        "data": {"x": "${cluster.name}", "y": ["${cluster.values.a:=1}", "$${cluster.values.b}"]},
    }
    assert references(tree, where="core/ConfigMap/web/settings") == {
        Reference("cluster.name"): "core/ConfigMap/web/settings.metadata.name",
        Reference("cluster.values.a", "1"): "core/ConfigMap/web/settings.data.y[0]",
    }


@pytest.mark.parametrize(
    ("tree", "typed", "words"),
    [
        (
            {"data": {"v": "${cluster.values.region}"}},
            False,
            ["data.v", "cluster.values.region is not defined", "'prod-eu-1'", ":=..."],
        ),
        (
            {"data": {"v": "${cluster.labels.tier}"}},
            False,
            ["cluster.labels.tier is not defined", "cluster's labels"],
        ),
        (
            {"data": {"v": "${cluster.values.db}"}},
            False,
            ["data.v", "cluster.values.db is a mapping"],
        ),
        ({"data": {"v": "${HOME}"}}, False, ["data.v", "${HOME} is not a variable", "$${HOME}"]),
        (
            {"data": {"${cluster.name}": "x"}},
            False,
            ["data.${cluster.name}", "a variable in a mapping key"],
        ),
        ({"v": "x-${cluster.values.db}"}, True, ["cannot be written into a longer string"]),
    ],
    ids=["undefined-value", "undefined-label", "structure", "unknown-name", "key", "embedded-map"],
)
def test_bad_variables_are_errors_naming_the_variable_and_where(
    tree: Any, typed: bool, words: list[str]
) -> None:
    with pytest.raises(SubstitutionError) as caught:
        _render(tree, typed=typed)
    for word in words:
        assert word in str(caught.value)


def test_an_escaped_variable_in_a_key_is_a_literal_not_an_error() -> None:
    assert _render({"data": {"$${cluster.name}": "x"}}) == {"data": {"${cluster.name}": "x"}}


def test_a_null_value_counts_as_undefined_and_takes_the_default() -> None:
    scope = ClusterScope(name="c", labels={}, values={"v": None})
    assert _render({"a": "${cluster.values.v:=d}"}, scope=scope) == {"a": "d"}
