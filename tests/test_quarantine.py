"""Quarantine after repeated failures, and overload made visible."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START, Recorder


async def test_quarantine_pauses_a_failing_job_until_resumed(
    autojump_clock: object, wall: MockWallClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Occurrence at +10 succeeds; +20, +30 and +40 fail (an error or False, retried once
    # and failing again): quarantined after three failed occurrences in a row.
    job = Recorder(wall, [True, False, ValueError("x"), False, False, TimeoutError(), False])
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(
            tk.Interval(10), job, quarantine_after=3, retry=tk.FixedDelay(1, 1)
        )
        await trio.sleep(100)
        details = s.get_job_details(job_id)
        assert details.state is tk.JobState.PAUSED
        assert details.quarantined
        assert details.consecutive_failures == 3
        assert s.get_metrics_snapshot().jobs_quarantined == 1
        assert len(job.calls) == 7
        await s.resume_job(job_id)  # at +100: the next occurrence is +110
        await trio.sleep(25)
        details = s.get_job_details(job_id)
        assert not details.quarantined
        assert details.consecutive_failures == 0
        assert details.state is tk.JobState.SCHEDULED
    assert len(job.calls) == 9  # +110 and +120 (they succeed: the script has run out)
    warnings = [r for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


async def test_a_success_resets_the_failure_count(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall, [False, False, True, False, False, True, False, False])
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Interval(10), job, quarantine_after=3)
        await trio.sleep(85)
        details = s.get_job_details(job_id)
    assert len(job.calls) == 8
    assert details.state is tk.JobState.SCHEDULED
    assert details.consecutive_failures == 2


async def test_quarantine_is_off_by_default_and_validated(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall, [False] * 30)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Interval(1), job)
        await trio.sleep(20.5)
        assert s.get_job_details(job_id).state is tk.JobState.SCHEDULED
        with pytest.raises(tk.InvalidArgument, match="quarantine_after must be >= 1"):
            await s.add_job(tk.Interval(1), job, quarantine_after=0)
        await s.update_job(job_id, quarantine_after=2)
        await trio.sleep(2)
        assert s.get_job_details(job_id).quarantined


async def test_late_runs_are_counted_and_warned_about_once_a_minute(
    autojump_clock: object, wall: MockWallClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def busy() -> None:
        await trio.sleep(3)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall, late_threshold=0.5) as s:
        for _ in range(5):
            await s.add_job(tk.Once(START + timedelta(seconds=1)), busy)
        await trio.sleep(20)
        metrics = s.get_metrics_snapshot()
    # Five runs due at +1 s on one worker start at +1, +4, +7, +10, +13: four are late.
    assert metrics.runs_late == 4
    assert metrics.dispatch_lateness.max == 12
    warnings = [r for r in caplog.records if "late" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited
    assert "1 of 1 workers busy" in warnings[0].getMessage()
