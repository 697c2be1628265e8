"""Unions (``a | b``, ``AnyOf``) and windows (``between``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .test_schedule_properties import PROPERTY, crons

PARIS = ZoneInfo("Europe/Paris")


def test_a_union_fires_at_each_instant_once() -> None:
    union = tk.Cron("0 9 * * *", tz=PARIS) | tk.Cron("0 9,18 * * *", tz=PARIS)
    assert isinstance(union, tk.AnyOf)
    fires = union.preview(datetime(2026, 5, 1, tzinfo=PARIS), 3)
    assert [f.isoformat() for f in fires] == [
        "2026-05-01T09:00:00+02:00",
        "2026-05-01T18:00:00+02:00",
        "2026-05-02T09:00:00+02:00",
    ]


def test_unions_flatten_and_anchor() -> None:
    a, b, c = tk.Cron("0 1 * * *"), tk.Interval(3600), tk.Never()
    assert (a | b) | c == tk.AnyOf(a, b, c)
    now = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    anchored = (a | b).anchored(now)
    assert anchored.next_after(now) == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    assert anchored.next_after(datetime(2026, 1, 1, 1, tzinfo=UTC)) == datetime(
        2026, 1, 1, 1, 30, tzinfo=UTC
    )


@PROPERTY
@given(
    first=crons(),
    second=crons(),
    after=st.datetimes(datetime(2024, 1, 1), datetime(2028, 1, 1)),
)
def test_a_union_is_the_merged_fires(first: str, second: str, after: datetime) -> None:
    a, b = tk.Cron(first, tz=PARIS), tk.Cron(second, tz=PARIS)
    start = after.replace(tzinfo=UTC)
    merged = sorted({f.timestamp() for s in (a, b) for f in s.preview(start, 5)})[:5]
    assert [f.timestamp() for f in (a | b).preview(start, 5)] == merged


def test_between_limits_to_the_window() -> None:
    start = datetime(2026, 1, 1, 10, tzinfo=UTC)
    window = tk.Cron("0 * * * *").between(start, start + timedelta(hours=2))
    assert window.preview(datetime(2025, 1, 1, tzinfo=UTC), 10) == [
        start,
        start + timedelta(hours=1),
        start + timedelta(hours=2),
    ]
    assert window.next_after(start + timedelta(hours=2)) is None


def test_between_keeps_a_past_once_inside_the_window() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    window = tk.Once(at).between(at - timedelta(days=1), at + timedelta(days=1))
    assert window.first_after(at + timedelta(hours=1)) == at + timedelta(hours=1)
    outside = tk.Once(at).between(at + timedelta(days=1), at + timedelta(days=2))
    assert outside.first_after(at - timedelta(hours=1)) is None


def test_bad_windows_and_unions_are_refused() -> None:
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(tk.InvalidArgument, match="start"):
        tk.Cron("0 * * * *").between(datetime(2026, 1, 1), aware)
    with pytest.raises(tk.InvalidArgument, match="end"):
        tk.Cron("0 * * * *").between(aware, datetime(2026, 1, 2))
    with pytest.raises(tk.InvalidSchedule, match="start"):
        tk.Cron("0 * * * *").between(aware, aware)
    with pytest.raises(tk.InvalidSchedule, match="at least one"):
        tk.AnyOf()
    with pytest.raises(TypeError, match=r"schedules\[1\]"):
        tk.AnyOf(tk.Never(), "0 * * * *")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tk.Never() | "0 * * * *"


async def test_a_scheduler_runs_a_union_with_exclusions_and_a_window(
    autojump_clock: object, wall: MockWallClock
) -> None:

    now = wall.now()
    schedule = (
        (tk.Cron("0 9 * * *") | tk.Cron("0 18 * * *"))
        .excluding(tk.Weekdays("sat", "sun"))
        .between(now, now + timedelta(days=7))
    )
    expected = schedule.preview(now, 100)
    seen: list[datetime] = []

    async def job() -> None:
        seen.append(wall.now())

    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        await s.add_job(schedule, job)
        await trio.sleep(8 * 86400)
    assert len(seen) == len(expected) > 0
    for got, want in zip(seen, expected, strict=True):
        assert abs(got.timestamp() - want.timestamp()) < 1
