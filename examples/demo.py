"""A real scheduler doing visible work for about ten seconds.

Run it with ``nox -s demo`` (or ``python -m examples.demo`` in an environment that has
turnkeeper_trio installed).  It shows a recurring interval job, a cron job with seconds,
a flaky job that fails and then succeeds on retry, a job that times out, and a manual-only
job started with ``trigger_job``; then it prints the metrics and exits with status 0.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import trio

import turnkeeper_trio as tk
from turnkeeper_trio.abc import WallClock


def say(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
    print(f"{stamp}  {message}", flush=True)


async def heartbeat(counter: list[int]) -> None:
    counter[0] += 1
    say(f"heartbeat #{counter[0]} (Interval every 1.5 s)")


async def tick() -> None:
    ctx = tk.current_job()
    say(f"cron tick for {ctx.scheduled_for:%H:%M:%S} ('*/3 * * * * *', seconds first)")


async def flaky(state: dict[str, int]) -> bool:
    state["calls"] += 1
    attempt = tk.current_job().attempt
    if attempt < 3:
        say(f"flaky job: attempt {attempt} fails (returns False); a retry follows")
        return False
    say(f"flaky job: attempt {attempt} succeeds")
    return True


async def slow() -> None:
    say("slow job: starting work that takes 5 s, with a 1 s timeout")
    await trio.sleep(5)


async def rebuild_index() -> None:
    say("manual job: rebuilding the index (started by trigger_job)")
    await trio.sleep(0.2)


async def main(wall_clock: WallClock | None = None) -> None:
    """Run the demo; the test suite passes a mock wall clock to run it in simulated time."""
    clock = wall_clock or tk.SystemWallClock()
    say("starting a scheduler with 3 workers for about 10 seconds")
    async with tk.open_scheduler(max_workers=3, wall_clock=clock) as scheduler:
        await scheduler.add_job(tk.Interval(1.5), heartbeat, [0], name="heartbeat")
        await scheduler.add_job(tk.Cron("*/3 * * * * *"), tick, name="tick")
        await scheduler.add_job(
            tk.Once(clock.now()),
            flaky,
            {"calls": 0},
            name="flaky",
            retry=tk.ExponentialBackoff(max_retries=3, initial=0.5, factor=2),
        )
        await scheduler.add_job(tk.Once(clock.now()), slow, name="slow", timeout=1)
        manual = await scheduler.add_job(tk.Never(), rebuild_index, name="rebuild-index")

        await trio.sleep(4)
        say("main: trigger_job(rebuild-index)")
        await scheduler.trigger_job(manual)
        await trio.sleep(6)

        say("main: leaving the block = graceful shutdown")
    metrics = scheduler.get_metrics_snapshot()
    say("final metrics:")
    for field in (
        "jobs_submitted",
        "runs_started",
        "runs_succeeded",
        "runs_failed",
        "runs_timed_out",
        "retries_scheduled",
        "triggers",
        "jobs_completed",
    ):
        print(f"    {field:<18} {getattr(metrics, field)}")
    print(f"    {'mean lateness':<18} {metrics.dispatch_lateness.mean * 1000:.2f} ms")
    for job in scheduler.list_all_jobs():
        print(f"    {job.name:<14} {job.state.value}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    trio.run(main)
