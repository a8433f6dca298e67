"""Versions and ranges as Helm reads them: what each range picks, and what does not parse."""

from __future__ import annotations

import pytest

from fleetsync.shared.charts.semver import RangeError, newest, parse_range, parse_version

OFFERED = [
    parse_version(v)
    for v in (
        [
            "0.2.3",
            "0.2.9",
            "0.3.0",
            "6.6.0",
            "6.7.0",
            "6.7.1",
            "6.7.10",
            "6.8.0-rc.1",
            "7.0.0-rc.1",
            "7.0.0",
            "v7.1",
        ]
    )
]


@pytest.mark.parametrize(
    ("wanted", "picked"),
    [
        ("6.7.1", "6.7.1"),
        ("=6.7.0", "6.7.0"),
        (">=6.0 <7", "6.7.10"),
        (">=6.0, <7", "6.7.10"),
        ("^6.7", "6.7.10"),
        ("^6.7.1", "6.7.10"),
        ("~6.7", "6.7.10"),
        ("~6.6", "6.6.0"),
        ("6.x", "6.7.10"),
        ("6.*", "6.7.10"),
        ("6", "6.7.10"),
        ("6.7", "6.7.10"),
        ("*", "v7.1"),
        (">6.7", "v7.1"),
        ("<=6.7", "6.7.10"),
        ("<6.7", "6.6.0"),
        ("^0.2", "0.2.9"),
        ("^0.2.3", "0.2.9"),
        ("~0.2.5", "0.2.9"),
        ("0.2.3 - 0.3", "0.3.0"),
        ("!=6.7.10, ~6.7", "6.7.1"),
        ("6.6.0 || ^0.2", "6.6.0"),
        ("7.0.0-rc.1", "7.0.0-rc.1"),
        (">=6.8.0-0 <6.9", "6.8.0-rc.1"),
        (">= 6.0 < 6.7", "6.6.0"),
    ],
)
def test_a_range_picks_the_newest_version_it_admits(wanted: str, picked: str) -> None:
    chosen = newest([v for v in OFFERED if v], parse_range(wanted))
    assert chosen is not None and chosen.text == picked


@pytest.mark.parametrize("wanted", ["8.x", ">=7.2", "^1", "6.7.2", "<0.2"])
def test_a_range_that_admits_nothing_picks_nothing(wanted: str) -> None:
    assert newest([v for v in OFFERED if v], parse_range(wanted)) is None


def test_prereleases_match_only_a_range_that_names_one() -> None:
    rc = parse_version("7.0.0-rc.1")
    assert rc is not None
    assert not parse_range(">=6").allows(rc)
    assert parse_range(">=7.0.0-0").allows(rc)


def test_prereleases_sort_before_their_release() -> None:
    texts = ["1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "0.9.9"]
    versions = [v for v in map(parse_version, texts) if v]
    ordered = [v.text for v in sorted(versions, key=lambda v: v.key)]
    assert ordered == [
        "0.9.9",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-beta.2",
        "1.0.0-rc.1",
        "1.0.0",
    ]


@pytest.mark.parametrize("text", ["", "abc", ">>1", "1.2.3.4", "||", "^", "1.2 -"])
def test_a_range_that_does_not_parse_says_what_to_write(text: str) -> None:
    with pytest.raises(RangeError) as caught:
        parse_range(text)
    assert str(caught.value)


def test_a_tag_that_is_not_a_version_is_not_one() -> None:
    assert parse_version("latest") is None
    assert parse_version("1.2.3_build") is None
