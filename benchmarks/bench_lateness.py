"""Dispatch lateness: 10,000 jobs due at random instants over 10 s; start minus due.

Every system gets the same due instants (fixed seed), spread over a 10-second window that
opens a few seconds after the benchmark starts, so that submitting them all is over before
the first is due.  Each job reads the wall clock when it starts and records how late it is.

- the *raw-Trio floor*: one task sleeps until each due instant (Trio's clock) and hands the
  job to 16 workers over a memory channel: the least lateness this shape allows;
- turnkeeper_trio (IndexedHeapQueue), one ``Once`` job per instant;
- APScheduler 4, one ``DateTrigger`` schedule per instant.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import trio

import turnkeeper_trio as tk

from . import _aps
from ._common import SEED, WORKERS, percentile

JOBS = 10_000
WINDOW = 10.0
#: Submitting 10,000 jobs takes about a second here; the window opens after this lead.
LEAD = 4.0


def _offsets() -> list[float]:
    rng = random.Random(SEED)
    return sorted(LEAD + rng.uniform(0, WINDOW) for _ in range(JOBS))


class Lateness:
    """Collects (start - due) in seconds, and signals when every job has reported."""

    def __init__(self, expected: int) -> None:
        self.values: list[float] = []
        self.expected = expected
        self.done = trio.Event()

    async def record(self, due: float) -> None:
        self.values.append(time.time() - due)
        if len(self.values) == self.expected:
            self.done.set()


async def floor() -> list[float]:
    """Lateness of the floor: sleep until each instant, hand it to a worker."""
    offsets = _offsets()
    lateness = Lateness(len(offsets))
    base_wall, base_trio = time.time(), trio.current_time()
    send, receive = trio.open_memory_channel[float](0)

    async def worker() -> None:
        async for due in receive:
            await lateness.record(due)

    async with trio.open_nursery() as nursery:
        for _ in range(WORKERS):
            nursery.start_soon(worker)
        for offset in offsets:
            await trio.sleep_until(base_trio + offset)
            await send.send(base_wall + offset)
        await lateness.done.wait()
        nursery.cancel_scope.cancel()
    return lateness.values


async def turnkeeper() -> list[float]:
    """Lateness of turnkeeper_trio: one ``Once`` job per instant."""
    offsets = _offsets()
    lateness = Lateness(len(offsets))
    base = datetime.now(UTC)
    async with tk.open_scheduler(
        max_workers=WORKERS, staging_buffer_size=1024, finished_job_retention=0
    ) as s:
        for offset in offsets:
            due = base + timedelta(seconds=offset)
            await s.add_job(tk.Once(due), lateness.record, due.timestamp())
        await lateness.done.wait()
    return lateness.values


async def apscheduler() -> list[float]:
    """Lateness of APScheduler 4: one ``DateTrigger`` schedule per instant."""
    offsets = _offsets()
    lateness = Lateness(len(offsets))
    base = datetime.now(UTC)
    async with _aps.running() as scheduler:
        for offset in offsets:
            due = base + timedelta(seconds=offset)
            await _aps.schedule_at(scheduler, due, lateness.record, due.timestamp())
        await lateness.done.wait()
    return lateness.values


def measure() -> dict[str, list[float]]:
    """Sorted lateness (seconds) of every job, per system."""
    results = {}
    for name, fn in (
        ("raw-Trio floor", floor),
        ("turnkeeper_trio", turnkeeper),
        ("APScheduler 4", apscheduler),
    ):
        results[name] = sorted(trio.run(fn))
        print(f"  lateness: {name} done", flush=True)
    return results


def report(results: dict[str, list[float]]) -> str:
    """p50 / p99 / max per system, in milliseconds."""
    floor_p99 = percentile(results["raw-Trio floor"], 0.99)
    lines = [
        f"### Dispatch lateness ({JOBS:,} jobs at random instants over {WINDOW:.0f} s; "
        "ms; lower is better)",
        "",
        "Target: turnkeeper_trio p99 at most the floor's p99 + 1 ms.",
        "",
        "| system | p50 | p99 | max | p99 - floor p99 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in results.items():
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        lines.append(
            f"| {name} | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} | {values[-1] * 1e3:.2f} "
            f"| {(p99 - floor_p99) * 1e3:+.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(measure()))
