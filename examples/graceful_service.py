"""A service that stops gracefully on SIGINT (Ctrl+C) or SIGTERM.

    python -m examples.graceful_service

On the first signal the scheduler stops starting runs and lets running ones finish within
``GRACE`` seconds; then the service exits with status 0.  A second Ctrl+C during the grace
period interrupts it the usual way (KeyboardInterrupt), which is a forced shutdown.
"""

from __future__ import annotations

import signal

import trio

import turnkeeper_trio as tk

GRACE = 30.0


async def sync_inventory() -> None:
    """Stands for real work that should not be cut in half."""
    await trio.sleep(2)


async def stop_on_signal(
    scheduler: tk.Scheduler, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Ask for a graceful shutdown on the first SIGINT or SIGTERM."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            print(f"received {signal.Signals(signum).name}: shutting down gracefully", flush=True)
            await scheduler.shutdown_graceful(timeout=GRACE)
            return


async def main(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Run until a signal stops the scheduler."""
    async with tk.open_scheduler(max_workers=2) as scheduler, trio.open_nursery() as nursery:
        await scheduler.add_job(tk.Interval(5), sync_inventory, name="inventory")
        await nursery.start(stop_on_signal, scheduler)
        task_status.started()
        await scheduler.wait_stopped()
    print("stopped cleanly", flush=True)


if __name__ == "__main__":
    trio.run(main)
