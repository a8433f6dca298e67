"""Cron schedules: parsing (with the errors people see) and when a schedule last and next fires,
in a time zone, across daylight saving changes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fleetsync.shared.planning.cron import CronError, next_fire, parse_cron, previous_fire, zone

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")


def at(text: str, tz: ZoneInfo = UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def shown(ts: float | None, tz: ZoneInfo = UTC) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M %a")


@pytest.mark.parametrize(
    ("expr", "now", "previous", "following"),
    [
        ("*/15 * * * *", "2026-03-04 10:07", "2026-03-04 10:00 Wed", "2026-03-04 10:15 Wed"),
        ("0 18 * * fri", "2026-03-04 10:00", "2026-02-27 18:00 Fri", "2026-03-06 18:00 Fri"),
        ("0 18 * * 5", "2026-03-06 18:00", "2026-03-06 18:00 Fri", "2026-03-13 18:00 Fri"),
        ("30 9 1 * *", "2026-03-04 10:00", "2026-03-01 09:30 Sun", "2026-04-01 09:30 Wed"),
        ("0 0 29 2 *", "2026-03-04 10:00", "2024-02-29 00:00 Thu", "2028-02-29 00:00 Tue"),
        (
            "0 8-17/3 * * mon-fri",
            "2026-03-07 12:00",
            "2026-03-06 17:00 Fri",
            "2026-03-09 08:00 Mon",
        ),
        ("@daily", "2026-03-04 10:00", "2026-03-04 00:00 Wed", "2026-03-05 00:00 Thu"),
        ("0 0 * * 7", "2026-03-04 10:00", "2026-03-01 00:00 Sun", "2026-03-08 00:00 Sun"),
        # Both day fields restricted: a day matches either (the 13th, or a Friday).
        ("0 12 13 * fri", "2026-03-10 00:00", "2026-03-06 12:00 Fri", "2026-03-13 12:00 Fri"),
    ],
)
def test_a_schedule_fires_at_the_times_cron_gives(
    expr: str, now: str, previous: str, following: str
) -> None:
    cron = parse_cron(expr)
    assert shown(previous_fire(cron, at(now), UTC)) == previous
    assert shown(next_fire(cron, at(now), UTC)) == following


def test_wall_clock_times_follow_the_time_zone_across_daylight_saving() -> None:
    cron = parse_cron("0 9 * * *")
    # Paris moves from UTC+1 to UTC+2 on 2026-03-29: 09:00 local is 08:00 UTC, then 07:00 UTC.
    before = next_fire(cron, at("2026-03-28 00:00", PARIS), PARIS)
    after = next_fire(cron, at("2026-03-29 00:00", PARIS), PARIS)
    assert shown(before) == "2026-03-28 08:00 Sat"
    assert shown(after) == "2026-03-29 07:00 Sun"
    assert shown(after, PARIS) == "2026-03-29 09:00 Sun"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 25 * * *", "hour 25 is out of range 0-23"),
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("* * * *", "expected 5 fields"),
        ("0 0 * * funday", "day of week 'funday' is not a number or a name"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 5-1 * *", "range '5-1' runs backwards"),
        ("*/0 * * * *", "a step must be at least 1"),
        ("@fortnightly", "unknown macro"),
        ("0 0 ? * *", "is not a number, range or step"),
    ],
)
def test_a_schedule_that_does_not_parse_says_which_part(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("(", r"\(")) as caught:
        parse_cron(expr)
    assert repr(expr) in str(caught.value)


def test_an_unknown_time_zone_is_refused_by_name() -> None:
    with pytest.raises(CronError, match="'Mars/Olympus': not a time zone"):
        zone("Mars/Olympus")
