"""A soak run: many runs with mixed outcomes and random cancels and updates, in simulated time.

``tests/test_soak.py`` runs 20,000 runs in CI; ``nox -s soak`` runs 1,000,000 and prints a
report (``python -m tests.soak RUNS``).
"""

from __future__ import annotations

import gc
import logging
import random
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import attrs
import trio
import trio.testing

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

JOBS = 200
BEHAVIOURS = ("succeed", "succeed", "succeed", "fail", "raise", "hang")


@attrs.define
class SoakReport:
    """What a soak run observed."""

    runs: int
    memory: list[tuple[int, int]]  # (runs so far, bytes traced by tracemalloc)
    metrics: tk.MetricsSnapshot
    lost: int

    def lines(self) -> list[str]:
        lines = [f"runs: {self.runs:,}", f"lost outcomes: {self.lost}"]
        lines += [f"memory at {n:>9,} runs: {size / 1e6:7.2f} MB" for n, size in self.memory]
        m = self.metrics
        lines.append(
            f"started {m.runs_started:,} = succeeded {m.runs_succeeded:,} + failed "
            f"{m.runs_failed:,} + errored {m.runs_errored:,} + timed out {m.runs_timed_out:,}"
            f" + cancelled {m.runs_cancelled:,}; retries {m.retries_scheduled:,}; "
            f"jobs cancelled {m.jobs_cancelled:,}"
        )
        return lines


def _job(behaviour: str) -> Callable[[], Awaitable[bool]]:
    async def job() -> bool:
        if behaviour == "raise":
            raise ValueError("soak")
        if behaviour == "hang":
            await trio.sleep_forever()
        return behaviour == "succeed"

    return job


async def soak(total_runs: int, seed: int = 1) -> SoakReport:
    """Run until *total_runs* attempts have finished; sample memory at each quarter."""
    rng = random.Random(seed)
    wall = MockWallClock(datetime(2026, 1, 1, tzinfo=UTC))
    memory: list[tuple[int, int]] = []
    checkpoints = [total_runs * k // 4 for k in (1, 2, 3, 4)]
    async with tk.open_scheduler(
        max_workers=16, wall_clock=wall, history_size=10, finished_job_retention=100
    ) as s:

        async def add() -> tk.JobId:
            behaviour = rng.choice(BEHAVIOURS)
            return await s.add_job(
                tk.Interval(rng.choice([1, 2, 3, 5])),
                _job(behaviour),
                retry=tk.FixedDelay(1, 0.3) if rng.random() < 0.5 else None,
                timeout=0.5,
            )

        ids = [await add() for _ in range(JOBS)]
        while checkpoints:
            await trio.sleep(1)
            finished = s.get_metrics_snapshot().runs_finished
            if finished >= checkpoints[0]:
                checkpoints.pop(0)
                gc.collect()
                memory.append((finished, tracemalloc.get_traced_memory()[0]))
            for _ in range(rng.randint(0, 3)):
                index = rng.randrange(len(ids))
                if rng.random() < 0.5:
                    await s.cancel_job(ids[index], interrupt=rng.random() < 0.5)
                    ids[index] = await add()
                elif s.get_job_details(ids[index]).state is tk.JobState.SCHEDULED:
                    await s.update_job(ids[index], schedule=tk.Interval(rng.choice([1, 2, 4])))
        await s.shutdown_graceful()
        metrics = s.get_metrics_snapshot()
    lost = metrics.runs_started - metrics.runs_finished
    return SoakReport(metrics.runs_finished, memory, metrics, lost)


def run_soak(total_runs: int) -> SoakReport:
    """Run :func:`soak` under the autojump clock with memory tracing on.

    The scheduler's per-failure WARNINGs are silenced meanwhile: a soak fails jobs on purpose,
    and keeping tens of thousands of log records would be measured as a leak.
    """
    logger = logging.getLogger("turnkeeper_trio")
    level = logger.level
    logger.setLevel(logging.ERROR)
    tracemalloc.start()
    try:
        return trio.run(soak, total_runs, clock=trio.testing.MockClock(autojump_threshold=0))
    finally:
        tracemalloc.stop()
        logger.setLevel(level)


if __name__ == "__main__":
    report = run_soak(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
    print("\n".join(report.lines()))
    sys.exit(1 if report.lost else 0)
