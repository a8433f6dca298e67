"""The two equalities: strict for the no-op prediction, tolerant for the drift view."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.kube.compare import BUILTIN_DEFAULTS, same_rendering, same_value


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
