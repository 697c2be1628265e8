"""Wall clocks, and scheduler behaviour when the wall clock jumps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START


async def test_mock_wall_clock_follows_trio_time_and_jumps(autojump_clock: object) -> None:
    clock = MockWallClock(START)
    assert clock.now() == START
    await trio.sleep(90)
    assert clock.now() == START + timedelta(seconds=90)
    clock.jump(-30)
    assert clock.now() == START + timedelta(seconds=60)
    clock.jump(timedelta(hours=1))
    assert clock.now() == START + timedelta(seconds=3660)
    with pytest.raises(tk.InvalidArgument, match="finite"):
        clock.jump(float("inf"))
    with pytest.raises(TypeError, match="seconds must be a number"):
        clock.jump("1h")  # type: ignore[arg-type]


async def test_mock_wall_clock_adds_real_time_across_dst(autojump_clock: object) -> None:
    ny = ZoneInfo("America/New_York")
    clock = MockWallClock(datetime(2026, 3, 8, 1, 30, tzinfo=ny))
    await trio.sleep(3600)
    now = clock.now()
    assert now.isoformat() == "2026-03-08T03:30:00-04:00"  # one real hour later, across the gap
    assert now.tzinfo is ny


def _run_offsets(seen: list[tuple[datetime, datetime]]) -> list[float]:
    return [(scheduled - START).total_seconds() / 60 for scheduled, _ in seen]


@pytest.mark.parametrize("jump", [timedelta(minutes=30), timedelta(hours=3), timedelta(days=1)])
async def test_forward_jump_coalesces_missed_runs(
    autojump_clock: object, wall: MockWallClock, jump: timedelta, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[datetime, datetime]] = []

    async def job() -> None:
        seen.append((tk.current_job().scheduled_for, wall.now()))

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Cron("*/10 * * * *"), job)  # 12:10, 12:20, ...
        await trio.sleep(15 * 60 + 30)
        wall.jump(jump)
        await trio.sleep(16 * 60)
        metrics = s.get_metrics_snapshot()
    minutes = jump.total_seconds() / 60
    # The jump is noticed at the next capped wake-up (max_sleep = 60 s), at 12:16 + jump on
    # the wall: the occurrences in (12:10, 12:16 + jump] are due; the newest runs, the others
    # are counted as misfires.  Then the schedule continues on its grid.
    latest = (16 + minutes) // 10 * 10
    missed = (latest - 10) // 10
    assert _run_offsets(seen)[:3] == [10, latest, latest + 10]
    assert (seen[1][1] - START).total_seconds() == (16 + minutes) * 60
    assert metrics.misfires == missed - 1
    assert metrics.clock_jumps == 1
    assert all(started >= scheduled for scheduled, started in seen), "no early fire"
    assert any(
        "wall clock jumped" in r.message and r.levelno == logging.WARNING for r in caplog.records
    )


@pytest.mark.parametrize("jump", [timedelta(minutes=30), timedelta(hours=3), timedelta(days=1)])
async def test_backward_jump_never_fires_twice_or_early(
    autojump_clock: object, wall: MockWallClock, jump: timedelta
) -> None:
    seen: list[tuple[datetime, datetime]] = []

    async def job() -> None:
        seen.append((tk.current_job().scheduled_for, wall.now()))

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Cron("*/10 * * * *"), job)
        await trio.sleep(15 * 60)  # ran for 12:10
        wall.jump(-jump)  # the wall clock now reads 12:15 - jump
        t_jump = trio.current_time()
        await trio.sleep(jump.total_seconds() + 20 * 60)
        metrics = s.get_metrics_snapshot()
        job_runs = s.list_all_jobs()
    assert job_runs[0].state is tk.JobState.SCHEDULED
    # 12:10 is not repeated; 12:20 runs when the wall clock reads 12:20 again.
    assert _run_offsets(seen) == [10, 20, 30]
    assert all(started >= scheduled for scheduled, started in seen), "no early fire"
    assert len({scheduled for scheduled, _ in seen}) == len(seen), "no double fire"
    first_after_jump = (seen[1][1] - START).total_seconds()
    assert first_after_jump == 20 * 60
    assert metrics.misfires == 0
    assert metrics.clock_jumps == 1
    assert t_jump > 0


async def test_resume_after_a_backward_jump_does_not_repeat_the_last_fire(
    autojump_clock: object, wall: MockWallClock
) -> None:
    seen: list[datetime] = []

    async def job() -> None:
        seen.append(tk.current_job().scheduled_for)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Cron("*/10 * * * *"), job)
        await trio.sleep(11 * 60)  # ran for 12:10
        await s.pause_job(job_id)
        wall.jump(timedelta(minutes=-30))  # wall 11:41
        await s.resume_job(job_id)  # next after max(now, last fire) = 12:20, not 11:50
        await trio.sleep(45 * 60)  # until wall 12:26
    assert [(x - START).total_seconds() / 60 for x in seen] == [10, 20]


async def test_sleeps_are_capped_so_jumps_are_noticed(autojump_clock: object) -> None:
    wall = MockWallClock(datetime(2026, 1, 1, tzinfo=UTC))
    seen: list[datetime] = []

    async def job() -> None:
        seen.append(wall.now())

    async with tk.open_scheduler(max_workers=1, wall_clock=wall, max_sleep=5) as s:
        await s.add_job(tk.Once(datetime(2026, 1, 1, 1, tzinfo=UTC)), job)  # an hour away
        await trio.sleep(1)
        wall.jump(3600)  # now it is due
        await trio.sleep(10)
    # Noticed at the next capped wake-up, within max_sleep: not an hour later.
    assert len(seen) == 1
    assert trio.current_time() >= 5
    assert (seen[0] - datetime(2026, 1, 1, 1, tzinfo=UTC)).total_seconds() <= 5


def test_the_in_trio_run_fallback_for_older_trio_tells_inside_from_outside() -> None:
    from turnkeeper_trio._compat import _in_trio_run, in_trio_run

    async def inside() -> tuple[bool, bool]:
        return _in_trio_run(), in_trio_run()

    assert trio.run(inside) == (True, True)
    assert (_in_trio_run(), in_trio_run()) == (False, False)
