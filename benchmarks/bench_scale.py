"""Scale: 1,000,000 pending interval jobs due in an hour, for each queue strategy.

Each measurement runs in a fresh process (``python -m benchmarks.bench_scale SYSTEM MODE N``)
so that resident memory is not shared between them:

- ``plain``: the add rate, resident memory per job, CPU used while idle for 5 s with every
  job pending, then the rate of cancelling a tenth of the jobs (100,000) and of updating
  another tenth (a new schedule, so each moves in the queue), each the best of 5 batches;
- ``traced``: the same adds under ``tracemalloc``, for the Python heap per job (tracing slows
  the adds, which is why it is a separate run).

APScheduler 4 is measured the same way (``add_schedule`` with an ``IntervalTrigger``,
``remove_schedule``) at 100,000 schedules: its adds are slower, and its memory store is what
the comparison is about.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import trio
import trio.testing

import turnkeeper_trio as tk

from . import _aps
from ._common import rss_bytes

JOBS = 1_000_000
APS_JOBS = 100_000
#: Jobs cancelled, and other jobs updated: 100,000 at 1,000,000 pending.
CHANGED_FRACTION = 10
#: ``add_jobs`` and ``cancel_jobs`` take this many jobs per call.
BATCH = 1_000
#: Cancels are also measured with this many jobs pending (IndexedHeapQueue only).
SMALL = 100_000
IDLE_SECONDS = 5.0
#: Cancels and updates are timed in this many batches and the best batch is reported, so
#: that a hiccup of the machine does not decide the figure.
BATCHES = 5

T = TypeVar("T")

QUEUES = {"IndexedHeapQueue": tk.IndexedHeapQueue, "HeapQueue": tk.HeapQueue}


async def noop() -> None:
    """The pending jobs' function (never runs during the benchmark)."""


async def _best_batch_rate(items: list[T], apply: Callable[[T], Awaitable[object]]) -> float:
    """Operations per second over *items*, in BATCHES equal batches; the best batch counts."""
    batches = min(BATCHES, len(items))
    size = len(items) // batches
    rates = []
    for first in range(0, size * batches, size):
        start = time.perf_counter()
        for item in items[first : first + size]:
            await apply(item)
        rates.append(size / (time.perf_counter() - start))
    return max(rates)


async def _idle_cpu() -> float:
    """Percent of one CPU this process used while sleeping for IDLE_SECONDS."""
    cpu, wall = time.process_time(), time.perf_counter()
    await trio.sleep(IDLE_SECONDS)
    return 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)


async def turnkeeper(queue_name: str, n: int, traced: bool) -> dict[str, Any]:
    """Add *n* hourly jobs, then measure memory, idle CPU, cancels and updates."""
    out: dict[str, Any] = {"jobs": n}
    rss_before = rss_bytes()
    if traced:
        tracemalloc.start()
    async with tk.open_scheduler(
        max_workers=16, queue=QUEUES[queue_name](), staging_buffer_size=1024, history_size=0
    ) as s:
        schedule = tk.Interval(3600)
        start = time.perf_counter()
        ids = [await s.add_job(schedule, noop) for _ in range(n)]
        await trio.testing.wait_all_tasks_blocked()  # the coordinator took in the last ones
        out["add_per_s"] = n / (time.perf_counter() - start)
        if traced:
            out["traced_per_job"] = tracemalloc.get_traced_memory()[0] / n
            tracemalloc.stop()
            await s.shutdown_force()
            return out
        out["rss_per_job"] = (rss_bytes() - rss_before) / n
        out["idle_cpu_percent"] = await _idle_cpu()
        changed = n // CHANGED_FRACTION
        out["cancel_per_s"] = await _best_batch_rate(ids[:changed], s.cancel_job)
        new_schedule = tk.Interval(1800)

        async def update(job_id: tk.JobId) -> None:
            await s.update_job(job_id, schedule=new_schedule)

        out["update_per_s"] = await _best_batch_rate(ids[changed : 2 * changed], update)
        out["stale_entries"] = s.get_metrics_snapshot().queue_stale_entries
        # The batch calls: as many jobs again as were cancelled (so about n stay pending),
        # BATCH per call, then the same jobs cancelled BATCH per call.
        start = time.perf_counter()
        added: list[tk.JobId] = []
        for _ in range(0, changed, BATCH):
            result = await s.add_jobs([tk.JobRequest(schedule, noop) for _ in range(BATCH)])
            added.extend(result.accepted)
        out["add_jobs_per_s"] = len(added) / (time.perf_counter() - start)
        batches = [added[first : first + BATCH] for first in range(0, len(added), BATCH)]
        out["cancel_jobs_per_s"] = BATCH * await _best_batch_rate(batches, s.cancel_jobs)
        await s.shutdown_force()
    return out


