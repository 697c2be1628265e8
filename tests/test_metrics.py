"""Metrics: counters that match the runs observed, and the histograms."""

from __future__ import annotations

from datetime import timedelta

import pytest
import trio
import trio.testing

import turnkeeper_trio as tk
from turnkeeper_trio._metrics import BUCKETS, _Accumulator
from turnkeeper_trio.testing import MockWallClock

from .conftest import START, Recorder


def test_histogram_buckets_and_quantiles() -> None:
    acc = _Accumulator()
    for value in [0.0005] * 50 + [0.003] * 40 + [0.2] * 9 + [42.0]:
        acc.add(value)
    agg = acc.freeze()
    counts = dict(agg.buckets)
    assert counts[0.001] == 50
    assert counts[0.005] == 40
    assert counts[0.5] == 9
    assert counts[60.0] == 1
    assert sum(counts.values()) == agg.count == 100
    assert agg.quantile(0.5) == 0.001
    assert agg.quantile(0.9) == 0.005
    assert agg.quantile(0.99) == 0.5
    assert agg.quantile(1.0) == 42.0  # capped at the maximum
    assert agg.max == 42.0
    assert agg.mean == pytest.approx((0.025 + 0.12 + 1.8 + 42) / 100)
    with pytest.raises(tk.InvalidArgument, match="q must be"):
        agg.quantile(0)
    assert tk.Aggregate().quantile(0.5) == 0.0
    assert [bound for bound, _ in agg.buckets] == list(BUCKETS)


async def test_counters_match_a_mixed_workload(autojump_clock: object, wall: MockWallClock) -> None:
    # Expected counts are worked out by hand from the scripts below.
    ok = Recorder(wall)  # Interval(10) for 35 s: 3 successes
    flaky = Recorder(wall, [False, True, ValueError("x"), False])  # two occurrences, retried once

    async def slow() -> None:
        await trio.sleep(2)

    async with tk.open_scheduler(max_workers=4, wall_clock=wall) as s:
        await s.add_job(tk.Interval(10), ok)
        await s.add_job(tk.Interval(15), flaky, retry=tk.FixedDelay(1, 1))
        await s.add_job(tk.Once(START + timedelta(seconds=5)), slow, timeout=1)
        never = await s.add_job(tk.Never(), ok)
        await s.trigger_job(never)
        await trio.sleep(35)
        m = s.get_metrics_snapshot()
        assert m.jobs_submitted == 4
        assert m.jobs_scheduled == 3  # the Once job completed
        assert m.jobs_completed == 1
        assert m.runs_started == 3 + 1 + 4 + 1  # ok, trigger, flaky, slow
        assert (m.runs_succeeded, m.runs_failed, m.runs_errored, m.runs_timed_out) == (5, 2, 1, 1)
        assert m.retries_scheduled == 2
        assert m.triggers == 1
        assert m.runs_finished == m.runs_started
        assert m.workers_active == 0
        assert m.workers_max == 4
        assert m.run_duration.count == m.runs_finished
        assert m.run_duration.max == 1.0  # the timed-out attempt
        assert m.dispatch_lateness.count == 3 + 1 + 2 + 1  # retries are not "late"
        assert m.staging_buffered == 0
        assert m.queue_stale_entries == 0


async def test_finished_jobs_are_kept_for_a_bounded_count_and_age(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(
        max_workers=1, wall_clock=wall, finished_job_retention=3, finished_job_max_age=60
    ) as s:
        ids = [await s.add_job(tk.Once(START), Recorder(wall)) for _ in range(5)]
        live = await s.add_job(tk.Interval(30), Recorder(wall))
        await trio.sleep(1)
        # Count limit: the two oldest finished jobs are gone, the newest three remain.
        for job_id in ids[:2]:
            with pytest.raises(tk.JobNotFound):
                s.get_job_details(job_id)
        assert [s.get_job_details(i).state for i in ids[2:]] == [tk.JobState.COMPLETED] * 3
        # Age limit: a minute later they are gone too; the live job is never dropped.
        await trio.sleep(70)
        assert [j.id for j in s.list_all_jobs()] == [live]


async def test_control_counters_and_gauges_move_with_the_calls(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def slow() -> None:
        await trio.sleep(3)

    scheduler = tk.Scheduler(
        max_workers=1, staging_buffer_size=1, wall_clock=wall, late_threshold=1
    )
    scheduler.try_add_job(tk.Never(), Recorder(wall))
    with pytest.raises(tk.StagingFull):
        scheduler.try_add_job(tk.Never(), Recorder(wall))
    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        s = scheduler
        a = await s.add_job(tk.Interval(10), Recorder(wall))
        b = await s.add_job(tk.Interval(10), Recorder(wall, [False] * 5), quarantine_after=2)
        c = await s.add_job(tk.Once(START + timedelta(seconds=5)), slow)
        d = await s.add_job(tk.Once(START + timedelta(seconds=6)), slow)  # waits for c: late
        await s.pause_job(a)
        await trio.sleep(25)
        with s.subscribe(buffer_size=1) as _unread:
            wall.jump(100)  # noticed within max_sleep; b is quarantined, a paused: no misfires
            await s.cancel_job(c)  # already completed: no effect
            await s.resume_job(a)  # one event fits, the rest are dropped
            await trio.sleep(61)
            m = s.get_metrics_snapshot()
        await s.shutdown_graceful()
    assert m.staging_rejected == 1
    assert m.jobs_submitted == 5
    assert m.jobs_quarantined == 1  # b, after its occurrences at +10 and +20 failed
    assert m.jobs_paused == 1  # b is still quarantined; a was resumed
    assert m.jobs_completed == 2  # c and d
    assert m.jobs_cancelled == 0
    assert m.runs_late == 1  # d started at +8, 2 s late
    assert m.clock_jumps == 1
    assert m.events_dropped > 0
    assert m.jobs_scheduled == 3  # the Never job, a and b
    assert s.get_job_details(d).last_runs[0].started_at == START + timedelta(seconds=8)
    assert s.get_job_details(b).quarantined


async def test_a_staged_job_counts_in_staging_buffered_only(
    autojump_clock: object, wall: MockWallClock
) -> None:
    scheduler = tk.Scheduler(max_workers=1, wall_clock=wall)
    scheduler.try_add_job(tk.Never(), Recorder(wall))
    m = scheduler.get_metrics_snapshot()
    assert (m.staging_buffered, m.jobs_scheduled) == (1, 0)
    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        for added in range(2, 12):
            await scheduler.add_job(tk.Never(), Recorder(wall))
            m = scheduler.get_metrics_snapshot()
            staged = [j for j in scheduler.list_all_jobs() if j.state is tk.JobState.STAGED]
            assert m.staging_buffered == len(staged)
            assert m.staging_buffered + m.jobs_scheduled == added  # each job counted once
        await trio.testing.wait_all_tasks_blocked()
        m = scheduler.get_metrics_snapshot()
        assert (m.staging_buffered, m.jobs_scheduled) == (0, 11)
        await scheduler.shutdown_graceful()
