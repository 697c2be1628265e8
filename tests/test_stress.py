"""The coordinator keeps making progress under load: no deadlock, nothing lost."""

from __future__ import annotations

import time
from datetime import timedelta

import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START

N = 10_000


async def test_no_deadlock_with_one_worker_a_full_staging_buffer_and_commands(
    autojump_clock: object, wall: MockWallClock, queue_factory: object
) -> None:
    real_start = time.perf_counter()
    ran: list[int] = []

    async def job(index: int) -> None:
        ran.append(index)

    ids: list[tk.JobId] = []
    async with tk.open_scheduler(
        max_workers=1,
        staging_buffer_size=8,
        finished_job_retention=N,
        wall_clock=wall,
        queue=queue_factory(),  # type: ignore[operator]
    ) as s:
        due = tk.Once(START + timedelta(seconds=1))  # all 10,000 runs fall due at once

        async def submit(part: range) -> None:
            for index in part:
                ids.append(await s.add_job(due, job, index))

        async def meddle() -> None:
            # Commands and queries keep arriving while the buffer is full and runs pile up.
            while len(ids) < N:
                await trio.lowlevel.checkpoint()
                if len(ids) > 100:
                    victim = ids[len(ids) // 2]
                    await s.cancel_job(victim)
                    await s.update_job(ids[-1], name="renamed")
                    s.get_job_details(ids[-2])
                    s.list_all_jobs() if len(ids) % 997 == 0 else None
                    s.get_metrics_snapshot()

        async with trio.open_nursery() as nursery:
            for k in range(4):
                nursery.start_soon(submit, range(k, N, 4))
            nursery.start_soon(meddle)
        await trio.sleep(5)
        metrics = s.get_metrics_snapshot()

    cancelled = sum(1 for i in ids if s.get_job_details(i).state is tk.JobState.CANCELLED)
    assert len(ids) == N
    assert metrics.jobs_submitted == N
    assert cancelled == metrics.jobs_cancelled > 0
    assert len(ran) == N - cancelled
    assert len(set(ran)) == len(ran)  # nothing ran twice
    assert metrics.runs_succeeded == metrics.runs_started == len(ran)
    assert metrics.jobs_completed == len(ran)
    assert metrics.staging_buffered == 0
    assert time.perf_counter() - real_start < 30  # seconds of real time, not minutes
