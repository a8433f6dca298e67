"""Revisions of both kinds print, parse and are found by what people type."""

from __future__ import annotations

import pytest

from fleetsync.shared.model.revision import Revision

DIGEST = "0123456789abcdef" * 4
GIT = Revision(ref="main", sha="a1b2c3d4" * 5)
CHART = Revision.chart("podinfo", "6.7.1", "sha256:" + DIGEST)


def test_a_chart_revision_prints_as_its_version_with_its_digest_as_identity() -> None:
    assert str(CHART) == f"podinfo@6.7.1@sha256:{DIGEST}"
    assert CHART.short == "podinfo@6.7.1"
    assert CHART.is_chart and not GIT.is_chart
    assert CHART.sha == DIGEST


@pytest.mark.parametrize("revision", [GIT, CHART, Revision(ref="release@2", sha="b" * 40)])
def test_both_kinds_survive_a_round_trip_through_text(revision: Revision) -> None:
    assert Revision.parse(str(revision)) == revision


@pytest.mark.parametrize("text", ["main", "main@sha1:", "podinfo@6.7.1", "x@md5:abcd"])
def test_text_that_is_no_full_revision_does_not_parse(text: str) -> None:
    with pytest.raises(ValueError, match="not a revision"):
        Revision.parse(text)


@pytest.mark.parametrize(
    ("wanted", "named"),
    [
        ("podinfo@6.7.1", True),
        (f"podinfo@6.7.1@sha256:{DIGEST}", True),
        ("0123", True),
        ("podinfo@6.7.1@sha256:0123", True),
        ("podinfo@6.7.2", False),
        ("podinfo@6.7.2@sha256:0123", False),
        ("012", False),
        ("main@sha1:0123", False),
    ],
)
def test_a_chart_revision_is_named_by_its_version_or_a_digest_prefix(
    wanted: str, named: bool
) -> None:
    assert CHART.named_by(wanted) is named


def test_a_git_revision_is_named_by_a_sha_prefix_with_or_without_its_ref() -> None:
    assert GIT.named_by("a1b2c3")
    assert GIT.named_by("main@sha1:a1b2c3")
    assert not GIT.named_by("dev@sha1:a1b2c3")
    assert not GIT.named_by("main")
