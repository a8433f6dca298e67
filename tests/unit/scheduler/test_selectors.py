"""Label selectors as kubectl takes them, parsed into the fleet model's selector."""

from __future__ import annotations

import pytest

from fleetsync.scheduler.selectors import SelectorError, parse_selector

LABELS = {"env": "prod", "region": "eu", "gpu": "a100"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("", True),
        ("env=prod", True),
        ("env==prod", True),
        ("env=staging", False),
        ("env!=staging", True),
        ("region in (eu, us)", True),
        ("region notin (eu)", False),
        ("gpu", True),
        ("!gpu", False),
        ("!tier", True),
        ("env=prod,region in (us,ap)", False),
        ("env=prod, region in (eu,us), gpu", True),
    ],
)
def test_selectors_match_as_kubectl_would(text: str, matches: bool) -> None:
    assert parse_selector(text).matches(LABELS) is matches


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("region in (eu", "unbalanced parentheses"),
        ("env=prod,,gpu", "empty requirement"),
        ("env in prod", "expected key=value"),
        ("env=pr od", "expected key=value"),
        ("region in ()", "valid label values"),
        ("x" * 2000, "longer than"),
    ],
)
def test_a_selector_that_does_not_parse_says_where_and_why(text: str, says: str) -> None:
    with pytest.raises(SelectorError) as refused:
        parse_selector(text)
    assert says in str(refused.value)
