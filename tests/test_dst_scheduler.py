"""A running scheduler across DST transitions, on the autojump clock and a mock wall clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

NY = ZoneInfo("America/New_York")


async def _run_for_two_days(start: datetime, schedule: tk.abc.Schedule) -> list[tuple[str, str]]:
    wall = MockWallClock(start)
    seen: list[tuple[str, str]] = []

    async def job() -> None:
        scheduled = tk.current_job().scheduled_for.astimezone(UTC)
        seen.append(
            (scheduled.strftime("%m-%d %H:%M"), wall.now().astimezone(UTC).strftime("%m-%d %H:%M"))
        )

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(schedule, job)
        await trio.sleep(2 * 86400)
    return seen


async def test_weekday_job_across_the_spring_gap(autojump_clock: object) -> None:
    # Sunday 2026-03-08, 02:30 does not exist in New York: it runs once at 03:00 EDT.
    schedule = tk.WeekdayTimes([("sun", "02:30"), ("mon", "02:30")], tz=NY)
    seen = await _run_for_two_days(datetime(2026, 3, 7, 12, tzinfo=UTC), schedule)
    assert seen == [("03-08 07:00", "03-08 07:00"), ("03-09 06:30", "03-09 06:30")]


async def test_weekday_job_across_the_fall_back_hour(autojump_clock: object) -> None:
    # Sunday 2026-11-01, 01:30 happens twice: the job runs once, at the first (EDT).
    schedule = tk.WeekdayTimes([("sun", "01:30"), ("mon", "01:30")], tz=NY)
    seen = await _run_for_two_days(datetime(2026, 10, 31, 12, tzinfo=UTC), schedule)
    assert seen == [("11-01 05:30", "11-01 05:30"), ("11-02 06:30", "11-02 06:30")]


async def test_fixed_cron_job_across_both_transitions(autojump_clock: object) -> None:
    spring = await _run_for_two_days(
        datetime(2026, 3, 7, 12, tzinfo=UTC), tk.Cron("30 2 * * *", tz=NY)
    )
    assert [s for s, _ in spring] == ["03-08 07:00", "03-09 06:30"]
    fall = await _run_for_two_days(
        datetime(2026, 10, 31, 12, tzinfo=UTC), tk.Cron("30 1 * * *", tz=NY)
    )
    assert [s for s, _ in fall] == ["11-01 05:30", "11-02 06:30"]


async def test_wildcard_cron_job_runs_both_passes_and_skips_the_gap(autojump_clock: object) -> None:
    fall = await _run_for_two_days(
        datetime(2026, 11, 1, 4, tzinfo=UTC), tk.Cron("30 * * * *", tz=NY)
    )
    assert [s for s, _ in fall][:4] == ["11-01 04:30", "11-01 05:30", "11-01 06:30", "11-01 07:30"]
    # 00:30 EDT, 01:30 EDT, 01:30 EST, 02:30 EST: 48 runs in 48 real hours.
    assert len(fall) == 48
    spring = await _run_for_two_days(
        datetime(2026, 3, 8, 5, tzinfo=UTC), tk.Cron("30 * * * *", tz=NY)
    )
    # 00:30 EST, 01:30 EST, (02:30 does not exist), 03:30 EDT, ...
    assert [s for s, _ in spring][:3] == ["03-08 05:30", "03-08 06:30", "03-08 07:30"]
    assert len(spring) == 48
