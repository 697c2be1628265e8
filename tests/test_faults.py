"""Fault injection: what misbehaving jobs and user-supplied policies do to the scheduler.

Rows covered elsewhere: an ``Exception``, an ``ExceptionGroup``, a non-bool result, a timeout
and a job swallowing cancellation (test_worker.py); ``KeyboardInterrupt``, ``SystemExit``,
graceful-timeout, forced shutdown and shutdown from inside a job (test_shutdown.py);
interrupting a running job (test_scheduler.py).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import trio
import trio.testing

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START, Recorder


async def test_a_job_that_blocks_the_event_loop(
    autojump_clock: trio.testing.MockClock, wall: MockWallClock
) -> None:
    others = Recorder(wall)

    async def blocker() -> None:
        # Stands for 200 ms of blocking work: both clocks move while no task can run.
        autojump_clock.jump(0.2)
        time.sleep(0)  # noqa: ASYNC251 - the blocking call this test is about

    async with tk.open_scheduler(max_workers=2, wall_clock=wall, late_threshold=0.05) as s:
        await s.add_job(tk.Once(START + timedelta(seconds=1)), blocker)
        for _ in range(3):
            await s.add_job(tk.Once(START + timedelta(seconds=1.1)), others)
        await trio.sleep(5)
        metrics = s.get_metrics_snapshot()
    assert len(others.calls) == 3  # nothing lost
    assert metrics.runs_succeeded == 4
    # Due at 1.1, they could start only once the loop ran again, at 1.2: late, and counted.
    assert metrics.dispatch_lateness.max >= 0.1 - 1e-9
    assert metrics.runs_late == 3


async def test_a_job_that_adds_and_cancels_other_jobs(
    autojump_clock: object, wall: MockWallClock
) -> None:
    child = Recorder(wall)
    victim = Recorder(wall)
    ids: dict[str, tk.JobId] = {}

    async def organiser() -> None:
        ids["child"] = await scheduler[0].add_job(tk.Interval(10), child)
        await scheduler[0].cancel_job(ids["victim"])
        await scheduler[0].trigger_job(ids["child"])

    scheduler: list[tk.Scheduler] = []
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        scheduler.append(s)
        ids["victim"] = await s.add_job(tk.Interval(10), victim)
        await s.add_job(tk.Once(START + timedelta(seconds=5)), organiser)
        await trio.sleep(26)
        assert s.get_job_details(ids["victim"]).state is tk.JobState.CANCELLED
    assert victim.calls == []
    assert [when - START for when in child.times] == [
        timedelta(seconds=5),
        timedelta(seconds=15),
        timedelta(seconds=25),
    ]


class ExplodingSchedule(tk.abc.Schedule):
    """Fires once, then raises when asked for the next time."""

    def __init__(self, first: datetime) -> None:
        self.first = first

    def next_after(self, after: datetime) -> datetime | None:
        if after < self.first:
            return self.first
        raise RuntimeError("schedule bug")


class ExplodingRetry(tk.abc.RetryPolicy):
    """A retry policy with a bug."""

    def next_delay(self, failed_attempt: int) -> float | None:
        raise ZeroDivisionError("retry bug")


async def test_a_custom_schedule_that_raises_fails_only_its_job(
    autojump_clock: object, wall: MockWallClock
) -> None:
    healthy = Recorder(wall)
    broken = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        bad = await s.add_job(ExplodingSchedule(START + timedelta(seconds=1)), broken)
        await s.add_job(tk.Interval(10), healthy)
        await trio.sleep(35)
        details = s.get_job_details(bad)
    assert len(broken.calls) == 1
    assert details.state is tk.JobState.FAILED
    assert details.error is not None
    assert details.error.type == "RuntimeError"
    assert "schedule bug" in details.error.message
    assert len(healthy.calls) == 3


async def test_a_custom_retry_policy_that_raises_fails_only_its_job(
    autojump_clock: object, wall: MockWallClock
) -> None:
    healthy = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        bad = await s.add_job(tk.Interval(5), Recorder(wall, [False]), retry=ExplodingRetry())
        await s.add_job(tk.Interval(10), healthy)
        await trio.sleep(35)
        details = s.get_job_details(bad)
    assert details.state is tk.JobState.FAILED
    assert details.error is not None
    assert details.error.type == "ZeroDivisionError"
    assert [r.outcome for r in details.last_runs] == [tk.Outcome.FAILED]
    assert len(healthy.calls) == 3


async def test_a_schedule_that_raises_at_once_fails_the_job_when_added(
    autojump_clock: object, wall: MockWallClock
) -> None:
    class Broken(tk.abc.Schedule):
        def next_after(self, after: datetime) -> datetime | None:
            raise ValueError("broken from the start")

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(Broken(), Recorder(wall))
        await trio.sleep(1)
        assert s.get_job_details(job_id).state is tk.JobState.FAILED
        assert s.get_metrics_snapshot().jobs_scheduled == 0
