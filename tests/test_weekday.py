"""WeekdayTimes: input forms, validation, and the DST rule."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

import turnkeeper_trio as tk

PARIS = ZoneInfo("Europe/Paris")
NY = ZoneInfo("America/New_York")


def test_names_numbers_strings_and_duplicates() -> None:
    a = tk.WeekdayTimes([("mon", "09:00"), (0, time(9)), ("Monday", "09:00:00"), ("FRI", "17:30")])
    assert a.times == ((0, time(9)), (4, time(17, 30)))
    assert a == tk.WeekdayTimes([(4, time(17, 30)), (0, time(9))])


def test_fires_on_listed_weekdays_in_the_zone() -> None:
    schedule = tk.WeekdayTimes([("mon", "09:00"), ("wed", "09:00")], tz=PARIS)
    fires = schedule.preview(datetime(2026, 3, 20, tzinfo=UTC), 4)  # a Friday
    assert [f.strftime("%a %d %H:%M %z") for f in fires] == [
        "Mon 23 09:00 +0100",
        "Wed 25 09:00 +0100",
        "Mon 30 09:00 +0200",  # after the switch to summer time: still 09:00 in Paris
        "Wed 01 09:00 +0200",
    ]


def test_every_day_and_weekdays_constructors() -> None:
    assert len(tk.WeekdayTimes.every_day("08:00", "20:00").times) == 14
    weekdays = tk.WeekdayTimes.weekdays("09:00", tz=NY)
    assert {day for day, _ in weekdays.times} == {0, 1, 2, 3, 4}
    assert weekdays.tz is NY


def test_spring_gap_fires_once_at_the_end_of_the_gap() -> None:
    schedule = tk.WeekdayTimes([("sun", "02:15"), ("sun", "02:45")], tz=NY)
    fires = schedule.preview(datetime(2026, 3, 7, tzinfo=UTC), 3)
    assert [f.isoformat() for f in fires] == [
        "2026-03-08T03:00:00-04:00",  # both gap times resolve to 03:00 EDT: one fire
        "2026-03-15T02:15:00-04:00",
        "2026-03-15T02:45:00-04:00",
    ]


def test_fall_back_fires_once_at_the_first_occurrence() -> None:
    schedule = tk.WeekdayTimes([("sun", "01:30")], tz=NY)
    fires = schedule.preview(datetime(2026, 10, 31, tzinfo=UTC), 2)
    assert [f.astimezone(UTC).isoformat() for f in fires] == [
        "2026-11-01T05:30:00+00:00",  # 01:30 EDT, not also 01:30 EST
        "2026-11-08T06:30:00+00:00",
    ]


@pytest.mark.parametrize(
    ("times", "message"),
    [
        ([], "must not be empty"),
        ([("mon",)], r"times\[0\] must be a \(weekday, time\) pair"),
        ([(7, "09:00")], r"times\[0\]: weekday must be 0 \(Monday\)..6"),
        ([("someday", "09:00")], "is not one of 'mon'..'sun'"),
        ([(True, "09:00")], "weekday must be"),
        ([("mon", "25:00")], "is not 'HH:MM'"),
        ([("mon", 900)], "time must be a datetime.time"),
        ([("mon", time(9, tzinfo=UTC))], "must be a naive wall time"),
        ("mon 09:00", "list of \\(weekday, time\\) pairs"),
    ],
)
def test_invalid_times_are_rejected(times: object, message: str) -> None:
    with pytest.raises(tk.InvalidSchedule, match=message):
        tk.WeekdayTimes(times)  # type: ignore[arg-type]


def test_repr_reads_like_the_constructor_call_and_round_trips() -> None:
    schedule = tk.WeekdayTimes([("fri", "17:30:15"), ("mon", "09:00")], tz=PARIS)
    text = repr(schedule)
    assert text == (
        "WeekdayTimes([('mon', '09:00:00'), ('fri', '17:30:15')], "
        "tz=zoneinfo.ZoneInfo(key='Europe/Paris'))"
    )
    assert eval(text, {"WeekdayTimes": tk.WeekdayTimes, "zoneinfo": zoneinfo}) == schedule


def _every_day_at_nine_as_a_number() -> object:
    return tk.WeekdayTimes.every_day(9)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (tk.WeekdayTimes.every_day, r"WeekdayTimes\.every_day\(\*at\): give at least one"),
        (tk.WeekdayTimes.weekdays, r"WeekdayTimes\.weekdays\(\*at\): give at least one"),
        (
            lambda: tk.WeekdayTimes.weekdays("09:00", "25:00"),
            r"WeekdayTimes\.weekdays: at\[1\]: time '25:00' is not 'HH:MM'",
        ),
        (_every_day_at_nine_as_a_number, r"every_day: at\[0\]: time must be a datetime\.time"),
    ],
)
def test_named_constructors_name_the_times_given_to_them(make: object, message: str) -> None:
    with pytest.raises(tk.InvalidSchedule, match=message):
        make()  # type: ignore[operator]


END = datetime.max.replace(tzinfo=UTC)
LAST_DAY = datetime(9999, 12, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("times", "tz", "after", "expected"),
    [
        (
            ["23:59"],
            UTC,
            LAST_DAY.replace(hour=23, minute=58),
            LAST_DAY.replace(hour=23, minute=59),
        ),
        (["23:59"], UTC, END, None),
        (["09:00"], NY, LAST_DAY, datetime(9999, 12, 31, 9, tzinfo=NY)),
        (["19:00"], NY, datetime(9999, 12, 31, 12, tzinfo=NY), None),  # 10000-01-01 00:00 UTC
        (
            ["18:59"],
            NY,
            datetime(9999, 12, 31, 12, tzinfo=NY),
            LAST_DAY.replace(hour=23, minute=59),
        ),
        (["09:00"], ZoneInfo("Pacific/Kiritimati"), LAST_DAY.replace(hour=23), None),
        (["09:00"], NY, END.replace(tzinfo=NY), None),
    ],
)
def test_at_the_end_of_time_next_after_is_the_last_fire_or_none(
    times: list[str], tz: ZoneInfo, after: datetime, expected: datetime | None
) -> None:
    assert tk.WeekdayTimes.every_day(*times, tz=tz).next_after(after) == expected
