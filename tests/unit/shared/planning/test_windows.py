"""Change windows and the freeze: whether a pair may change at a given time, and why not."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fleetsync.shared.model.declaration import Selector, Window, WindowKind
from fleetsync.shared.model.ids import AppName
from fleetsync.shared.planning.windows import Freeze, hold_for, open_until

PARIS = ZoneInfo("Europe/Paris")
# Friday 18:00 Paris for 62 hours: the weekend.
WEEKEND = Window("weekend", WindowKind.DENY, "0 18 * * fri", 62 * 3600, "Europe/Paris")
OFFICE = Window("office", WindowKind.ALLOW, "0 9 * * mon-fri", 8 * 3600, "Europe/Paris")
PROD = Selector(match_labels={"env": "prod"})


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


@pytest.mark.parametrize(
    ("windows", "when", "labels", "held"),
    [
        ([WEEKEND], "2026-03-06 17:59", {}, None),
        (
            [WEEKEND],
            "2026-03-06 18:00",
            {},
            "deny window 'weekend' is open until 2026-03-09 07:00 UTC",
        ),
        ([WEEKEND], "2026-03-09 07:59", {}, "deny window 'weekend'"),
        ([WEEKEND], "2026-03-09 08:00", {}, None),
        ([OFFICE], "2026-03-04 10:00", {}, None),
        (
            [OFFICE],
            "2026-03-04 17:30",
            {},
            "outside the allow window 'office'; the next opens 2026-03-05 08:00 UTC",
        ),
        ([OFFICE], "2026-03-07 10:00", {}, "the next opens 2026-03-09 08:00 UTC"),
        # A deny window wins over an open allow window.
        (
            [OFFICE, Window("lunch", WindowKind.DENY, "0 12 * * *", 3600, "Europe/Paris")],
            "2026-03-04 12:30",
            {},
            "deny window 'lunch'",
        ),
        # Windows apply only to the clusters they select.
        (
            [Window("prod", WindowKind.DENY, "* * * * *", 120, "UTC", selector=PROD)],
            "2026-03-04 12:30",
            {"env": "staging"},
            None,
        ),
        (
            [Window("prod", WindowKind.DENY, "* * * * *", 120, "UTC", selector=PROD)],
            "2026-03-04 12:30",
            {"env": "prod"},
            "deny window 'prod'",
        ),
    ],
)
def test_a_pair_is_held_while_a_deny_window_is_open_or_no_allow_window_is(
    windows: list[Window], when: str, labels: dict[str, str], held: str | None
) -> None:
    hold = hold_for(windows, None, "web", labels, at(when))
    if held is None:
        assert hold is None
    else:
        assert hold is not None and held in hold.reason


def test_windows_apply_only_to_the_applications_they_name() -> None:
    only_db = Window("db", WindowKind.DENY, "* * * * *", 120, applications=(AppName("db"),))
    assert hold_for([only_db], None, "web", {}, at("2026-03-04 12:00")) is None
    assert hold_for([only_db], None, "db", {}, at("2026-03-04 12:00")) is not None


def test_a_hold_says_whether_manual_syncs_and_self_heal_may_still_apply() -> None:
    lenient = Window("w", WindowKind.DENY, "* * * * *", 120, manual_sync=True, self_heal=True)
    strict = Window("s", WindowKind.DENY, "* * * * *", 120)
    one = hold_for([lenient], None, "web", {}, at("2026-03-04 12:00"))
    both = hold_for([lenient, strict], None, "web", {}, at("2026-03-04 12:00"))
    assert one is not None and one.manual_sync and one.self_heal
    assert both is not None and not both.manual_sync and not both.self_heal


def test_overlapping_openings_keep_a_window_open_until_the_last_one_ends() -> None:
    every_hour_for_two = Window("w", WindowKind.DENY, "0 * * * *", 2 * 3600)
    until = open_until(every_hour_for_two, at("2026-03-04 12:30"))
    assert until is not None and until - at("2026-03-04 12:30") > 24 * 3600


def test_the_freeze_holds_everything_with_its_reason_and_no_end() -> None:
    freeze = Freeze(reason="incident 42", at=at("2026-03-04 12:00"))
    hold = hold_for([], freeze, "web", {}, at("2026-03-04 12:05"))
    assert hold is not None and hold.until is None and not hold.manual_sync
    assert "the fleet is frozen since" in hold.reason and "incident 42" in hold.reason
    allowed = hold_for([], Freeze("", 0, manual_sync=True), "web", {}, at("2026-03-04 12:05"))
    assert allowed is not None and allowed.manual_sync
