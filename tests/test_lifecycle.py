"""The lifecycle rules under interleavings: lifetimes, updates, cancels, pauses, the heap.

Each test reproduces a reported defect at the public API, on the mock clocks: the rule held
on the path the other tests walk and broke on this one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
import trio
import trio.testing

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


class Log:
    """Records (label, trio time, scheduled_for offset, attempt) for every run."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, float, float, int]] = []

    def make(
        self, label: str, *, sleep: float = 0.0, result: object = None
    ) -> Callable[..., Awaitable[object]]:
        async def job(*args: object) -> object:
            ctx = tk.current_job()
            offset = (ctx.scheduled_for - START).total_seconds()
            self.runs.append((label, trio.current_time(), offset, ctx.attempt))
            if sleep:
                await trio.sleep(sleep)
            return result

        return job

    def labels(self) -> list[str]:
        return [label for label, *_ in self.runs]


# ----------------------------------------------------------------------------- lifetimes


async def test_a_trigger_counts_against_max_runs(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(10), log.make("run"), lifetime=tk.MaxRuns(1))
        await trio.sleep(1)
        await s.trigger_job(job)
        await trio.sleep(60)
    assert len(log.runs) == 1
    assert s.get_job_details(job).state is tk.JobState.COMPLETED


async def test_a_trigger_only_job_completes_after_its_max_runs(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Never(), log.make("run"), lifetime=tk.MaxRuns(2))
        for _ in range(2):
            await s.trigger_job(job)
            await trio.sleep(1)
        assert s.get_job_details(job).state is tk.JobState.COMPLETED
        with pytest.raises(tk.JobFinished):
            await s.trigger_job(job)
    assert len(log.runs) == 2


async def test_lowering_max_runs_below_the_runs_so_far_ends_the_job(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(10), log.make("run"))
        await trio.sleep(21)
        await s.update_job(job, lifetime=tk.MaxRuns(2))
        assert s.get_job_details(job).state is tk.JobState.COMPLETED
        await trio.sleep(60)
    assert len(log.runs) == 2


