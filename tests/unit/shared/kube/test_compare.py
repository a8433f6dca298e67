"""The two equalities: strict for the no-op prediction, tolerant for the drift view."""

from __future__ import annotations

from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest

from fleetsync.shared.kube.compare import BUILTIN_DEFAULTS, is_mapping, same_rendering, same_value


@pytest.mark.parametrize(
    ("declared", "live"),
    [(1, "1"), (1, 1.0), (True, 1), (None, ""), ({"a": 1}, {"a": 1, "b": 2}), ([1], [1, 1])],
)
def test_the_strict_rule_takes_nothing_on_trust(declared: Any, live: Any) -> None:
    assert not same_value(declared, live)


def test_the_strict_rule_accepts_only_defaults_it_is_given_in_live_mappings() -> None:
    declared = [{"port": 80}]
    assert same_value(declared, [{"port": 80, "protocol": "TCP"}], defaults=BUILTIN_DEFAULTS)
    assert not same_value(declared, [{"port": 80, "protocol": "UDP"}], defaults=BUILTIN_DEFAULTS)
    assert not same_value(declared, [{"port": 80, "protocol": "TCP"}])


@pytest.mark.parametrize(("a", "b"), [(1, "1"), (1, 1.0), ({"a": [1]}, {"a": ["1"]})])
def test_the_drift_rule_takes_scalars_as_the_server_renders_them(a: Any, b: Any) -> None:
    assert same_rendering(a, b)


def test_the_drift_rule_keeps_booleans_and_shapes_strict() -> None:
    assert not same_rendering(True, 1)
    assert not same_rendering({"a": 1}, {"a": 1, "b": 1})


@pytest.mark.parametrize(
    ("value", "mapping"),
    [
        ({}, True),
        (OrderedDict(a=1), True),
        (MappingProxyType({"a": 1}), True),
        ([], False),
        ("a", False),
        (1, False),
        (1.5, False),
        (True, False),
        (None, False),
        ((), False),
    ],
)
def test_is_mapping_answers_as_the_abc_does(value: Any, mapping: bool) -> None:
    assert is_mapping(value) is mapping


def test_both_rules_walk_mappings_that_are_not_dicts() -> None:
    live = MappingProxyType({"a": 1, "b": MappingProxyType({"c": "2"})})
    assert same_value({"a": 1, "b": {"c": "2"}}, live)
    assert same_rendering({"a": "1", "b": {"c": 2}}, live)
    assert not same_rendering({"a": "1", "b": {"c": 3}}, live)


@pytest.mark.parametrize(
    ("declared", "live"),
    [({"a": 1}, "a"), ("a", {"a": 1}), ({}, []), ([], {}), ([1], 1), (1, [1]), ([1], [2])],
)
def test_the_strict_rule_finds_different_shapes_and_items_different(
    declared: Any, live: Any
) -> None:
    assert not same_value(declared, live)
    assert not same_value(declared, live, defaults=BUILTIN_DEFAULTS)


def test_the_strict_rule_passes_defaults_down_through_mappings_and_lists() -> None:
    declared = {"spec": {"ports": [{"port": 80}]}}
    live = {"spec": {"ports": [{"port": 80, "protocol": "TCP"}]}}
    assert same_value(declared, live, defaults=BUILTIN_DEFAULTS)
    assert not same_value(declared, live)
    assert same_value({"a": None, "b": [True]}, {"a": None, "b": [True]})


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"a": 1}, 1, False),
        (1, {"a": 1}, False),
        ([1], 1, False),
        (1, [1], False),
        ([1], [2], False),
        ([1], [1, 1], False),
        (True, True, True),
        (False, False, True),
        (True, False, False),
        (1, True, False),
        (None, None, True),
        (None, "None", False),
        ("None", None, False),
        (None, "", False),
        ("1.0", 1, False),
    ],
)
def test_the_drift_rule_keeps_shapes_booleans_and_nulls_strict(a: Any, b: Any, same: bool) -> None:
    assert same_rendering(a, b) is same
