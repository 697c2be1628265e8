"""A service whose jobs survive restarts: run it twice and watch the second run carry on.

```sh
python -m examples.durable_service jobs.db 5    # adds the jobs, runs them for 5 s
python -m examples.durable_service jobs.db 5    # the same jobs, with their counts and history
```

Each start adds its jobs by key, which attaches to the stored ones: a paused job stays
paused, counts carry on, and occurrences missed while the service was down go through the
misfire policy.  Each job uses ``current_job().occurrence_id`` as an idempotency key.
"""

from __future__ import annotations

import sys

import trio

import turnkeeper_trio as tk


async def heartbeat() -> None:
    """A frequent job: prints which occurrence it runs for."""
    ctx = tk.current_job()
    print(f"heartbeat for {ctx.scheduled_for:%H:%M:%S} ({ctx.occurrence_id})", flush=True)


async def nightly_export(bucket: str) -> None:
    """A daily job; paused on the first run, so later runs show it still paused."""
    print(f"exporting to {bucket}", flush=True)


async def main(path: str, seconds: float) -> None:
    """Add (or attach to) the jobs, run them for *seconds*, then print what is stored."""
    async with tk.open_scheduler(max_workers=2, store=tk.SQLiteStore(path)) as s:
        beat = await s.add_job(tk.Interval(1), heartbeat, key="heartbeat", misfire=tk.Coalesce())
        export = await s.add_job(
            tk.Cron("0 2 * * *"), nightly_export, "s3://backups", key="nightly-export"
        )
        if s.get_job_details(export).runs == 0 and s.get_job_details(beat).runs == 0:
            await s.pause_job(export)  # the first start pauses it; later ones find it paused
        await trio.sleep(seconds)
        for summary in s.list_all_jobs():
            details = s.get_job_details(summary.id)
            print(
                f"{summary.id.key:16} {summary.state.value:10} runs={details.runs} "
                f"skipped={sum(r.count for r in details.skipped)}",
                flush=True,
            )


if __name__ == "__main__":
    db = sys.argv[1] if len(sys.argv) > 1 else "jobs.db"
    trio.run(main, db, float(sys.argv[2]) if len(sys.argv) > 2 else 5.0)
