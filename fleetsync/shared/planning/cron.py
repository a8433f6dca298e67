"""Cron expressions, as change windows write them: when a schedule last fired and next fires.

Five fields, `minute hour day-of-month month day-of-week`, each `*`, a number, a range `a-b`, a
step `*/n`, `a-b/n` or `a/n`, or a comma-separated list of those; months and weekdays also by
name (`jan`, `mon`); weekday 0 and 7 are Sunday; `@yearly`, `@annually`, `@monthly`, `@weekly`,
`@daily`, `@midnight` and `@hourly`. As in Vixie cron, when both day fields are restricted a day
matches either. Times are wall-clock times in the schedule's time zone (zoneinfo); a time that
a DST change skips fires at the same instant as the hour after, a time that it repeats fires
once, at its first occurrence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_PART = re.compile(r"(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?")
SEARCH_DAYS = 366 * 8
"""How far a search for a firing time goes: long enough for 29 February on a given weekday."""


class CronError(ValueError):
    """A cron expression that does not parse or never fires; the message says which part."""


@dataclass(frozen=True, slots=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 is Sunday."""
    any_day: bool
    """The day-of-month field is `*`."""
    any_weekday: bool
    minutes_of_day: tuple[int, ...]
    """Every firing time of a matching day, as minutes after midnight, ascending."""

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week


def parse_cron(text: str) -> Cron:
    """The schedule `text` describes; CronError naming the field and the part otherwise."""
    return _parse(text.strip())


@lru_cache(maxsize=256)
def _parse(text: str) -> Cron:
    expanded = _MACROS.get(text.lower(), text)
    if expanded.startswith("@"):
        raise CronError(f"{text!r}: unknown macro; use one of {', '.join(_MACROS)}")
    fields = expanded.split()
    if len(fields) != 5:
        raise CronError(
            f"{text!r}: expected 5 fields (minute hour day-of-month month day-of-week), "
            f"found {len(fields)}"
        )
    values = [_field(text, raw, *spec) for raw, spec in zip(fields, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in values[4])
    cron = Cron(
        text=text,
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        any_day=fields[2] == "*",
        any_weekday=fields[4] == "*",
        minutes_of_day=tuple(sorted(h * 60 + m for h in values[1] for m in values[0])),
    )
    if not any(_possible(cron, month) for month in cron.months):
        raise CronError(f"{text!r}: never fires (no month has such a day)")
    return cron


def _possible(cron: Cron, month: int) -> bool:
    longest = 29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31
    return not (cron.any_weekday or cron.any_day) or any(d <= longest for d in cron.days)


def _field(
    text: str, raw: str, name: str, low: int, high: int, names: tuple[str, ...]
) -> frozenset[int]:
    found: set[int] = set()
    for part in raw.lower().split(","):
        match = _PART.fullmatch(part)
        if match is None:
            raise CronError(f"{text!r}: {name} {part!r} is not a number, range or step")
        span, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise CronError(f"{text!r}: {name} {part!r}: a step must be at least 1")
        if span == "*":
            first, last = low, high
        else:
            start, _, end = span.partition("-")
            first = _number(text, start, name, low, high, names)
            last = (
                _number(text, end, name, low, high, names)
                if end
                else (high if step_text else first)
            )
            if last < first:
                raise CronError(f"{text!r}: {name} range {span!r} runs backwards")
        found.update(range(first, last + 1, step))
    return frozenset(found)


def _number(text: str, word: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if word in names:
        return names.index(word) + (1 if names is _MONTHS else 0)
    if not word.isdigit():
        raise CronError(
            f"{text!r}: {name} {word!r} is not a number"
            + (f" or a name ({', '.join(names)})" if names else "")
        )
    value = int(word)
    if not low <= value <= high:
        raise CronError(f"{text!r}: {name} {value} is out of range {low}-{high}")
    return value


def zone(name: str) -> ZoneInfo:
    """The time zone `name` (IANA, `Europe/Paris`); CronError when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(
            f"{name!r}: not a time zone; use an IANA name such as UTC or Europe/Paris"
        ) from exc


def previous_fire(cron: Cron, at: float, tz: ZoneInfo) -> float | None:
    """The latest time at or before `at` (Unix seconds) when `cron` fires, or None within the
    search horizon."""
    moment = datetime.fromtimestamp(at, tz)
    times = cron.minutes_of_day
    day = moment.date()
    # Today, from the latest time not after now's wall clock (one more for a DST repeat).
    start = min(bisect_right(times, moment.hour * 60 + moment.minute) + 1, len(times))
    for _ in range(SEARCH_DAYS):
        if cron.day_matches(day):
            for index in range(start - 1, -1, -1):
                fired = _instant(day, times[index], tz)
                if fired <= at:
                    return fired
        day -= timedelta(days=1)
        start = len(times)
    return None


def next_fire(cron: Cron, at: float, tz: ZoneInfo) -> float | None:
    """The earliest time strictly after `at` when `cron` fires, or None within the horizon."""
    moment = datetime.fromtimestamp(at, tz)
    times = cron.minutes_of_day
    day = moment.date()
    # Today, from the first time after now's wall clock (one earlier for a DST repeat).
    start = max(bisect_right(times, moment.hour * 60 + moment.minute) - 1, 0)
    for _ in range(SEARCH_DAYS):
        if cron.day_matches(day):
            for index in range(start, len(times)):
                fired = _instant(day, times[index], tz)
                if fired > at:
                    return fired
        day += timedelta(days=1)
        start = 0
    return None


def _instant(day: date, minute_of_day: int, tz: ZoneInfo) -> float:
    """Unix seconds of a wall-clock time in `tz` (its first occurrence when DST repeats it)."""
    hour, minute = divmod(minute_of_day, 60)
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    return local.astimezone(UTC).timestamp()
