"""One replica of the chaos test: a scheduler on a PostgresStore, in its own process.

Run as ``python -m tests.replica_child DSN ANCHOR TTL SKEW ROLE``.  Every replica adds the
same keyed jobs (as every replica of a service runs the same code):

* ``iv-0`` .. ``iv-3``: ``Interval(1 s)`` from the fixed *ANCHOR*, ``CatchUp``;
* ``cron-0``, ``cron-1``: ``Cron("*/2 * * * * *")`` (every even second), ``CatchUp``;
* ``cmd-p``, ``cmd-u``, ``cmd-t``: the jobs the commander pauses, updates and triggers.

Each attempt writes its effect to the ``effects`` table, on the server's clock, where the
store never looks: inserted when it starts, completed when it ends (an attempt killed or
cancelled midway has no end).  *SKEW* seconds are added to the replica's wall clock (the
database's clock must decide anyway).  ROLE ``commander`` also pauses and resumes ``cmd-p``,
updates ``cmd-u`` and triggers ``cmd-t`` with idempotency keys (each sent twice), logging
each command's moments in ``commands_log``.  SIGTERM stops the replica gracefully.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import trio

import turnkeeper_trio as tk

_conn: psycopg.Connection[Any] | None = None
_limiter = trio.CapacityLimiter(1)
_rng = random.Random(os.getpid())


def _execute(sql: str, params: tuple[Any, ...]) -> Any:
    """Run one statement on the effects connection, reconnecting through outages."""
    global _conn
    for attempt in range(200):
        try:
            if _conn is None or _conn.closed or _conn.broken:
                _conn = psycopg.connect(
                    os.environ["TK_DSN"], autocommit=True, application_name="chaos effects"
                )
            row = _conn.execute(sql, params).fetchone()
            return None if row is None else row[0]
        except psycopg.Error:
            if _conn is not None:
                _conn.close()
            _conn = None
            time.sleep(min(0.05 * (attempt + 1), 0.5))
    raise RuntimeError("the effects table could not be reached")


async def effect(label: str) -> None:
    """The job: record the start, work a little, record the end."""
    ctx = tk.current_job()
    effect_id = await trio.to_thread.run_sync(
        _execute,
        "INSERT INTO effects (job_key, occurrence, scheduled_for, run_id, attempt, pid, label, "
        "triggered, started_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
        "extract(epoch FROM clock_timestamp())) RETURNING id",
        (
            ctx.job_id.key,
            ctx.occurrence_id,
            ctx.scheduled_for.timestamp(),
            ctx.run_id,
            ctx.attempt,
            os.getpid(),
            label,
            ctx.triggered,
        ),
        limiter=_limiter,
    )
    await trio.sleep(_rng.uniform(0.2, 0.6))
    await trio.to_thread.run_sync(
        _execute,
        "UPDATE effects SET ended_at = extract(epoch FROM clock_timestamp()) WHERE id = %s "
        "RETURNING id",
        (effect_id,),
        limiter=_limiter,
    )


class Skewed:
    """The replica's wall clock, off by a fixed amount."""

    def __init__(self, seconds: float) -> None:
        self.offset = timedelta(seconds=seconds)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _log(kind: str, detail: str = "") -> None:
    _execute(
        "INSERT INTO commands_log (kind, detail, at) VALUES (%s, %s, "
        "extract(epoch FROM clock_timestamp())) RETURNING id",
        (kind, detail),
    )


async def command(what: str, call: Any, *args: Any, **kwargs: Any) -> bool:
    """Run one command; log when it returned, or that it failed (an outage)."""
    try:
        await call(*args, **kwargs)
    except tk.TurnKeeperError as exc:
        await trio.to_thread.run_sync(_log, f"{what}-failed", repr(exc)[:200])
        return False
    await trio.to_thread.run_sync(_log, what, repr(kwargs.get("idempotency_key", "")))
    return True


async def commander(s: tk.Scheduler, ids: dict[str, tk.JobId]) -> None:
    """Pause/resume, update and trigger, forever, as an operator (or a deploy) would."""
    n = 0
    while True:
        n += 1
        await trio.to_thread.run_sync(_log, "pause-called")
        await command("pause", s.pause_job, ids["cmd-p"])
        await trio.sleep(1.5)
        await trio.to_thread.run_sync(_log, "resume-called")
        await command("resume", s.resume_job, ids["cmd-p"])
        await command("update", s.update_job, ids["cmd-u"], args=(f"v{n}",))
        key = f"{os.getpid()}-{n}"
        # Logged before the calls: a call that failed (an outage while it waited) may still
        # have been applied, as any request whose answer was lost, so its key counts too.
        await trio.to_thread.run_sync(_log, "trigger-called", repr(key))
        for _ in range(2):  # a retried request: runs once
            await command("trigger", s.trigger_job, ids["cmd-t"], idempotency_key=key)
        await trio.sleep(1.0)


async def serve(dsn: str, anchor: datetime, ttl: float, skew: float, role: str) -> None:
    store = tk.PostgresStore(dsn, lease_ttl=ttl)
    catch_up = tk.CatchUp(limit=100_000)
    # Every attempt stays in turnkeeper_runs (the checker reads them all).
    async with tk.open_scheduler(
        max_workers=4,
        store=store,
        wall_clock=Skewed(skew),
        history_size=100_000,
        functions=[effect],
    ) as s:
        ids = {}
        for n in range(4):
            ids[f"iv-{n}"] = await s.add_job(
                tk.Interval(1.0, start=anchor), effect, "iv", key=f"iv-{n}", misfire=catch_up
            )
        for n in range(2):
            ids[f"cron-{n}"] = await s.add_job(
                tk.Cron("*/2 * * * * *"), effect, "cron", key=f"cron-{n}", misfire=catch_up
            )
        ids["cmd-p"] = await s.add_job(tk.Interval(0.5, start=anchor), effect, "p", key="cmd-p")
        ids["cmd-u"] = await s.add_job(tk.Interval(1.0, start=anchor), effect, "v0", key="cmd-u")
        ids["cmd-t"] = await s.add_job(tk.Never(), effect, "t", key="cmd-t")
        print("ready", flush=True)
        async with trio.open_nursery() as nursery:
            if role == "commander":
                nursery.start_soon(commander, s, ids)
            with trio.open_signal_receiver(signal.SIGTERM) as signals:
                async for _ in signals:
                    break
            nursery.cancel_scope.cancel()
        await s.shutdown_graceful(timeout=5)


def main() -> None:
    dsn, anchor, ttl, skew, role = sys.argv[1:6]
    os.environ["TK_DSN"] = dsn
    trio.run(serve, dsn, datetime.fromtimestamp(float(anchor), UTC), float(ttl), float(skew), role)


if __name__ == "__main__":
    main()
