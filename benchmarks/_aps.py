"""APScheduler 4 (in-memory data store, local event broker) on Trio, for comparison.

APScheduler 4 runs on Trio through AnyIO.  Its defaults are kept except the concurrency,
which matches turnkeeper_trio's worker count.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from apscheduler import AsyncScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ._common import WORKERS

__all__ = ["DateTrigger", "IntervalTrigger", "running", "schedule_at"]


@asynccontextmanager
async def running() -> AsyncIterator[AsyncScheduler]:
    """An APScheduler 4 scheduler, started, with as many concurrent jobs as our workers."""
    async with AsyncScheduler(max_concurrent_jobs=WORKERS) as scheduler:
        await scheduler.start_in_background()
        yield scheduler
        await scheduler.stop()


async def schedule_at(
    scheduler: AsyncScheduler, when: datetime, fn: Callable[..., Awaitable[Any]], *args: object
) -> str:
    """Add a one-shot schedule firing at *when*."""
    return await scheduler.add_schedule(fn, DateTrigger(when), args=args)
