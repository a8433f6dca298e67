"""Bounds where fleet.yaml enters: its size, its nesting, what its YAML aliases expand to, and
durations; each refused with a clear error naming the place, never a traceback."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from fleetsync.shared.fleet import (
    MAX_FLEET_BYTES,
    FleetError,
    FleetIssue,
    check_fleet,
    parse_fleet,
)
from fleetsync.shared.fleet.loading import check_text
from tests.unit.shared.test_fleet import HEADER, with_app


def the_error(text: str) -> FleetIssue:
    with pytest.raises(FleetError) as caught:
        parse_fleet(text, source="fleet.yaml", base_dir=Path("/srv"))
    issues = caught.value.issues
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


def alias_bomb(levels: int = 9) -> str:
    """Helm values whose aliases expand to 10**levels strings: about 650 bytes of YAML."""
    lines = ["helm:", "  values:", "    l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, levels):
        refs = ", ".join([f"*l{n - 1}"] * 10)
        lines.append(f"    l{n}: &l{n} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_in_helm_values_is_refused_without_being_expanded() -> None:
    text = with_app(alias_bomb())
    assert len(text) - len(HEADER) < 700
    # Expanded, its 10**9 strings would need tens of GiB (11,000 nodes of it take over a MiB):
    # what it allocates (about 40 KB) shows it was not.
    tracemalloc.start()
    try:
        issue = the_error(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024, f"{peak:,} bytes allocated"
    assert issue.message.startswith("YAML aliases expand to more than 100,000 nodes")
    assert issue.line is not None and issue.line > len(HEADER.splitlines())


def test_modest_aliases_in_helm_values_still_work() -> None:
    fleet = parse_fleet(with_app(alias_bomb(levels=3)), source="fleet.yaml", base_dir=Path("/srv"))
    values = fleet.applications["web"].helm.values  # type: ignore[union-attr]
    assert len(values["l2"]) == 10 and len(values["l2"][0]) == 10


def test_nesting_past_the_bound_is_refused_with_its_line() -> None:
    deep = "[" * 150 + "]" * 150
    issue = the_error(with_app(f"helm:\n  values:\n    deep: {deep}\n"))
    assert issue.message == "nested deeper than 100 levels"
    assert issue.line == 17
    assert issue.key_path == "", "found before the text is read as a fleet: no key path yet"


def test_a_thousand_levels_of_nesting_are_an_error_not_a_recursion_crash() -> None:
    issue = the_error(with_app("helm:\n  values:\n    deep: " + "[" * 1000 + "]" * 1000 + "\n"))
    assert "nested deeper than" in issue.message


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("8d", "'8d' is not a duration"),
        ("169h", "'169h' is longer than 7 days (168h, 604800); write a shorter one"),
        ("604801", "'604801' is longer than 7 days (168h, 604800); write a shorter one"),
        ("9" * 400, "is not a duration; at most 7 days (168h, 604800)"),
        ("'" + "1" * 400 + "s'", "is not a duration; at most 7 days (168h, 604800)"),
    ],
)
def test_durations_have_an_upper_bound_and_a_clear_error(written: str, message: str) -> None:
    issue = the_error(HEADER.replace("platform.git", f"platform.git\n    interval: {written}"))
    assert issue.key_path == "repositories[0].interval"
    assert message in issue.message, issue.message


def test_seven_days_is_the_longest_duration() -> None:
    text = HEADER.replace("platform.git", "platform.git\n    interval: 168h")
    fleet = parse_fleet(text, source="fleet.yaml", base_dir=Path("/srv"))
    assert fleet.repositories["platform"].interval == 7 * 24 * 3600


def test_a_fleet_file_over_the_size_bound_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(HEADER + "#" * MAX_FLEET_BYTES + "\n")
    report = check_fleet(path)
    assert report.fleet is None
    (issue,) = report.errors
    assert issue.message.startswith("the file is larger than 8 MiB")


def test_a_fleet_text_over_the_size_bound_is_refused_unread() -> None:
    # Text given directly (not a file): the same bound, named as text.
    report = check_text(
        HEADER + "#" * MAX_FLEET_BYTES + "\n", source="fleet.yaml", base_dir=Path("/srv")
    )
    assert report.fleet is None
    (issue,) = report.errors
    assert (issue.line, issue.key_path) == (None, "")
    assert issue.message == "the text is larger than 8 MiB"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file://", "repositories[0].url: 'file://' names no path"),
        ("https:///platform.git", "repositories[0].url: 'https:///platform.git' names no host"),
    ],
)
def test_a_repository_url_without_a_host_or_path_is_refused(url: str, message: str) -> None:
    issue = the_error(HEADER.replace("https://git.example.com/platform.git", url))
    assert message in str(issue), issue
