"""Durable stores: the cost of writing every change, side by side with ``MemoryStore``.

Three workloads, each run on ``MemoryStore`` and on ``SQLiteStore`` (a fresh file in a
temporary directory, WAL, ``synchronous=FULL``) in the same invocation:

- **runs/s end to end**: N short keyed ``Once(now)`` jobs, submitted without waiting
  (``try_add_job``), from the first submission until every run has finished *and* been
  written (a final command waits for the write);
- **adds/s**: keyed ``Never`` jobs added with ``add_job``, which on a durable store returns
  once the job is written: one task adding one after the other (a commit each), and 64 tasks
  adding at once (commits shared);
- **lateness at 100 runs/s**: 1,000 ``Once`` jobs due 10 ms apart; start minus due.

``python -m benchmarks.bench_store`` runs it alone and prints the table; ``nox -s bench``
runs it with the rest and records it in RESULTS.md.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trio

import turnkeeper_trio as tk

from ._common import WORKERS, percentile

RUNS = 20_000
ADDS = 2_000
LATENESS_JOBS = 1_000
LATENESS_SPACING = 0.01  # 100 runs/s
CONCURRENT_ADDERS = 64


class Done:
    """Counts finished runs; set when all have."""

    def __init__(self, expected: int) -> None:
        self.count, self.expected = 0, expected
        self.event = trio.Event()
        self.lateness: list[float] = []

    async def short(self) -> None:
        """A short job: it only counts itself."""
        self.count += 1
        if self.count == self.expected:
            self.event.set()

    async def late(self, due: float) -> None:
        """Record how late this run started."""
        self.lateness.append(time.time() - due)
        await self.short()


#: The job functions must be importable for a durable store; they reach the counter here.
CURRENT: list[Done] = []


async def short_job() -> None:
    """Count one run."""
    await CURRENT[-1].short()


async def late_job(due: float) -> None:
    """Record one run's lateness."""
    await CURRENT[-1].late(due)


async def never_job() -> None:
    """Never runs (``Never`` schedule)."""


async def _runs_per_s(store: tk.abc.JobStore, n: int) -> float:
    done = Done(n)
    CURRENT.append(done)
    async with tk.open_scheduler(
        max_workers=WORKERS, store=store, staging_buffer_size=n + 1, finished_job_retention=0
    ) as s:
        now = datetime.now(UTC)
        started = time.perf_counter()
        for i in range(n):
            s.try_add_job(tk.Once(now), short_job, key=f"run-{i}")
        await done.event.wait()
        last = await s.add_job(tk.Never(), never_job, key="flush")
        await s.pause_job(last)  # returns once everything before it is written
        elapsed = time.perf_counter() - started
    return n / elapsed


async def _adds_per_s(store: tk.abc.JobStore, n: int, tasks: int) -> float:
    async with tk.open_scheduler(max_workers=WORKERS, store=store) as s:
        started = time.perf_counter()

        async def adder(offset: int) -> None:
            for i in range(offset, n, tasks):
                await s.add_job(tk.Never(), never_job, key=f"add-{i}")

        async with trio.open_nursery() as nursery:
            for offset in range(tasks):
                nursery.start_soon(adder, offset)
        elapsed = time.perf_counter() - started
    return n / elapsed


async def _lateness(store: tk.abc.JobStore, n: int) -> list[float]:
    done = Done(n)
    CURRENT.append(done)
    async with tk.open_scheduler(
        max_workers=WORKERS, store=store, staging_buffer_size=n + 1, finished_job_retention=0
    ) as s:
        base = datetime.now(UTC) + timedelta(seconds=1.0)
        for i in range(n):
            due = base + timedelta(seconds=i * LATENESS_SPACING)
            await s.add_job(tk.Once(due), late_job, due.timestamp(), key=f"late-{i}")
        await done.event.wait()
    return sorted(done.lateness)


def _stores() -> list[tuple[str, Callable[[Path], tk.abc.JobStore]]]:
    return [
        ("MemoryStore", lambda _: tk.MemoryStore()),
        ("SQLiteStore", lambda directory: tk.SQLiteStore(directory / "jobs.db")),
    ]


