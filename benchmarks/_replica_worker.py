"""One process of the replicas benchmark: turnkeeper_trio on Trio, or APScheduler 4 on asyncio.

Run as ``python -m benchmarks._replica_worker SYSTEM SOCKET DATABASE JOBS EVERY ANCHOR
WINDOW_START WINDOW_END``; SYSTEM is ``memory``, ``sqlite`` (a file beside the socket),
``postgres`` or ``apscheduler``.  Every process of a configuration adds the same *JOBS* interval
jobs (``EVERY`` seconds, from *ANCHOR*) to the shared database, runs until *WINDOW_END* (a
POSIX time), and prints one JSON line: how many runs it started inside the window, and how
late each of them started (seconds after its scheduled time, on this machine's clock, which
all the processes share), and when each job started (for the recovery figure).  The job
itself does nothing, so what is measured is the scheduler.

APScheduler 4's SQLAlchemy data store refuses Trio ("This data store requires asyncio"),
so it runs on asyncio, with its PostgreSQL event broker on the same database.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

STARTS: list[tuple[str, float]] = []
LATENESS: list[float] = []
WINDOW = [0.0, 0.0]


def _note(key: str, scheduled: float) -> None:
    now = time.time()
    if WINDOW[0] <= now <= WINDOW[1]:
        STARTS.append((key, now))
        LATENESS.append(now - scheduled)


async def tk_job() -> None:
    """A turnkeeper_trio job: note when it started against when it was due."""
    import turnkeeper_trio as tk

    ctx = tk.current_job()
    _note(ctx.job_id.key, ctx.scheduled_for.timestamp())


async def aps_job() -> None:
    """An APScheduler job: the same."""
    from apscheduler import current_job

    job = current_job.get()
    assert job.scheduled_fire_time is not None
    _note(str(job.schedule_id), job.scheduled_fire_time.timestamp())


async def run_turnkeeper(
    system: str, dsn: str, jobs: int, every: float, anchor: datetime, directory: str
) -> None:
    import trio

    import turnkeeper_trio as tk

    store: tk.abc.JobStore
    if system == "memory":
        store = tk.MemoryStore()
    elif system == "sqlite":
        store = tk.SQLiteStore(f"{directory}/bench-{os.getpid()}.db")
    else:
        store = tk.PostgresStore(dsn, lease_ttl=2.0)
    async with tk.open_scheduler(
        max_workers=16, store=store, history_size=1, functions=[tk_job]
    ) as s:
        for i in range(jobs):
            await s.add_job(tk.Interval(every, start=anchor), tk_job, key=f"bench-{i}")
        await trio.sleep(max(WINDOW[1] - time.time(), 0.0))
        await s.shutdown_graceful(timeout=2)


async def run_apscheduler(socket: str, database: str, jobs: int, every: float) -> None:
    import asyncio

    from apscheduler import AsyncScheduler, ConflictPolicy
    from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
    from apscheduler.eventbrokers.psycopg import PsycopgEventBroker
    from apscheduler.triggers.interval import IntervalTrigger
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"postgresql+psycopg://postgres@/{database}?host={socket}")
    store = SQLAlchemyDataStore(engine)
    broker = PsycopgEventBroker.from_async_sqla_engine(engine)
    async with AsyncScheduler(store, broker, max_concurrent_jobs=16) as s:
        for i in range(jobs):
            await s.add_schedule(
                aps_job,
                IntervalTrigger(seconds=every),
                id=f"bench-{i}",
                conflict_policy=ConflictPolicy.do_nothing,
            )
        await s.start_in_background()
        await asyncio.sleep(max(WINDOW[1] - time.time(), 0.0))
        await s.stop()


def main() -> None:
    system, socket, database, jobs, every, anchor, start, end = sys.argv[1:9]
    WINDOW[:] = [float(start), float(end)]
    if system != "apscheduler":
        import trio

        dsn = f"host={socket} user=postgres dbname={database}"
        at = datetime.fromtimestamp(float(anchor), UTC)
        trio.run(run_turnkeeper, system, dsn, int(jobs), float(every), at, socket)
    else:
        import asyncio

        asyncio.run(run_apscheduler(socket, database, int(jobs), float(every)))
    result: dict[str, Any] = {"runs": len(STARTS), "lateness": LATENESS, "starts": STARTS}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
