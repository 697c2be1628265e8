"""Leases at scale, on a real PostgreSQL server: renewals linear in what a replica holds, a
clean shutdown that hands every lease over at once and always finishes, takeovers in batches
that keep what they took.

The stores work in a thread, so these tests run on the real clock.  ``TURNKEEPER_LEASE_JOBS``
sets the number of jobs of the scale test (30,000 by default; 100,000 reproduces the size
at which the renewal used to lose every lease).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

import psycopg
import trio

import turnkeeper_trio as tk
from turnkeeper_trio._postgres import Acquired, Written
from turnkeeper_trio.abc import Batch

TTL = 1.5


async def noop() -> None:
    pass


def sql(dsn: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


async def eventually(predicate: Any, within: float = 10.0) -> None:
    """Wait until *predicate* holds (checked every 20 ms: what it reads is in the database)."""
    with trio.fail_after(within):
        while not predicate():  # noqa: ASYNC110 - the database announces nothing here
            await trio.sleep(0.02)


def clone_jobs(dsn: str, template: str, count: int) -> None:
    """Store *count* copies of the job *template* (keys ``j0`` ...), held by nobody."""
    sql(
        dsn,
        "INSERT INTO turnkeeper_jobs (key, phase, next_run_at, definition, state, change) "
        "SELECT 'j' || n, phase, next_run_at, definition, state, nextval('turnkeeper_changes') "
        "FROM turnkeeper_jobs, generate_series(0, %s - 1) AS n WHERE key = %s",
        count,
        template,
    )
    sql(dsn, "DELETE FROM turnkeeper_jobs WHERE key = %s", template)
    sql(dsn, "VACUUM ANALYZE turnkeeper_jobs")


async def test_a_replica_holding_many_jobs_keeps_every_lease_and_hands_them_over_at_once(
    pg_dsn: str,
) -> None:
    count = int(os.environ.get("TURNKEEPER_LEASE_JOBS", "30000"))
    async with tk.open_scheduler(max_workers=1, store=tk.PostgresStore(pg_dsn)) as s:
        await s.add_job(tk.Interval(86400), noop, key="template")
    clone_jobs(pg_dsn, "template", count)
    # A statement timeout well under a renewal that grows with the square of the leases.
    store = tk.PostgresStore(pg_dsn, lease_ttl=3.0, statement_timeout=2.0)
    async with tk.open_scheduler(max_workers=1, store=store, functions=[noop]) as s:
        await eventually(lambda: len(store.held) == count, within=120)
        rounds = store.rounds
        # Several renewals later, every lease is still held (none was lost and retaken).
        await eventually(lambda: store.rounds >= rounds + 3, within=30)
        assert len(store.held) == count
        assert s.get_metrics_snapshot().jobs_held == count
        (held,) = sql(pg_dsn, "SELECT count(*) FROM turnkeeper_jobs WHERE lease_until > now()")
        assert held == (count,)
    # A clean shutdown gives every lease back, so another replica takes them at once.
    assert sql(pg_dsn, "SELECT count(*) FROM turnkeeper_jobs WHERE owner IS NOT NULL") == [(0,)]
    (stopped,) = sql(pg_dsn, "SELECT count(*) FROM turnkeeper_replicas WHERE stopped_at IS NULL")
    assert stopped == (0,)


class GatedStore(tk.PostgresStore):
    """A real store whose writes wait at a gate (a database that is slow to answer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = trio.Event()
        self.gate.set()
        self.live = 0
        self.rounds_with_peer = trio.Event()

    async def write_fenced(self, batch: Batch) -> Written:
        await self.gate.wait()
        return await super().write_fenced(batch)

    async def live_replicas(self) -> int:
        self.live = await super().live_replicas()
        return self.live

    async def acquire(self, excluded: Collection[str], limit: int) -> Acquired:
        result = await super().acquire(excluded, limit)
        if self.live >= 2:  # the round goes on to give back what is above its share
            self.rounds_with_peer.set()
        return result


async def test_a_shutdown_finishes_while_jobs_given_back_wait_to_be_written(
    pg_dsn: str,
) -> None:
    first = GatedStore(pg_dsn, lease_ttl=TTL)
    async with trio.open_nursery() as nursery:
        a = tk.Scheduler(max_workers=1, store=first, functions=[noop])
        await nursery.start(a.run)
        jobs = [await a.add_job(tk.Interval(3600), noop, key=f"k{n}") for n in range(10)]
        await trio.sleep(TTL * 1.5)  # more rounds than "recently taken" covers
        # The database stops answering writes: the next write waits, the writer with it.
        first.gate = trio.Event()
        nursery.start_soon(a.pause_job, jobs[0])
        # A second replica: the first one's next round gives back what is above its share,
        # and waits for that to be written.
        b = tk.Scheduler(max_workers=1, store=tk.PostgresStore(pg_dsn, lease_ttl=TTL))
        await nursery.start(b.run)
        with trio.fail_after(10):
            await first.rounds_with_peer.wait()
        nursery.start_soon(a.shutdown_graceful)
        await trio.sleep(0.3)
        first.gate.set()  # the database answers again
        with trio.fail_after(TTL * 4):
            await a.wait_stopped()
        await b.shutdown_graceful(timeout=5)
    # Nothing was lost: every job is stored, the paused one paused.
    phases = dict(sql(pg_dsn, "SELECT key, phase FROM turnkeeper_jobs"))
    assert len(phases) == 10
    assert phases["k0"] == "paused"


class CountingStore(tk.PostgresStore):
    """A real store that remembers when it gave leases back, and how many."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.given_back: list[tuple[float, int]] = []

    async def release(self, keys: Collection[str] | None = None) -> None:
        if keys is not None:
            self.given_back.append((trio.current_time(), len(keys)))
        await super().release(keys)


async def test_survivors_keep_the_jobs_they_take_over(pg_dsn: str) -> None:
    """A dead replica's jobs, taken by a survivor, are not given back in the same breath.

    (Given back, they wait, held by nobody, for another replica's round.)  Balancing comes
    later, once the count of live replicas no longer includes the dead one.
    """
    keys = [f"k{n}" for n in range(12)]
    stores = [CountingStore(pg_dsn, lease_ttl=TTL) for _ in range(3)]
    async with trio.open_nursery() as nursery:
        a, b, c = (tk.Scheduler(max_workers=1, store=s, functions=[noop]) for s in stores)
        for scheduler in (a, b, c):
            await nursery.start(scheduler.run)
        for key in keys:
            await b.add_job(tk.Interval(3600), noop, key=key)
        await eventually(lambda: min(len(s.held) for s in stores) >= 3, within=TTL * 6)
        # b dies: its leases are not given back (as a killed process's are not).
        stores[1].release = _never  # type: ignore[method-assign]
        await b.shutdown_graceful()
        died = trio.current_time()
        survivors = (stores[0], stores[2])
        await eventually(lambda: sum(len(s.held) for s in survivors) == 12, within=TTL * 4)
        taken = trio.current_time()
        await trio.sleep(TTL / 3)
        early = [n for s in survivors for at, n in s.given_back if died < at < taken + TTL / 3]
        assert early == []
        await a.shutdown_graceful()
        await c.shutdown_graceful()


async def _never(keys: Collection[str] | None = None) -> None:
    """A release that does not happen."""
