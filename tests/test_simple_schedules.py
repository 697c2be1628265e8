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
        (0, tk.InvalidArgument, "every must be > 0"),
        (-5, tk.InvalidArgument, "every must be > 0"),
        (float("nan"), tk.InvalidArgument, "every must be > 0"),
        (float("inf"), tk.InvalidArgument, "every must be finite"),
        ("5", TypeError, "every must be a number of seconds"),
        (True, TypeError, "every must be a number of seconds"),
        (timedelta(0), tk.InvalidArgument, "every must be > 0"),
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
