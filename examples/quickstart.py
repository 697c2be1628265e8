"""Quickstart: two scheduled jobs in a Trio program, for ten seconds.

python -m examples.quickstart
"""

from __future__ import annotations

import trio

import turnkeeper_trio as tk
from turnkeeper_trio.abc import WallClock


async def report(label: str) -> None:
    job = tk.current_job()  # which job, attempt and occurrence this run is for
    print(f"{label}: ran for {job.scheduled_for:%H:%M:%S}", flush=True)


async def main(seconds: float = 10, wall_clock: WallClock | None = None) -> None:
    async with tk.open_scheduler(max_workers=2, wall_clock=wall_clock) as scheduler:
        await scheduler.add_job(tk.Interval(2), report, "every 2 s")
        every_5s = tk.Cron("*/5 * * * * *")
        await scheduler.add_job(every_5s, report, "cron", retry=tk.FixedDelay(3, 1), timeout=60)
        await trio.sleep(seconds)  # a service would `await scheduler.wait_stopped()`
    # Leaving the block is a graceful shutdown: running jobs finish first.


if __name__ == "__main__":
    trio.run(main)
