"""A scheduler on an SQLiteStore in its own process, for the kill-and-restart tests.

Run as ``python -c "from tests.durable_child import main; main()" DB EFFECTS LIFE MODE``.
Every job appends one line per attempt *start* to the effects file, an independent record
the store never sees: ``life key occurrence_id``.  MODE ``run`` serves until killed;
``final`` serves for a moment, stops gracefully and prints the jobs' details as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

import trio

import turnkeeper_trio as tk

#: The grid every job fires on: a fixed anchor, so each life agrees on the occurrences.
EVERY = 0.05
START = datetime(2026, 1, 1, tzinfo=UTC)


def _effect(key: str) -> None:
    ctx = tk.current_job()
    line = f"{os.environ['TK_LIFE']} {key} {ctx.occurrence_id}\n"
    # One write(2) of a short line in append mode: it survives the process being killed.
    fd = os.open(os.environ["TK_EFFECTS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


async def at_least_once(key: str) -> None:
    """Record the start, then work a little (so kills land inside attempts too)."""
    _effect(key)
    await trio.sleep(0.01)


async def at_most_once(key: str) -> None:
    """Same work; its job says ``on_crash="skip"``."""
    _effect(key)
    await trio.sleep(0.01)


async def serve(db: str, final: bool) -> None:
    """Add (or attach to) the two jobs and run them."""
    store = tk.SQLiteStore(db)
    catch_up = tk.CatchUp(limit=100_000)  # replay everything missed while down: no gaps
    functions = [at_least_once, at_most_once]
    async with tk.open_scheduler(max_workers=2, store=store, functions=functions) as s:
        grid = tk.Interval(EVERY, start=START)
        await s.add_job(grid, at_least_once, "rerun", key="rerun", misfire=catch_up)
        await s.add_job(grid, at_most_once, "skip", key="skip", misfire=catch_up, on_crash="skip")
        print("ready", flush=True)
        if not final:
            await trio.sleep_forever()
        await trio.sleep(0.5)
        details = {}
        for summary in s.list_all_jobs():
            d = s.get_job_details(summary.id)
            details[summary.id.key] = {
                "runs": d.runs,
                "skipped": [
                    [r.first.isoformat(), r.last.isoformat(), r.count, r.reason] for r in d.skipped
                ],
            }
    print(json.dumps(details), flush=True)


def main() -> None:
    """The command line: DB EFFECTS LIFE MODE."""
    db, effects, life, mode = sys.argv[1:5]
    os.environ["TK_EFFECTS"], os.environ["TK_LIFE"] = effects, life
    trio.run(serve, db, mode == "final")
