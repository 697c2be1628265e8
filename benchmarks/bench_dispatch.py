"""Dispatch throughput: N one-shot no-op jobs due now, 16 workers, three systems side by side.

- the *raw-Trio floor*: the same architecture with no scheduling logic at all: one task sends
  N items into a memory channel read by the workers, which report on an outcome channel that
  the first task drains.  Nothing with this shape dispatches faster on this machine;
- turnkeeper_trio, with each queue strategy, timed from the first ``add_job`` until the last
  run has finished (so submission through the staging buffer is included);
- APScheduler 4, one ``DateTrigger`` schedule per job, timed the same way.

Run with ``nox -s bench`` (or ``python -m benchmarks.bench_dispatch``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import trio

import turnkeeper_trio as tk

from . import _aps
from ._common import WORKERS, Countdown, floor

SIZES = (1_000, 3_000, 10_000, 20_000, 50_000, 100_000)
#: APScheduler 4's in-memory store slows down quadratically with the number of due
#: schedules (20,000 take about a minute here); larger N would take hours.
APS_SIZES = (1_000, 3_000, 10_000, 20_000)
#: Runs up to 10,000 jobs are repeated and the best kept (as ``timeit`` does): they take well
#: under a second, so a hiccup of the machine would otherwise show.
REPEATS = 3


async def turnkeeper(n: int, queue: tk.abc.JobQueue, subscriber: bool = False) -> float:
    """Seconds from the first submission until *n* Once jobs have all run."""
    now = datetime.now(UTC)
    job = Countdown(n)
    start = time.perf_counter()
    async with (
        tk.open_scheduler(
            max_workers=WORKERS,
            queue=queue,
            staging_buffer_size=1024,
            finished_job_retention=0,
            late_threshold=3600,  # a backlog is the point here: do not warn about it
        ) as s,
        trio.open_nursery() as nursery,
    ):
        if subscriber:
            nursery.start_soon(_read_all, s.subscribe(buffer_size=1024))
        for _ in range(n):
            await s.add_job(tk.Once(now), job)
        await job.done.wait()
        await s.shutdown_graceful()
    return time.perf_counter() - start


#: ``add_jobs`` takes the jobs in batches of this many.
BATCH = 1_000


async def turnkeeper_batched(n: int, queue: tk.abc.JobQueue) -> float:
    """Like ``turnkeeper``, but the jobs are submitted with ``add_jobs``, BATCH at a time."""
    now = datetime.now(UTC)
    job = Countdown(n)
    start = time.perf_counter()
    async with tk.open_scheduler(
        max_workers=WORKERS,
        queue=queue,
        staging_buffer_size=1024,
        finished_job_retention=0,
        late_threshold=3600,
    ) as s:
        for first in range(0, n, BATCH):
            size = min(BATCH, n - first)
            await s.add_jobs([tk.JobRequest(tk.Once(now), job) for _ in range(size)])
        await job.done.wait()
        await s.shutdown_graceful()
    return time.perf_counter() - start


async def _tick(countdown: Countdown) -> None:
    await countdown()


async def apscheduler(n: int) -> float:
    """Seconds from the first ``add_schedule`` until *n* one-shot schedules have run."""
    now = datetime.now(UTC)
    job = Countdown(n)
    start = time.perf_counter()
    async with _aps.running() as scheduler:
        for _ in range(n):
            await _aps.schedule_at(scheduler, now, _tick, job)
        await job.done.wait()
    return time.perf_counter() - start


async def _read_all(events: tk.Subscription[tk.Event]) -> None:
    async for _ in events:
        pass


def _rate(n: int, fn: Callable[..., Awaitable[float]], *args: object) -> float:
    """Jobs per second: the best of REPEATS runs up to 10,000 jobs, one run above."""
    repeats = REPEATS if n <= 10_000 else 1
    return max(n / trio.run(fn, n, *args) for _ in range(repeats))


def measure(
    sizes: tuple[int, ...] = SIZES, aps_sizes: tuple[int, ...] = APS_SIZES
) -> dict[str, dict[int, float]]:
    """Jobs per second for each system and N (see ``_rate`` for the repetitions)."""
    results: dict[str, dict[int, float]] = {
        "raw-Trio floor": {},
        "turnkeeper_trio IndexedHeapQueue": {},
        "turnkeeper_trio HeapQueue": {},
        "turnkeeper_trio add_jobs": {},
        "APScheduler 4": {},
    }
    for n in sizes:
        results["raw-Trio floor"][n] = _rate(n, floor)
        results["turnkeeper_trio IndexedHeapQueue"][n] = _rate(
            n, lambda n: turnkeeper(n, tk.IndexedHeapQueue())
        )
        results["turnkeeper_trio HeapQueue"][n] = _rate(n, lambda n: turnkeeper(n, tk.HeapQueue()))
        results["turnkeeper_trio add_jobs"][n] = _rate(
            n, lambda n: turnkeeper_batched(n, tk.IndexedHeapQueue())
        )
        print(f"  throughput N={n:,}: floor and turnkeeper_trio done", flush=True)
    for n in aps_sizes:
        results["APScheduler 4"][n] = _rate(n, apscheduler)
        print(f"  throughput N={n:,}: APScheduler 4 done", flush=True)
    return results


def report(results: dict[str, dict[int, float]]) -> str:
    """The throughput table, with the ratios to the floor and to APScheduler 4."""
    floor_ = results["raw-Trio floor"]
    indexed = results["turnkeeper_trio IndexedHeapQueue"]
    heap = results["turnkeeper_trio HeapQueue"]
    batched = results.get("turnkeeper_trio add_jobs", {})
    aps = results["APScheduler 4"]
    lines = [
        f"### Dispatch throughput (jobs/s; {WORKERS} workers; higher is better)",
        "",
        "N no-op `Once(now)` jobs from the first submission until the last has run: with "
        f"`add_job` (each queue strategy) and with `add_jobs` ({BATCH:,} per call, "
        "`IndexedHeapQueue`).  Targets: at N = 100,000, at least 0.35x the floor with "
        "`add_job` and 0.5x with `add_jobs`.",
        "",
        "| N | raw-Trio floor | IndexedHeapQueue | HeapQueue | add_jobs | APScheduler 4 "
        "| add_job / floor | add_jobs / floor | best / APScheduler 4 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sorted(floor_):
        single = max(indexed[n], heap[n])
        best = max(single, batched.get(n, 0.0))
        cells = [
            f"{n:,}",
            _fmt(floor_[n]),
            _fmt(indexed[n]),
            _fmt(heap[n]),
            _fmt(batched[n]) if n in batched else "",
            _fmt(aps[n]) if n in aps else "not run (too slow)",
            f"{single / floor_[n]:.2f}",
            f"{batched[n] / floor_[n]:.2f}" if n in batched else "",
            f"{best / aps[n]:.0f}x" if n in aps else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


def subscriber_overhead(n: int = 20_000) -> str:
    """Throughput with and without a subscriber reading every event."""
    without = n / trio.run(turnkeeper, n, tk.IndexedHeapQueue())
    with_one = n / trio.run(turnkeeper, n, tk.IndexedHeapQueue(), True)
    return "\n".join(
        [
            f"### Event subscription overhead (N = {n:,}, jobs/s)",
            "",
            "| no subscriber | one subscriber reading every event | ratio |",
            "|---:|---:|---:|",
            f"| {without:,.0f} | {with_one:,.0f} | {with_one / without:.2f} |",
        ]
    )


if __name__ == "__main__":
    print(report(measure()))
