"""Dispatch throughput: N one-shot no-op jobs due now, W workers, side by side with the floor.

The *raw-Trio floor* is the same architecture with no scheduling logic at all: one task sends
N items into a memory channel read by W workers, which report on an outcome channel that the
first task drains.  Nothing can dispatch faster on this machine with this shape.
Run with ``nox -s bench`` (or ``python -m benchmarks.bench_dispatch``).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import trio

import turnkeeper_trio as tk

WORKERS = 16


async def noop() -> None:
    pass


class Countdown:
    """A no-op job that sets an event when it has run *n* times (no polling)."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.done = trio.Event()

    async def __call__(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set()


async def floor(n: int) -> float:
    """Seconds to push *n* no-op runs through coordinator -> W workers -> outcome channel."""
    send, receive = trio.open_memory_channel[int](0)
    done_send, done_receive = trio.open_memory_channel[int](math.inf)

    async def worker() -> None:
        async for item in receive:
            await noop()
            done_send.send_nowait(item)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(WORKERS):
            nursery.start_soon(worker)

        async def feed() -> None:
            for i in range(n):
                await send.send(i)

        nursery.start_soon(feed)
        for _ in range(n):
            await done_receive.receive()
        nursery.cancel_scope.cancel()
    return time.perf_counter() - start


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


async def _read_all(events: tk.Subscription) -> None:
    async for _ in events:
        pass


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


def report(sizes: tuple[int, ...] = (1_000, 10_000, 100_000)) -> str:
    lines = [
        f"### Dispatch throughput (jobs/s; {WORKERS} workers; higher is better)",
        "",
        "| N | raw-Trio floor | IndexedHeapQueue | HeapQueue | ratio to floor |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        base = n / trio.run(floor, n)
        indexed = n / trio.run(turnkeeper, n, tk.IndexedHeapQueue())
        heap = n / trio.run(turnkeeper, n, tk.HeapQueue())
        best = max(indexed, heap) / base
        lines.append(f"| {n:,} | {base:,.0f} | {indexed:,.0f} | {heap:,.0f} | {best:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
