"""The documented call forms type-check under ``mypy --strict`` (CI runs mypy over tests/).

Each test also runs, so the forms work as well as type-check.  The ``type: ignore`` comments
below are checked too: ``warn_unused_ignores`` (part of ``--strict``) fails the build if a
wrong call stops being a type error.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import trio
import trio.testing

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock


async def report(recipient: str, retries: int) -> bool:
    return bool(recipient) and retries >= 0


async def test_timedelta_timeouts_and_typed_events(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(
        max_workers=1, wall_clock=wall, shutdown_timeout=timedelta(seconds=5)
    ) as s:
        job = await s.add_job(tk.Never(), report, "ops", 3, timeout=timedelta(seconds=30))
        await s.update_job(job, timeout=timedelta(minutes=1))
        with s.subscribe(tk.RunFinished) as events:
            await s.trigger_job(job)
            event = await events.receive()
            outcome: tk.Outcome = event.outcome  # a RunFinished, not a bare Event
            scheduled: object = event.scheduled_for
        assert s.get_job_details(job).timeout == 60
        await s.shutdown_graceful(timeout=timedelta(seconds=1))
    assert outcome is tk.Outcome.SUCCEEDED
    assert scheduled is not None


async def test_job_args_are_checked_against_the_function(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        with pytest.raises(TypeError, match="cannot be passed to report"):
            await s.add_job(tk.Never(), report, 3)  # type: ignore[arg-type]
        s.try_add_job(tk.Never(), report, "ops", 1)
        await trio.testing.wait_all_tasks_blocked()
        await s.shutdown_force(timeout=timedelta(seconds=1))