def measure(
    runs: int = RUNS, adds: int = ADDS, lateness_jobs: int = LATENESS_JOBS
) -> dict[str, Any]:
    """Every workload on every store, each on a fresh file."""
    results: dict[str, Any] = {}
    for name, make in _stores():
        row: dict[str, Any] = {}
        for label, fn, args in (
            ("runs_per_s", _runs_per_s, (runs,)),
            ("adds_per_s_sequential", _adds_per_s, (adds, 1)),
            ("adds_per_s_concurrent", _adds_per_s, (adds, CONCURRENT_ADDERS)),
            ("lateness", _lateness, (lateness_jobs,)),
        ):
            with tempfile.TemporaryDirectory() as directory:
                row[label] = trio.run(fn, make(Path(directory)), *args)
        lateness = row.pop("lateness")
        row["lateness_p50_ms"] = percentile(lateness, 0.5) * 1e3
        row["lateness_p99_ms"] = percentile(lateness, 0.99) * 1e3
        results[name] = row
        print(f"  stores: {name} done", flush=True)
    return results


def report(
    results: dict[str, Any],
    runs: int = RUNS,
    adds: int = ADDS,
    lateness_jobs: int = LATENESS_JOBS,
) -> str:
    """The table, the targets and what bounds each figure."""
    lines = [
        "### Durable stores (side by side with MemoryStore; higher is better but lateness)",
        "",
        f"runs/s: {runs:,} short keyed `Once(now)` jobs until all have run and been written; "
        f"adds/s: {adds:,} keyed `add_job` calls (each returns once written), by one task "
        f"and by {CONCURRENT_ADDERS} tasks; lateness: {lateness_jobs:,} runs due 10 ms apart "
        "(100 runs/s).",
        "",
        f"Measured {datetime.now(UTC).date()} in one run of this benchmark; {WORKERS} workers.",
        "",
        "| store | runs/s | adds/s, 1 task | adds/s, 64 tasks | lateness p50 (ms) "
        "| lateness p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in results.items():
        lines.append(
            f"| {name} | {row['runs_per_s']:,.0f} | {row['adds_per_s_sequential']:,.0f} "
            f"| {row['adds_per_s_concurrent']:,.0f} | {row['lateness_p50_ms']:.2f} "
            f"| {row['lateness_p99_ms']:.2f} |"
        )
    sqlite = results["SQLiteStore"]
    lines += [
        "",
        "| target (SQLiteStore) | measured | met |",
        "|---|---:|:---:|",
        f"| >= 2,000 runs/s end to end | {sqlite['runs_per_s']:,.0f} "
        f"| {'yes' if sqlite['runs_per_s'] >= 2000 else '**no**'} |",
        f"| p99 lateness <= 10 ms at 100 runs/s | {sqlite['lateness_p99_ms']:.2f} ms "
        f"| {'yes' if sqlite['lateness_p99_ms'] <= 10 else '**no**'} |",
        "",
        "What bounds it: every change is written behind the coordinator, one transaction per "
        "batch, so runs/s is bounded by the writer thread, not by fsync: while the event loop "
        "is busy dispatching, changes pile up into a few large batches (three for 20,000 "
        "runs here), each row costing some 50 us in the thread, about half of it JSON "
        "encoding (the job's definition and state, the attempt record) and half SQLite's "
        "upserts, with the GIL shared with the event loop; the last batch is most of the "
        "gap to MemoryStore.  A lone `add_job` waits for its own commit (an fsync of the WAL "
        "with `synchronous=FULL`), so one task adding one job at a time is bounded by the "
        "disk's flush latency; concurrent adders share commits.  Lateness is untouched by "
        "the store: a due run is dispatched from memory and written after.",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    """Run the store benchmarks alone and print the table (``--quick``: smaller sizes)."""
    sizes = (2_000, 300, 200) if "--quick" in argv else (RUNS, ADDS, LATENESS_JOBS)
    print(report(measure(*sizes), *sizes))


if __name__ == "__main__":
    main(sys.argv[1:])
