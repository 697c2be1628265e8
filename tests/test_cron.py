"""Cron syntax, validation, Vixie day-field semantics and the DST rule on concrete dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import turnkeeper_trio as tk

from .reference import cron_reference, reference_next

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")
SANTIAGO = ZoneInfo("America/Santiago")  # changes clocks at midnight


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fires(expr: str, after: datetime, count: int, tz: ZoneInfo | None = None) -> list[str]:
    schedule = tk.Cron(expr, tz=tz or ZoneInfo("UTC"))
    return [f.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for f in schedule.preview(after, count)]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("0 9 * * MON-FRI", ["2026-01-05 09:00:00", "2026-01-06 09:00:00"]),  # 2026-01-03 is a Sat
        ("*/20 * * * *", ["2026-01-03 00:20:00", "2026-01-03 00:40:00"]),
        ("5/20 0 * * *", ["2026-01-03 00:05:00", "2026-01-03 00:25:00"]),  # a/s = a-max/s
        ("10-30/10 0 * * *", ["2026-01-03 00:10:00", "2026-01-03 00:20:00"]),
        ("7-7/5 0 * * *", ["2026-01-03 00:07:00", "2026-01-04 00:07:00"]),  # a-a/s = {a}
        ("0 0 * * 7", ["2026-01-04 00:00:00", "2026-01-11 00:00:00"]),  # 7 = Sunday
        ("0 0 * * sun", ["2026-01-04 00:00:00", "2026-01-11 00:00:00"]),
        ("0 0 1 jan,Jul *", ["2026-07-01 00:00:00", "2027-01-01 00:00:00"]),
        ("0 0 L * *", ["2026-01-31 00:00:00", "2026-02-28 00:00:00"]),
        ("0 0 L 2 *", ["2026-02-28 00:00:00", "2027-02-28 00:00:00"]),
        ("0 0 29 2 *", ["2028-02-29 00:00:00", "2032-02-29 00:00:00"]),
        ("0 0 * * MON#2", ["2026-01-12 00:00:00", "2026-02-09 00:00:00"]),
        ("0 0 * * fri#5", ["2026-01-30 00:00:00", "2026-05-29 00:00:00"]),
        ("30 15 10 * * *", ["2026-01-03 10:15:30", "2026-01-04 10:15:30"]),  # seconds first
        ("@yearly", ["2027-01-01 00:00:00", "2028-01-01 00:00:00"]),
        ("@annually", ["2027-01-01 00:00:00", "2028-01-01 00:00:00"]),
        ("@monthly", ["2026-02-01 00:00:00", "2026-03-01 00:00:00"]),
        ("@weekly", ["2026-01-04 00:00:00", "2026-01-11 00:00:00"]),
        ("@daily", ["2026-01-04 00:00:00", "2026-01-05 00:00:00"]),
        ("@midnight", ["2026-01-04 00:00:00", "2026-01-05 00:00:00"]),
        ("@HOURLY", ["2026-01-03 01:00:00", "2026-01-03 02:00:00"]),
        # `max/s` is {max} in every field (croniter 7 reads `59-59/15` as `*/15`).
        ("59/15 * * * *", ["2026-01-03 00:59:00", "2026-01-03 01:59:00"]),
        ("59/15 0 0 * * *", ["2026-01-03 00:00:59", "2026-01-04 00:00:59"]),
        ("0 23/5 * * *", ["2026-01-03 23:00:00", "2026-01-04 23:00:00"]),
        ("0 0 31/10 * *", ["2026-01-31 00:00:00", "2026-03-31 00:00:00"]),
        ("0 0 1 12/3 *", ["2026-12-01 00:00:00", "2027-12-01 00:00:00"]),
        ("0 0 * * 7/3", ["2026-01-04 00:00:00", "2026-01-11 00:00:00"]),  # 7 = Sunday
        # `?`: no constraint, and `*` for the Vixie rule (so the other day field decides).
        ("0 0 ? * MON", ["2026-01-05 00:00:00", "2026-01-12 00:00:00"]),
        ("0 0 15 * ?", ["2026-01-15 00:00:00", "2026-02-15 00:00:00"]),
        ("0 0 0 ? * ?", ["2026-01-04 00:00:00", "2026-01-05 00:00:00"]),
        # LW: the last Monday-Friday of the month (2026-01-31 is a Saturday).
        ("0 0 LW * *", ["2026-01-30 00:00:00", "2026-02-27 00:00:00"]),
        # nW: the weekday nearest to day n, within the month. 2026-02-15 is a Sunday, so
        # Monday the 16th; 2026-03-15 is a Sunday too.
        ("0 0 15W * *", ["2026-01-15 00:00:00", "2026-02-16 00:00:00"]),
        # 2026-08-01 is a Saturday: not Friday 07-31, but Monday the 3rd.
        ("0 0 1W 8 *", ["2026-08-03 00:00:00", "2027-08-02 00:00:00"]),
        # 2026-05-31 is a Sunday that ends the month: Friday the 29th.
        ("0 0 31W 5 *", ["2026-05-29 00:00:00", "2027-05-31 00:00:00"]),
        # 31W fires only in months that have a 31st, like 31 itself.
        ("0 0 31W * *", ["2026-01-30 00:00:00", "2026-03-31 00:00:00"]),
        # dL: the last given weekday of the month.
        ("0 0 * * 5L", ["2026-01-30 00:00:00", "2026-02-27 00:00:00"]),
        ("0 0 * * sunL", ["2026-01-25 00:00:00", "2026-02-22 00:00:00"]),
        # Day-level items mix with plain ones in a list, and the Vixie OR rule applies.
        ("0 0 L,10 * *", ["2026-01-10 00:00:00", "2026-01-31 00:00:00"]),
        ("0 0 * * mon#1,FRIL", ["2026-01-05 00:00:00", "2026-01-30 00:00:00"]),
        ("0 0 13 * 5L", ["2026-01-13 00:00:00", "2026-01-30 00:00:00"]),
        # A list is a union: one that holds a bare `*` is the whole field.
        ("*,5 * * * *", ["2026-01-03 00:01:00", "2026-01-03 00:02:00"]),
        ("0 0 *,1 * *", ["2026-01-04 00:00:00", "2026-01-05 00:00:00"]),
        ("* * * * *,0", ["2026-01-03 00:01:00", "2026-01-03 00:02:00"]),
        # Sunday ends a range as 7 (2026-01-03 is a Saturday).
        ("0 0 * * SAT-SUN", ["2026-01-04 00:00:00", "2026-01-10 00:00:00"]),
        ("0 0 * * MON-SUN", ["2026-01-04 00:00:00", "2026-01-05 00:00:00"]),
        # A range past the field's maximum wraps round (Quartz), its step counted across.
        ("0 0 * * FRI-MON", ["2026-01-04 00:00:00", "2026-01-05 00:00:00"]),
        ("0 22-2 * * *", ["2026-01-03 01:00:00", "2026-01-03 02:00:00"]),
        ("0 22-2/2 * * *", ["2026-01-03 02:00:00", "2026-01-03 22:00:00"]),
        ("50-10/10 0 * * *", ["2026-01-03 00:10:00", "2026-01-03 00:50:00"]),
        ("0 0 30-2 * *", ["2026-01-30 00:00:00", "2026-01-31 00:00:00"]),
        ("0 0 1 nov-feb *", ["2026-02-01 00:00:00", "2026-11-01 00:00:00"]),
    ],
)
def test_syntax(expr: str, expected: list[str]) -> None:
    assert fires(expr, utc(2026, 1, 3), 2) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # Either day field starting with '*': both must match (AND).
        ("0 0 */2 * MON", ["2026-01-05 00:00:00", "2026-01-19 00:00:00"]),  # odd days, Mondays
        ("0 0 * * MON", ["2026-01-05 00:00:00", "2026-01-12 00:00:00"]),
        ("0 0 1 * *", ["2026-02-01 00:00:00", "2026-03-01 00:00:00"]),
        # Neither starts with '*': either may match (OR).
        ("0 0 13 * FRI", ["2026-01-09 00:00:00", "2026-01-13 00:00:00"]),
        ("0 0 1-2 * sat", ["2026-01-10 00:00:00", "2026-01-17 00:00:00"]),
    ],
)
def test_vixie_day_field_rule(expr: str, expected: list[str]) -> None:
    assert fires(expr, utc(2026, 1, 3, 1), 2) == expected


@pytest.mark.parametrize(
    ("expr", "field"),
    [
        ("60 * * * *", "minute value 60 is out of range 0-59"),
        ("* 24 * * *", "hour value 24"),
        ("0 0 0 * *", "day-of-month value 0"),
        ("0 0 32 * *", "day-of-month value 32"),
        ("0 0 * 13 *", "month value 13"),
        ("0 0 * * 8", "day-of-week value 8"),
        ("*/0 * * * *", "minute step"),
        ("*,60 * * * *", "minute value 60 is out of range 0-59"),
        ("0 0 *,32 * *", "day-of-month value 32"),
        ("0 0 * * *,8", "day-of-week value 8"),
        ("0 0 *,? * *", "'?' must stand alone"),
        ("* *,*/0 * * *", "hour step"),
        ("0 0 * * *,MON#6", "'#n' must be 1-5"),
        ("0 0 * * fri-8", "day-of-week value 8"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * * *", "got 7"),
        ("", "got 0"),
        ("0 0 * * lundi", "day-of-week value 'lundi'"),
        ("? 0 * * *", "minute item '?' is not valid"),
        ("0 0 ?,1 * *", "'?' must stand alone"),
        ("0 0 32W * *", "day-of-month value 32"),
        ("0 0 0W * *", "day-of-month value 0"),
        ("0 0 1-5W * *", "day-of-month value '5W'"),
        ("0 0 * * LW", "day-of-week value 'LW'"),
        ("0 0 * * 8L", "day-of-week value 8"),
        ("0 0 * * 5W", "day-of-week value '5W'"),
        ("0 0 * * 5L#2", "day-of-week value '5L'"),
        ("0 0 L-2 * *", "day-of-month value 'L'"),
        ("L * * * *", "minute value 'L'"),
        ("0 0 31W 2 *", "can never fire"),
        ("0 0 31W 4,6 *", "can never fire"),
        ("H * * * *", "minute value 'H'"),
        ("1,,2 * * * *", "empty item"),
        ("0 0 * * MON#6", "'#n' must be 1-5"),
        ("@reboot", "unknown nickname"),
        ("0 0 30 2 *", "can never fire"),
        ("0 0 31 4,6,9,11 *", "can never fire"),
        ("0 0 * jan ", "expected 5 fields"),
        ("\uff10 0 * * *", "only ASCII"),  # a full-width zero
        ("0 0 * * mon-", "day-of-week item 'mon-' is not valid"),
    ],
)
def test_invalid_expressions_are_rejected_when_built(expr: str, field: str) -> None:
    with pytest.raises(tk.InvalidSchedule, match="cron") as info:
        tk.Cron(expr)
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)


def test_non_string_expression_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="expr"):
        tk.Cron(5)  # type: ignore[arg-type]


def test_tz_must_be_a_tzinfo() -> None:
    with pytest.raises(TypeError, match=r"tz must be a datetime\.tzinfo"):
        tk.Cron("* * * * *", tz="Europe/Paris")  # type: ignore[arg-type]


def test_naive_after_is_rejected() -> None:
    with pytest.raises(tk.InvalidArgument, match="after must be time-zone aware"):
        tk.Cron("* * * * *").next_after(datetime(2026, 1, 1))


def test_cron_values_compare_by_expression_and_zone() -> None:
    assert tk.Cron("0 9 * * *", tz=NY) == tk.Cron("0 9 * * *", tz=NY)
    assert tk.Cron("0 9 * * *", tz=NY) != tk.Cron("0 9 * * *", tz=LONDON)
    assert "0 9 * * *" in repr(tk.Cron("0 9 * * *"))


# ---------------------------------------------------------------------------- DST, by example
# Each row: expression, zone, start (UTC), the next fires in local time with their UTC offset.
DST_EXAMPLES = [
    # New York spring forward, 2026-03-08 02:00 EST -> 03:00 EDT.
    ("30 2 * * *", NY, utc(2026, 3, 7, 12), ["03-08 03:00-04", "03-09 02:30-04", "03-10 02:30-04"]),
    ("0 * * * *", NY, utc(2026, 3, 8, 5), ["03-08 01:00-05", "03-08 03:00-04", "03-08 04:00-04"]),
    ("*/30 2 * * *", NY, utc(2026, 3, 8, 0), ["03-09 02:00-04", "03-09 02:30-04"]),  # wildcard
    (
        "0,30 1-3 * * *",
        NY,
        utc(2026, 3, 8, 5),
        ["03-08 01:00-05", "03-08 01:30-05", "03-08 03:00-04", "03-08 03:30-04"],
    ),
    # New York fall back, 2026-11-01 02:00 EDT -> 01:00 EST: fixed once, wildcard twice.
    ("30 1 * * *", NY, utc(2026, 10, 31, 12), ["11-01 01:30-04", "11-02 01:30-05"]),
    (
        "30 * * * *",
        NY,
        utc(2026, 11, 1, 4),
        ["11-01 00:30-04", "11-01 01:30-04", "11-01 01:30-05", "11-01 02:30-05"],
    ),
    # Lord Howe: a 30-minute shift at 02:00 (spring forward 2026-10-04, fall back 2026-04-05).
    ("15 2 * * *", LORD_HOWE, utc(2026, 10, 3, 0), ["10-04 02:30+11", "10-05 02:15+11"]),
    ("*/15 2 * * *", LORD_HOWE, utc(2026, 10, 3, 15), ["10-04 02:30+11", "10-04 02:45+11"]),
    ("45 1 * * *", LORD_HOWE, utc(2026, 4, 4, 0), ["04-05 01:45+11", "04-06 01:45+10:30"]),
    (
        "*/15 1 * * *",
        LORD_HOWE,
        utc(2026, 4, 4, 14, 20),
        ["04-05 01:30+11", "04-05 01:45+11", "04-05 01:30+10:30", "04-05 01:45+10:30"],
    ),
    # London: 01:00 GMT -> 02:00 BST on 2026-03-29.
    ("30 1 * * *", LONDON, utc(2026, 3, 28, 12), ["03-29 02:00+01", "03-30 01:30+01"]),
    # Six fields with fixed seconds, minutes and hours follow the fixed-time rule too.
    ("0 30 2 * * *", NY, utc(2027, 3, 13, 12), ["03-14 03:00-04", "03-15 02:30-04"]),
    ("0 30 1 * * *", NY, utc(2027, 11, 6, 12), ["11-07 01:30-04", "11-08 01:30-05"]),
    # ... and a wildcard seconds field makes them wildcard: nothing in the gap.
    ("*/30 30 2 * * *", NY, utc(2027, 3, 13, 12), ["03-15 02:30-04", "03-15 02:30-04"]),
    # Kolkata has no DST: nothing special.
    ("30 2 * * *", KOLKATA, utc(2026, 3, 7, 12), ["03-08 02:30+05:30", "03-09 02:30+05:30"]),
    # Santiago changes at midnight (2026-09-06 00:00 -04 -> 01:00 -03): midnight does not exist.
    ("0 0 * * *", SANTIAGO, utc(2026, 9, 5, 12), ["09-06 01:00-03", "09-07 00:00-03"]),
    # ... and falls back at midnight (2026-04-05 00:00 -03 -> 04-04 23:00 -04).
    ("@daily", SANTIAGO, utc(2026, 4, 4, 12), ["04-05 00:00-04", "04-06 00:00-04"]),
    ("30 23 * * *", SANTIAGO, utc(2026, 4, 4, 12), ["04-04 23:30-03", "04-05 23:30-04"]),
    (
        "30 * * * *",
        SANTIAGO,
        utc(2026, 4, 5, 1),
        ["04-04 22:30-03", "04-04 23:30-03", "04-04 23:30-04"],
    ),
]


def _local(instants: list[datetime], tz: ZoneInfo) -> list[str]:
    out = []
    for instant in instants:
        local = instant.astimezone(tz)
        offset = local.strftime("%z")
        offset = offset[:3] + (":" + offset[3:] if offset[3:] != "00" else "")
        out.append(local.strftime("%m-%d %H:%M") + offset)
    return out


@pytest.mark.parametrize(("expr", "tz", "after", "expected"), DST_EXAMPLES)
def test_dst_examples(expr: str, tz: ZoneInfo, after: datetime, expected: list[str]) -> None:
    schedule = tk.Cron(expr, tz=tz)
    assert _local(schedule.preview(after, len(expected)), tz) == expected


def test_a_six_field_wall_time_in_a_gap_fires_at_the_first_instant_after_it() -> None:
    # London springs forward at 01:00 GMT on 2027-03-28: 01:30:30 does not exist.
    schedule = tk.Cron("30 30 1 * * *", tz=LONDON)
    assert not schedule.is_wildcard
    fires = [f.astimezone(LONDON) for f in schedule.preview(utc(2027, 3, 27, 12), 2)]
    assert [f.isoformat() for f in fires] == [
        "2027-03-28T02:00:00+01:00",
        "2027-03-29T01:30:30+01:00",
    ]


def test_next_after_a_second_pass_instant_looks_back_into_the_fold() -> None:
    # 01:50 EDT, just before the fall-back: the next ':00' is 01:00 EST, not 02:00 EST.
    schedule = tk.Cron("0 * * * *", tz=NY)
    got = schedule.next_after(utc(2026, 11, 1, 5, 50))
    assert got is not None
    assert got.astimezone(UTC) == utc(2026, 11, 1, 6, 0)


# ------------------------------------------------------- lists with `*`, wrapping ranges
# Each expression is read by the library and by the independent reference (tests/reference.py);
# the classification (wildcard or fixed-time) and the day rule (AND or OR) follow the
# list-as-union reading: a list that holds a bare `*` is `*`.
LIST_AND_RANGE_FORMS = [
    ("*,5 * * * *", True),
    ("5,* 0 * * *", True),  # a list holding `*` is `*`: a wildcard minute field
    ("0 *,3 * * *", True),
    ("0 0 1,* * MON", False),  # `*` day of month, so AND: Mondays only
    ("0 0 *,L * FRI", False),
    ("0 0 13 * FRI,*", False),  # `*` day of week: the 13th only
    ("0 0 13 * FRI", False),  # OR
    ("0 0 * * SAT-SUN", False),
    ("0 0 * * MON-SUN", False),
    ("0 0 * * SAT-0", False),
    ("0 0 * * 7-2", False),  # Sunday to Tuesday
    ("0 0 * * FRI-MON", False),
    ("0 0 * * 5-1/2", False),  # Friday and Sunday
    ("0 22-2 * * *", False),
    ("0 23-1/2 * * *", False),
    ("45-15/10 * * * *", True),  # the hour field is `*`
    ("0 0 28-3 * *", False),
    ("0 0 30-2/2 * *", False),
    ("0 0 1 nov-feb *", False),
    ("0 0 10-5 * MON-WED", False),  # OR, with a wrapping day of month
]


@pytest.mark.parametrize(("expr", "wildcard"), LIST_AND_RANGE_FORMS)
def test_lists_and_wrapping_ranges_agree_with_the_reference(expr: str, wildcard: bool) -> None:
    schedule = tk.Cron(expr)
    reference = cron_reference(expr)
    assert schedule.is_wildcard is wildcard
    assert reference.wildcard is wildcard
    # Every day of two years: the library fires on a day exactly when the reference's
    # day-of-month, month and day-of-week reading matches it.
    day = datetime(2026, 1, 1, tzinfo=UTC)
    while day.year < 2028:
        first = schedule.next_after(day - timedelta(microseconds=1))
        assert first is not None
        fires_that_day = first.date() == day.date()
        assert fires_that_day == reference.day_matches(day.replace(tzinfo=None)), day
        day += timedelta(days=1)
    # And instant by instant, for a while.
    instant: datetime | None = datetime(2026, 1, 9, 12, 7, tzinfo=UTC)
    for _ in range(8):
        assert instant is not None
        expected = reference_next(
            reference.matches, UTC, instant, fixed=not wildcard, horizon=timedelta(days=300)
        )
        instant = schedule.next_after(instant)
        assert instant == expected


def test_a_list_holding_star_is_star_for_the_dst_rule() -> None:
    # New York falls back on 2026-11-01: a wildcard minute field runs in both passes.
    fires = tk.Cron("0,* 1 * * *", tz=NY).preview(utc(2026, 11, 1, 5, 58), 4)
    assert [f.astimezone(NY).strftime("%H:%M%z") for f in fires] == [
        "01:59-0400",
        "01:00-0500",
        "01:01-0500",
        "01:02-0500",
    ]


# ----------------------------------------------------------------------- the end of time
END = datetime.max.replace(tzinfo=UTC)  # 9999-12-31 23:59:59.999999 UTC
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14: its year 9999 ends at 09:59:59 UTC


@pytest.mark.parametrize(
    ("expr", "tz", "after", "expected"),
    [
        ("0 9 * * *", UTC, END, None),
        ("0 9 * * *", UTC, utc(9999, 12, 31), utc(9999, 12, 31, 9)),
        ("0 9 * * *", UTC, utc(9999, 12, 31, 9), None),
        ("* * * * *", UTC, utc(9999, 12, 31, 23, 58), utc(9999, 12, 31, 23, 59)),
        ("* * * * *", UTC, utc(9999, 12, 31, 23, 59), None),
        ("59 59 23 31 12 *", UTC, utc(9999, 12, 31, 23, 59), END.replace(microsecond=0)),
        # New York's wall clock reaches 9999-12-31 18:59 when UTC's year ends.
        ("* * * * *", NY, utc(9999, 12, 31, 23, 58), utc(9999, 12, 31, 23, 59)),
        ("* * * * *", NY, utc(9999, 12, 31, 23, 59), None),
        ("0 22 * * *", NY, utc(9999, 12, 31, 12), None),  # 22:00 there is in year 10000 in UTC
        ("0 9 * * *", NY, END.replace(tzinfo=NY), None),  # an `after` past UTC's end
        # Kiritimati's wall clock reaches year 10000 first: its last fire is 09:59 UTC.
        ("* * * * *", KIRITIMATI, utc(9999, 12, 31, 9, 58), utc(9999, 12, 31, 9, 59)),
        ("* * * * *", KIRITIMATI, utc(9999, 12, 31, 9, 59), None),
        ("0 9 * * *", KIRITIMATI, utc(9999, 12, 31, 23, 58), None),
        ("@yearly", UTC, utc(9999, 1, 1), None),
        ("0 0 29 2 *", UTC, utc(9996, 3, 1), None),  # 9996 is the last leap year
    ],
)
def test_at_the_end_of_time_next_after_is_the_last_fire_or_none(
    expr: str, tz: ZoneInfo, after: datetime, expected: datetime | None
) -> None:
    assert tk.Cron(expr, tz=tz).next_after(after) == expected


def test_a_preview_near_the_end_of_time_lists_what_exists() -> None:
    fires = tk.Cron("* * * * *", tz=NY).preview(utc(9999, 12, 31, 23, 56), 10_000)
    assert fires == [utc(9999, 12, 31, 23, m) for m in (57, 58, 59)]
    assert tk.Cron("0 9 * * *").preview(END, 10_000) == []


def test_preview_count_is_bounded() -> None:
    with pytest.raises(tk.InvalidArgument, match=r"count must be from 0 to 10000, got 10000001"):
        tk.Cron("0 9 * * *").preview(END, 10_000_001)
