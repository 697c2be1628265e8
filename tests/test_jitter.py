"""Jitter: starts spread over a window, deterministic per job key and occurrence.

Each occurrence starts at its instant plus an offset in ``[0, jitter)``, never at or past the
next occurrence; ``scheduled_for`` stays the instant; lateness and the misfire grace count
from the jittered start; replicas, restarts and previews agree on the offset.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

STARTS: list[tuple[str, datetime, datetime]] = []


@pytest.fixture(autouse=True)
def _starts() -> None:
    STARTS.clear()


async def note(label: str) -> None:
    """Record the job's nominal instant and the wall time it started at."""
    context = tk.current_job()
    STARTS.append((label, context.scheduled_for, WALL.now()))


WALL = MockWallClock(START)


@pytest.fixture
def wall() -> MockWallClock:
    global WALL
    WALL = MockWallClock(START)
    return WALL


async def test_starts_are_spread_within_the_window_and_scheduled_for_stays_nominal(
    autojump_clock: Any, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=20, wall_clock=wall) as s:
        for n in range(20):
            await s.add_job(tk.Cron("0 * * * *"), note, f"j{n}", key=f"j{n}", jitter=600)
        await trio.sleep(3 * 3600 + 600)
    assert len(STARTS) == 60
    offsets = [(started - nominal).total_seconds() for _, nominal, started in STARTS]
    assert all(0 <= offset < 600 for offset in offsets)
    assert all(nominal.minute == 0 and nominal.second == 0 for _, nominal, _ in STARTS)
    assert len({round(offset, 3) for offset in offsets}) == 60  # spread, not one start
    # The same job gets another offset for each occurrence.
    first = [round((st - nom).total_seconds(), 3) for label, nom, st in STARTS if label == "j0"]
    assert len(set(first)) == 3


async def test_a_start_never_reaches_the_next_occurrence(
    autojump_clock: Any, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=4, wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(10), note, "fast", key="fast", jitter=3600)
        assert s.get_job_details(job).jitter == 3600
        await trio.sleep(200)
    nominal = [n for _, n, _ in STARTS]
    assert nominal == sorted(nominal)
    for _, scheduled_for, started in STARTS:
        assert 0 <= (started - scheduled_for).total_seconds() < 10


async def test_next_run_at_is_the_jittered_start_and_replicas_agree(
    autojump_clock: Any, wall: MockWallClock
) -> None:
    shown = []
    for _ in range(2):  # two schedulers, as two replicas or two lives of a process
        async with tk.open_scheduler(max_workers=1, wall_clock=MockWallClock(START)) as s:
            job = await s.add_job(tk.Cron("0 9 * * *"), note, "x", key="daily", jitter=1800)
            await trio.sleep(1)  # planned (add_job may return while the job is staged)
            shown.append(s.get_job_details(job).next_run_at)
            await s.cancel_job(job)
    first, second = shown
    assert first == second
    assert first is not None
    nominal = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    assert timedelta(0) <= first - nominal < timedelta(seconds=1800)
    # Another key, another offset.
    async with tk.open_scheduler(max_workers=1, wall_clock=MockWallClock(START)) as s:
        other = await s.add_job(tk.Cron("0 9 * * *"), note, "x", key="other", jitter=1800)
        await trio.sleep(1)
        assert s.get_job_details(other).next_run_at != first


async def test_lateness_and_the_misfire_grace_count_from_the_jittered_start(
    autojump_clock: Any, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(
            tk.Interval(60), note, "x", key="k", jitter=50, misfire=tk.Coalesce(grace=1)
        )
        await trio.sleep(660)
        metrics = s.get_metrics_snapshot()
    assert len(STARTS) == 10  # none dropped as later than the 1 s grace
    assert metrics.misfires == 0
    assert metrics.runs_late == 0
    assert metrics.dispatch_lateness.max < 0.01


async def test_update_job_changes_the_jitter_of_the_waiting_occurrence(
    autojump_clock: Any, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Cron("0 9 * * *"), note, "x", key="k")
        await trio.sleep(1)
        nominal = s.get_job_details(job).next_run_at
        await s.update_job(job, jitter=timedelta(minutes=30))
        jittered = s.get_job_details(job).next_run_at
        assert nominal is not None
        assert jittered is not None
        assert timedelta(0) < jittered - nominal < timedelta(minutes=30)
        await trio.sleep((jittered - wall.now()).total_seconds() + 1)
        assert [started for _, _, started in STARTS] == [jittered]
        await s.update_job(job, jitter=None)
        details = s.get_job_details(job)
        assert details.jitter == 0
        assert details.next_run_at == datetime(2026, 1, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("jitter", "error"),
    [
        (-1, tk.InvalidArgument),
        (86_401, tk.InvalidArgument),
        (math.nan, ValueError),
        ("5", TypeError),
    ],
)
async def test_bad_jitter_is_refused_naming_it(
    jitter: Any, error: type[Exception], autojump_clock: Any
) -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        with pytest.raises(error, match="jitter"):
            await s.add_job(tk.Interval(60), note, "x", jitter=jitter)
        result = await s.add_jobs([tk.JobRequest(tk.Interval(60), note, "x", jitter=jitter)])
        assert len(result.refused) == 1
        job = await s.add_job(tk.Interval(60), note, "x")
        with pytest.raises(error, match="jitter"):
            await s.update_job(job, jitter=jitter)


async def test_jitter_is_stored_and_a_restart_starts_at_the_same_instant(tmp_path: Path) -> None:
    wall = MockWallClock(START)
    path = tmp_path / "jobs.db"
    async with tk.open_scheduler(max_workers=1, store=tk.SQLiteStore(path), wall_clock=wall) as s:
        job = await s.add_job(tk.Cron("0 9 * * *"), note, "x", key="daily", jitter=1800)
        before = s.get_job_details(job).next_run_at
    async with tk.open_scheduler(
        max_workers=1, store=tk.SQLiteStore(path), wall_clock=wall, functions=[note]
    ) as s:
        (summary,) = s.list_all_jobs()
        details = s.get_job_details(summary.id)
        assert details.jitter == 1800
        assert details.next_run_at == before


def cli_next_json(*args: str) -> Any:
    """``python -m turnkeeper_trio next ... --json``, as a person would run it."""
    command = [sys.executable, "-m", "turnkeeper_trio", "next", *args, "--json"]
    return json.loads(subprocess.run(command, capture_output=True, check=True, text=True).stdout)


async def test_the_cli_previews_the_same_jittered_starts_as_the_scheduler(
    autojump_clock: Any,
) -> None:
    paris = ZoneInfo("Europe/Paris")
    after = datetime(2027, 1, 4, 0, 0, tzinfo=paris)
    shown = cli_next_json(
        "0 9 * * *",
        "--tz",
        "Europe/Paris",
        "--after",
        after.isoformat(),
        "-n",
        "1",
        "--jitter",
        "1800",
        "--key",
        "daily-report",
    )
    async with tk.open_scheduler(max_workers=1, wall_clock=MockWallClock(after)) as s:
        job = await s.add_job(
            tk.Cron("0 9 * * *", tz=paris), note, "x", key="daily-report", jitter=1800
        )
        await trio.sleep(1)
        planned = s.get_job_details(job).next_run_at
    assert planned is not None
    assert datetime.fromisoformat(shown["fires"][0]["start"]) == planned
