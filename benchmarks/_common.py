"""Shared helpers for the benchmarks: the machine, memory readings, percentiles."""

from __future__ import annotations

import math
import os
import platform
import resource
import sys
import time
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
