"""Interval, Once and Never: construction, validation and anchoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import turnkeeper_trio as tk

T = datetime(2026, 1, 1, tzinfo=UTC)


def test_interval_accepts_seconds_or_timedelta_and_named_constructors() -> None:
    assert tk.Interval(90).every == timedelta(seconds=90)
    assert tk.Interval(timedelta(minutes=2)).every == timedelta(minutes=2)
    assert tk.Interval.seconds(5).every == timedelta(seconds=5)
    assert tk.Interval.minutes(5).every == timedelta(minutes=5)
    assert tk.Interval.hours(1.5).every == timedelta(minutes=90)
    assert tk.Interval.days(1, start=T) == tk.Interval(86400, start=T)


def test_interval_without_start_is_anchored_when_given_to_the_scheduler() -> None:
    schedule = tk.Interval(60)
    bound = schedule.anchored(T)
    assert bound.start == T
    assert bound.first_after(T) == T + timedelta(seconds=60)
    assert bound.anchored(T + timedelta(hours=1)) is bound  # already anchored
    assert schedule.preview(T, 2) == [T + timedelta(seconds=60), T + timedelta(seconds=120)]


def test_interval_start_in_the_future_fires_at_start() -> None:
    schedule = tk.Interval(10, start=T)
    assert schedule.next_after(T - timedelta(days=1)) == T
    assert schedule.next_after(T) == T + timedelta(seconds=10)


def test_interval_counts_real_time_across_dst() -> None:
    ny = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 7, 12, 0, tzinfo=ny)
    schedule = tk.Interval(timedelta(days=1), start=start)
    nxt = schedule.next_after(start)
    assert nxt is not None
    assert nxt.timestamp() - start.timestamp() == 86400
    assert nxt.strftime("%H:%M") == "13:00"  # 24 real hours later, an hour later on the wall


@pytest.mark.parametrize(
    ("every", "error", "message"),
    [
        (0, tk.InvalidArgument, "every must be from 1 microsecond to 3,155,760,000 seconds"),
        (-5, tk.InvalidArgument, r"every must be from 1 microsecond to .*, got -5"),
        (float("nan"), tk.InvalidArgument, "every must be from 1 microsecond to"),
        (float("inf"), tk.InvalidArgument, r"\(100 years\), got inf"),
        ("5", TypeError, "every must be a number of seconds or a datetime.timedelta"),
        (True, TypeError, "every must be a number of seconds"),
        (timedelta(0), tk.InvalidArgument, "every must be from 1 microsecond to"),
    ],
)
def test_interval_rejects_bad_every(every: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        tk.Interval(every)  # type: ignore[arg-type]


def test_naive_datetimes_are_rejected_everywhere() -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(tk.InvalidArgument, match="start must be time-zone aware"):
        tk.Interval(5, start=naive)
    with pytest.raises(tk.InvalidArgument, match="at must be time-zone aware"):
        tk.Once(naive)
    with pytest.raises(tk.InvalidArgument, match="when must be time-zone aware"):
        tk.Until(naive)
    with pytest.raises(tk.InvalidArgument, match="after must be time-zone aware"):
        tk.Interval(5).next_after(naive)
    with pytest.raises(tk.InvalidArgument, match="after must be time-zone aware"):
        tk.Never().preview(naive)
    with pytest.raises(TypeError, match="at must be an aware datetime"):
        tk.Once("2026-01-01")  # type: ignore[arg-type]


def test_once_compares_instants_not_wall_times() -> None:
    ny = ZoneInfo("America/New_York")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ny, fold=0)  # 05:30 UTC
    second = datetime(2026, 11, 1, 1, 20, tzinfo=ny, fold=1)  # 06:20 UTC: later, smaller wall
    assert tk.Once(second).next_after(first) == second
    assert tk.Once(first).next_after(second) is None


def test_preview_validates_count() -> None:
    with pytest.raises(tk.InvalidArgument, match="count must be >= 0"):
        tk.Interval(5).preview(T, -1)
    assert tk.Interval(5, start=T).preview(T, 0) == []


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: tk.Interval.minutes(-5), tk.InvalidArgument, r"Interval\.minutes\(n\) must be "
         r"more than 0 and at most 52,596,000 minutes \(100 years\), got -5"),
        (lambda: tk.Interval.seconds(0), tk.InvalidArgument, r"Interval\.seconds\(n\) must be "
         r"from 1 microsecond to 3,155,760,000 seconds \(100 years\), got 0"),
        (lambda: tk.Interval.hours(10**6), tk.InvalidArgument, r"Interval\.hours\(n\) must be "
         r"more than 0 and at most 876,600 hours \(100 years\), got 1000000"),
        (lambda: tk.Interval.days(float("nan")), tk.InvalidArgument, r"Interval\.days\(n\) must "
         r"be more than 0 and at most 36,525 days"),
        (lambda: tk.Interval.days("1"),  # type: ignore[arg-type]
         TypeError, r"Interval\.days\(n\) must be a number of "
         r"days, got str '1'"),
        (lambda: tk.Interval.minutes(1e-9), tk.InvalidArgument, "at least 1 microsecond"),
    ],
)  # fmt: skip
def test_named_constructors_name_their_unit_and_range(
    make: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make()  # type: ignore[operator]


def test_named_constructors_accept_their_whole_range() -> None:
    assert tk.Interval.days(36525).every == timedelta(days=36525)
    assert tk.Interval.minutes(0.5).every == timedelta(seconds=30)


# ----------------------------------------------------------------------- the end of time
END = datetime.max.replace(tzinfo=UTC)
LAST_MINUTE = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
NY = ZoneInfo("America/New_York")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14: its year 9999 ends at 09:59:59 UTC


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        (tk.Interval(60, start=T), END, None),
        (tk.Interval(60, start=T), LAST_MINUTE - timedelta(seconds=1), LAST_MINUTE),
        (tk.Interval(60, start=T), LAST_MINUTE, None),
        (tk.Interval(60), LAST_MINUTE - timedelta(seconds=60), LAST_MINUTE),
        (tk.Interval(60), LAST_MINUTE, None),
        (tk.Interval(60, start=T), END.replace(tzinfo=NY), None),  # past year 9999 in UTC
        (tk.Interval(86400 * 36525, start=T), T, T + timedelta(days=36525)),
        (tk.Interval(86400 * 36525, start=datetime(9990, 1, 1, tzinfo=UTC)), LAST_MINUTE, None),
        # An instant whose wall time in the start's zone is past year 9999 is still given.
        (tk.Interval(60, start=datetime(9999, 12, 31, 9, tzinfo=KIRITIMATI)),
         LAST_MINUTE - timedelta(seconds=1), LAST_MINUTE),
        (tk.Once(END), END, None),
        (tk.Once(END), LAST_MINUTE, END),
        (tk.Once(T), END.replace(tzinfo=NY), None),
        (tk.Never(), END, None),
    ],
)  # fmt: skip
def test_at_the_end_of_time_next_after_is_none_or_the_last_instant(
    schedule: tk.abc.Schedule, after: datetime, expected: datetime | None
) -> None:
    assert schedule.next_after(after) == expected


def test_preview_stops_at_the_end_of_time_and_bounds_count() -> None:
    near_end = LAST_MINUTE - timedelta(minutes=3)
    assert tk.Interval(60, start=T).preview(near_end, 10_000) == [
        LAST_MINUTE - timedelta(minutes=2),
        LAST_MINUTE - timedelta(minutes=1),
        LAST_MINUTE,
    ]
    with pytest.raises(tk.InvalidArgument, match="count must be from 0 to 10000, got 1000000000"):
        tk.Interval(60, start=T).preview(T, 10**9)
    assert len(tk.Interval(1, start=T).preview(T, 10_000)) == 10_000
