"""Shared helpers for the benchmarks: the machine, memory readings, percentiles."""

from __future__ import annotations

import math
import os
import platform
import resource
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version

import trio

WORKERS = 16
SEED = 20261123


def versions() -> str:
    """The versions of everything measured, for the results header."""
    parts = [f"Python {platform.python_version()}", f"trio {trio.__version__}"]
    for dist in ("turnkeeper_trio", "apscheduler", "croniter"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join(parts)


def machine() -> str:
    """One line describing this machine."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cpus = os.cpu_count() or 0
    return f"{platform.system()} {platform.machine()}, {cpus} CPUs {model}".strip()


def rss_bytes() -> int:
    """The resident set size of this process now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The *fraction* quantile (nearest rank) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


class Countdown:
    """A no-op job that sets an event when it has run *n* times (no polling)."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.done = trio.Event()

    async def __call__(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set()


async def noop() -> None:
    """The raw-Trio floor's job."""


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


async def architecture(n: int, batched: bool) -> float:
    """Seconds for *n* no-op runs through turnkeeper_trio's tasks and hops, with no logic.

    The bound of the design itself, measured beside the floor: the same tasks handing work
    over the same way as the scheduler, doing nothing else.  A submission goes, one per
    call and one checkpoint each (``add_job``), into a staging buffer that an intake task
    moves into the run queue, or a batch at a time (``add_jobs``) straight into the queue in
    the caller's task; a dispatcher hands each run to one of W workers through a zero-size
    channel (without blocking while a worker waits), parking when nothing is queued; each
    worker reports a start and a finish into a report queue that the intake task and the
    dispatcher drain.  Its figures bound what any scheduling logic on top can reach: the
    difference to the scheduler's is that logic's cost per job.
    """
    job = Countdown(n)
    staging: deque[Callable[[], Awaitable[None]]] = deque()
    queue: deque[Callable[[], Awaitable[None]]] = deque()
    reports: deque[tuple[bool, Callable[[], Awaitable[None]]]] = deque()
    arrived = trio.lowlevel.ParkingLot()  # the intake's: submissions and reports
    planned = trio.lowlevel.ParkingLot()  # the dispatcher's
    send, receive = trio.open_memory_channel[Callable[[], Awaitable[None]]](0)

    def drain() -> None:
        while reports:
            reports.popleft()

    async def worker() -> None:
        async for fn in receive:
            reports.append((True, fn))
            await fn()
            reports.append((False, fn))
            if arrived:
                arrived.unpark_all()

    async def dispatcher() -> None:
        while True:
            drain()
            if not queue:
                await planned.park()
                continue
            fn = queue.popleft()
            try:
                send.send_nowait(fn)
            except trio.WouldBlock:
                await send.send(fn)

    async def intake() -> None:
        while True:
            if staging or reports:
                await trio.lowlevel.checkpoint()
            else:
                await arrived.park()
            drain()
            if staging:
                queue.extend(staging)
                staging.clear()
                if planned:
                    planned.unpark_all()

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(WORKERS):
            nursery.start_soon(worker)
        nursery.start_soon(dispatcher)
        nursery.start_soon(intake)
        if batched:
            for first in range(0, n, 1_000):
                queue.extend(job for _ in range(min(1_000, n - first)))
                if planned:
                    planned.unpark_all()
                await trio.lowlevel.cancel_shielded_checkpoint()
        else:
            for _ in range(n):
                staging.append(job)
                if arrived:
                    arrived.unpark_all()
                await trio.lowlevel.cancel_shielded_checkpoint()
        await job.done.wait()
        nursery.cancel_scope.cancel()
    return time.perf_counter() - start