async def test_until_holds_after_a_forward_clock_jump(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(
            tk.Interval(60), log.make("run"), lifetime=tk.Until(START + timedelta(minutes=5))
        )
        await trio.sleep(250)  # runs at 60, 120, 180, 240
        wall.jump(3600)
        await trio.sleep(120)
    assert [offset for _, _, offset, _ in log.runs] == [60, 120, 180, 240]
    assert s.get_job_details(job).state is tk.JobState.COMPLETED


@pytest.mark.parametrize("how", ["update", "pause and resume"])
async def test_an_occurrence_whose_retry_was_dropped_counts_against_max_runs(
    autojump_clock: object, wall: MockWallClock, how: str
) -> None:
    # Found by the scarce-workers model: dropping the pending retry ended the occurrence
    # without counting it, so MaxRuns(1) let a second occurrence run.
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(
            tk.Interval(10),
            log.make("run", result=False),
            retry=tk.FixedDelay(3, 5),
            lifetime=tk.MaxRuns(1),
        )
        await trio.sleep(12)  # attempt 1 failed at 10; its retry waits until 15
        if how == "update":
            await s.update_job(job, schedule=tk.Interval(4))
        else:
            await s.pause_job(job)
            await s.resume_job(job)
        await trio.sleep(60)
        details = s.get_job_details(job)
    assert log.runs == [("run", 10.0, 10.0, 1)]
    assert details.runs == 1
    assert details.state is tk.JobState.COMPLETED


# ------------------------------------------------------------------------------- updates


async def test_an_update_reaches_a_run_waiting_for_a_worker(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Once(at(1)), log.make("blocker", sleep=100))
        victim = await s.add_job(tk.Interval(10), log.make("old"), timeout=1)
        await trio.sleep(20)  # the victim's run for 10 waits for the worker
        await s.update_job(victim, async_fn=log.make("new", sleep=5), timeout=30)
        await trio.sleep(90)
    assert log.labels()[:2] == ["blocker", "new"]
    record = s.get_job_details(victim).last_runs[0]
    assert record.outcome is tk.Outcome.SUCCEEDED  # the new timeout (30 s) applied


async def test_a_new_schedule_drops_the_old_occurrence_waiting_for_a_worker(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Once(at(1)), log.make("blocker", sleep=100))
        victim = await s.add_job(tk.Interval(10), log.make("victim"))
        await trio.sleep(20)
        await s.update_job(victim, schedule=tk.Once(at(150)))
        await trio.sleep(200)
    victim_runs = [offset for label, _, offset, _ in log.runs if label == "victim"]
    assert victim_runs == [150]


async def test_a_new_schedule_on_a_running_job_shows_its_next_run_at_once(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(10), log.make("run", sleep=8))
        await trio.sleep(15)  # running from 10 to 18
        assert s.get_job_details(job).state is tk.JobState.RUNNING
        await s.update_job(job, schedule=tk.Interval(10))  # anchored now, at 15
        assert s.get_job_details(job).next_run_at == at(25)
        await trio.sleep(30)
    assert [offset for _, _, offset, _ in log.runs] == [10, 25, 35]


async def test_resume_while_running_plans_from_the_resume(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(10), log.make("run", sleep=8))
        await trio.sleep(12)
        await s.pause_job(job)
        await trio.sleep(3)
        await s.resume_job(job)  # at 15, while the attempt from 10 still runs
        assert s.get_job_details(job).next_run_at == at(20)
        await trio.sleep(10)
    assert [offset for _, _, offset, _ in log.runs] == [10, 20]


async def test_updating_to_a_once_before_the_last_run_runs_it_once_and_completes(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(10), log.make("run"))
        await trio.sleep(25)
        await s.update_job(job, schedule=tk.Once(at(5)))
        await trio.sleep(10)
        details = s.get_job_details(job)
    assert details.state is tk.JobState.COMPLETED
    assert details.next_run_at is None
    assert [offset for _, _, offset, _ in log.runs] == [10, 20, 25]


# ------------------------------------------------------------------------ cancel, pause


async def test_cancel_with_interrupt_after_a_plain_cancel_interrupts(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Once(at(1)), log.make("long", sleep=1000))
        await trio.sleep(2)
        await s.cancel_job(job)
        await trio.sleep(1)
        assert s.get_job_details(job).counts.total == 0  # still running
        await s.cancel_job(job, interrupt=True)
        await trio.sleep(1)
        details = s.get_job_details(job)
    assert details.state is tk.JobState.CANCELLED
    assert [r.outcome for r in details.last_runs] == [tk.Outcome.CANCELLED]


async def test_pause_drops_a_retry_already_handed_to_a_worker(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, dispatch_buffer_size=1, wall_clock=wall) as s:
        flaky = await s.add_job(
            tk.Interval(1000), log.make("flaky", result=False), retry=tk.FixedDelay(4, 5)
        )
        await s.add_job(tk.Once(at(1002)), log.make("blocker", sleep=100))
        await trio.sleep(1004)  # attempt 1 failed at 1000; the retry (1005) waits in the buffer
        await trio.sleep(2)
        await s.pause_job(flaky)
        await s.resume_job(flaky)
        await trio.sleep(150)
    attempts = [attempt for label, _, offset, attempt in log.runs if label == "flaky"]
    assert attempts == [1]


# ---------------------------------------------------------------------------- the heap


@pytest.mark.parametrize("queue", [tk.HeapQueue, tk.IndexedHeapQueue])
async def test_stale_entries_stay_bounded_under_many_updates(
    autojump_clock: object, wall: MockWallClock, queue: type[tk.abc.JobQueue]
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, queue=queue()) as s:
        job = await s.add_job(tk.Interval(3600), Log().make("x"))
        for i in range(20_000):
            await s.update_job(job, schedule=tk.Interval(3600 + i % 7))
            assert s.get_metrics_snapshot().queue_stale_entries <= 2 * 1 + 1000
        assert s.get_job_details(job).state is tk.JobState.SCHEDULED


async def test_a_once_paused_while_it_runs_never_runs_again_and_completes_after_it(
    autojump_clock: object, wall: MockWallClock
) -> None:
    # Resume planned the Once afresh ("in the past: as soon as possible"), so it ran twice;
    # and the job showed COMPLETED while its attempt was still running.
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Once(at(10)), log.make("run", sleep=20))
        await trio.sleep(15)
        await s.pause_job(job)
        await s.resume_job(job)  # the Once has fired: nothing left to plan
        assert s.get_job_details(job).state is tk.JobState.RUNNING
        await trio.sleep(20)
        assert s.get_job_details(job).state is tk.JobState.COMPLETED
    assert len(log.runs) == 1


async def test_a_new_interval_on_a_paused_job_is_anchored_at_the_update(
    autojump_clock: object, wall: MockWallClock
) -> None:
    log = Log()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(100), log.make("run"))
        await s.pause_job(job)
        await trio.sleep(3)
        await s.update_job(job, schedule=tk.Interval(10))  # anchored at +3: +13, +23, ...
        details = s.get_job_details(job)
        assert details.schedule == tk.Interval(10, start=at(3))
        assert details.next_run_at is None  # paused
        await trio.sleep(14)
        await s.resume_job(job)  # at +17: the first instant of the grid after it
        assert s.get_job_details(job).next_run_at == at(23)
        await trio.sleep(20)
        await s.cancel_job(job)
    assert [(label, offset) for label, _, offset, _ in log.runs] == [("run", 23), ("run", 33)]