async def apscheduler(n: int, traced: bool) -> dict[str, Any]:
    """The same for APScheduler 4 (cancel = ``remove_schedule``; no update is timed)."""
    out: dict[str, Any] = {"jobs": n}
    rss_before = rss_bytes()
    if traced:
        tracemalloc.start()
    async with _aps.running() as scheduler:
        first = datetime.now(UTC) + timedelta(hours=1)
        trigger = _aps.IntervalTrigger(hours=1, start_time=first)
        start = time.perf_counter()
        ids = [await scheduler.add_schedule(noop, trigger) for _ in range(n)]
        out["add_per_s"] = n / (time.perf_counter() - start)
        if traced:
            out["traced_per_job"] = tracemalloc.get_traced_memory()[0] / n
            tracemalloc.stop()
            return out
        out["rss_per_job"] = (rss_bytes() - rss_before) / n
        out["idle_cpu_percent"] = await _idle_cpu()
        out["cancel_per_s"] = await _best_batch_rate(
            ids[: n // CHANGED_FRACTION], scheduler.remove_schedule
        )
    return out


def _in_subprocess(system: str, mode: str, n: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", system, mode, str(n)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(n: int = JOBS, aps_n: int = APS_JOBS) -> dict[str, dict[str, Any]]:
    """Every scale figure, per system, each from fresh processes."""
    results: dict[str, dict[str, Any]] = {}
    systems = [(f"turnkeeper_trio {name}", name, n) for name in QUEUES]
    systems.append(("APScheduler 4", "apscheduler", aps_n))
    for label, system, jobs in systems:
        figures = _in_subprocess(system, "plain", jobs)
        traced = _in_subprocess(system, "traced", jobs)
        figures["traced_per_job"] = traced["traced_per_job"]
        results[label] = figures
        print(f"  scale: {label} done", flush=True)
    small = min(SMALL, n)
    results[f"turnkeeper_trio IndexedHeapQueue, {small:,} pending"] = _in_subprocess(
        "IndexedHeapQueue", "plain", small
    )
    return results


def report(results: dict[str, dict[str, Any]]) -> str:
    """The scale table, and the batch calls' table."""
    aps_add = results["APScheduler 4"]["add_per_s"]
    lines = [
        "### Scale (pending interval jobs due in an hour; each system in fresh processes)",
        "",
        "Targets: at most 1 KB per pending job at 1,000,000; idle CPU at most 0.5 %; "
        "`cancel_job` at least 100,000/s and `cancel_jobs` at least 200,000/s with 100,000 "
        "and 1,000,000 pending (`IndexedHeapQueue`); adds with `add_jobs` at least 5x "
        "APScheduler 4's `add_schedule`.",
        "",
        "| system | pending jobs | adds/s | vs APScheduler 4 | RSS/job | tracemalloc/job "
        "| idle CPU (5 s) | cancels/s | updates/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    full = {label: r for label, r in results.items() if "traced_per_job" in r}
    for label, r in full.items():
        update = f"{r['update_per_s']:,.0f}" if "update_per_s" in r else "n/a"
        lines.append(
            f"| {label} | {r['jobs']:,} | {r['add_per_s']:,.0f} "
            f"| {r['add_per_s'] / aps_add:.1f}x | {r['rss_per_job']:,.0f} B "
            f"| {r['traced_per_job']:,.0f} B | {r['idle_cpu_percent']:.2f} % "
            f"| {r['cancel_per_s']:,.0f} | {update} |"
        )
    lines += [
        "",
        f"Batch calls ({BATCH:,} jobs per call) against the single calls, same processes:",
        "",
        "| system | pending jobs | `add_job`/s | `add_jobs`/s | vs APScheduler 4 "
        "| `cancel_job`/s | `cancel_jobs`/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in results.items():
        if "add_jobs_per_s" not in r:
            continue
        lines.append(
            f"| {label.split(',')[0]} | {r['jobs']:,} | {r['add_per_s']:,.0f} "
            f"| {r['add_jobs_per_s']:,.0f} | {r['add_jobs_per_s'] / aps_add:.1f}x "
            f"| {r['cancel_per_s']:,.0f} | {r['cancel_jobs_per_s']:,.0f} |"
        )
    return "\n".join(lines)


def _main(argv: list[str]) -> None:
    if len(argv) == 3:
        system, mode, jobs = argv[0], argv[1], int(argv[2])
        traced = mode == "traced"
        if system == "apscheduler":
            result = trio.run(apscheduler, jobs, traced)
        else:
            result = trio.run(turnkeeper, system, jobs, traced)
        print(json.dumps(result))
    else:
        print(report(measure()))


if __name__ == "__main__":
    _main(sys.argv[1:])
