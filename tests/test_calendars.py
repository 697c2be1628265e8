"""Exclusion calendars and ``schedule.excluding(calendar)``."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import turnkeeper_trio as tk

from .test_schedule_properties import PROPERTY

PARIS = ZoneInfo("Europe/Paris")
TOKYO = ZoneInfo("Asia/Tokyo")


def days(schedule: tk.abc.Schedule, after: datetime, n: int) -> list[str]:
    return [at.date().isoformat() for at in schedule.preview(after, n)]


def test_weekends_and_french_holidays_do_not_exist() -> None:
    schedule = tk.Cron("0 9 * * *", tz=PARIS).excluding(
        tk.Weekdays("sat", "sun") | tk.Holidays("FR")
    )
    after = datetime(2026, 12, 23, tzinfo=PARIS)
    assert days(schedule, after, 3) == ["2026-12-23", "2026-12-24", "2026-12-28"]
    excluded = schedule.excluded_between(after, datetime(2026, 12, 28, tzinfo=PARIS))  # type: ignore[attr-defined]
    assert [(x.at.date().isoformat(), x.reason) for x in excluded] == [
        ("2026-12-25", "Christmas Day (FR)"),
        ("2026-12-26", "Saturday"),
        ("2026-12-27", "Sunday"),
    ]


def test_subdivision_holidays() -> None:
    cal = tk.Holidays("US", subdiv="NY")
    assert cal.reason(date(2026, 2, 12)) == "Lincoln's Birthday (US-NY)"
    assert tk.Holidays("US").reason(date(2026, 2, 12)) is None


def test_dates_and_yearly_dates() -> None:
    cal = tk.Dates(["2026-03-02", date(2026, 3, 4)], label="closed") | tk.YearlyDates(["03-03"])
    assert cal.reason(date(2026, 3, 2)) == "closed"
    assert cal.reason(date(2031, 3, 3)) == "yearly 03-03"
    assert cal.reason(date(2026, 3, 5)) is None
    schedule = tk.WeekdayTimes.every_day("10:00").excluding(cal)
    assert days(schedule, datetime(2026, 3, 1, 12, tzinfo=UTC), 2) == ["2026-03-05", "2026-03-06"]
    leap = tk.YearlyDates([(2, 29)])
    assert leap.reason(date(2028, 2, 29)) == "yearly 02-29"


def test_the_schedules_zone_decides_the_day() -> None:
    # 23:30 in Paris on a Friday is Saturday in Tokyo: the schedule's zone decides.
    friday_night = tk.Cron("30 23 * * *", tz=PARIS).excluding(tk.Weekdays("sat"))
    after = datetime(2026, 6, 4, 12, tzinfo=PARIS)  # a Thursday
    assert days(friday_night, after, 3) == ["2026-06-04", "2026-06-05", "2026-06-07"]
    # A calendar with its own tz reads the day there.
    tokyo = tk.Cron("30 23 * * *", tz=PARIS).excluding(tk.Weekdays("sat", tz=TOKYO))
    assert days(tokyo, after, 3) == ["2026-06-04", "2026-06-06", "2026-06-07"]


def test_zoneless_schedules_read_days_in_utc() -> None:
    start = datetime(2026, 6, 5, 22, tzinfo=UTC)  # a Friday
    schedule = tk.Interval.hours(1, start=start).excluding(tk.Weekdays("sat", "sun"))
    fires = schedule.preview(start - timedelta(seconds=1), 3)
    assert [f.isoformat() for f in fires] == [
        "2026-06-05T22:00:00+00:00",
        "2026-06-05T23:00:00+00:00",
        "2026-06-08T00:00:00+00:00",
    ]


def test_excluding_every_weekday_fails_at_construction() -> None:
    with pytest.raises(tk.InvalidSchedule, match="every"):
        tk.Cron("0 9 * * *").excluding(tk.Weekdays(*range(7)))
    with pytest.raises(tk.InvalidSchedule, match="every"):
        tk.Cron("0 9 * * *").excluding(tk.Weekdays("mon", "tue", "wed") | tk.Weekdays(3, 4, 5, 6))
    with pytest.raises(tk.InvalidSchedule, match="every occurrence"):
        tk.Cron("0 9 * * SAT").excluding(tk.Weekdays("sat"))


def test_long_exclusions_stay_fast_and_end() -> None:
    every_but_december = tk.YearlyDates(
        [
            f"{m:02}-{d:02}"
            for m in range(1, 12)
            for d in range(1, 32)
            if (m, d) not in {(2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31)}
        ]
    )
    schedule = tk.Cron("* * * * *").excluding(every_but_december)
    got = schedule.next_after(datetime(2026, 1, 1, tzinfo=UTC))
    assert got == datetime(2026, 12, 1, tzinfo=UTC)
    once = tk.Once(datetime(2026, 12, 25, 9, tzinfo=UTC)).excluding(tk.YearlyDates(["12-25"]))
    assert once.next_after(datetime(2026, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: tk.Dates([]), tk.InvalidArgument, "dates"),
        (lambda: tk.Dates(["2026-13-01"]), tk.InvalidArgument, r"dates\[0\]"),
        (lambda: tk.YearlyDates(["02-30"]), tk.InvalidArgument, r"days\[0\]"),
        (lambda: tk.Weekdays(), tk.InvalidArgument, "days"),
        (lambda: tk.Weekdays("someday"), tk.InvalidArgument, r"days\[0\]"),
        (lambda: tk.Holidays("XX"), tk.InvalidArgument, "XX"),
        (lambda: tk.Holidays("US", subdiv="ZZ"), tk.InvalidArgument, "ZZ"),
        (
            lambda: tk.Cron("0 9 * * *").excluding("sat"),  # type: ignore[arg-type]
            TypeError,
            "calendar",
        ),
        (
            lambda: tk.Weekdays("sat", tz="Paris"),  # type: ignore[arg-type]
            TypeError,
            "tz",
        ),
    ],
)
def test_bad_calendars_are_refused(build: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        build()  # type: ignore[operator]


def test_a_missing_holidays_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "holidays", None)
    with pytest.raises(tk.InvalidArgument, match=r"the 'holidays' extra \(pip install -e"):
        tk.Holidays("FR")


@PROPERTY
@given(
    start=st.datetimes(datetime(2024, 1, 1), datetime(2028, 1, 1)),
    weekdays=st.sets(st.integers(0, 6), min_size=1, max_size=6),
    listed=st.lists(st.dates(date(2024, 1, 1), date(2028, 3, 1)), min_size=1, max_size=30),
    zone=st.sampled_from(["UTC", "Europe/Paris", "Australia/Lord_Howe", "America/New_York"]),
)
def test_excluding_is_the_filtered_schedule(
    start: datetime, weekdays: set[int], listed: list[date], zone: str
) -> None:
    tz = ZoneInfo(zone)
    inner = tk.Cron("0 */5 * * *", tz=tz)
    cal = tk.Weekdays(*weekdays) | tk.Dates(listed)
    schedule = inner.excluding(cal)
    after = start.replace(tzinfo=UTC)
    expected: list[float] = []
    at = inner.next_after(after)
    while at is not None and len(expected) < 5:
        local_day = at.astimezone(tz).date()
        if local_day.weekday() not in weekdays and local_day not in listed:
            expected.append(at.timestamp())
        at = inner.next_after(at)
    assert [f.timestamp() for f in schedule.preview(after, 5)] == expected


def test_holiday_names_are_english_whatever_the_locale_unless_asked() -> None:
    """The reason a preview or a log gives reads the same on every machine."""
    code = (
        "import datetime, turnkeeper_trio as tk\n"
        "print(tk.Holidays('FR').reason(datetime.date(2026, 12, 25)))\n"
        "print(tk.Holidays('FR', language='fr').reason(datetime.date(2026, 12, 25)))\n"
    )
    for locale in ("C", "C.UTF-8", "fr_FR.UTF-8"):
        env = {**os.environ, "LANG": locale, "LC_ALL": locale, "PYTHONIOENCODING": "utf-8"}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert done.stdout.splitlines() == ["Christmas Day (FR)", "Noël (FR)"], locale
    with pytest.raises(tk.InvalidArgument, match="language 'xx'"):
        tk.Holidays("FR", language="xx").reason(date(2026, 12, 25))
    with pytest.raises(TypeError, match="language"):
        tk.Holidays("FR", language=7)  # type: ignore[arg-type]
