"""Several replicas on one PostgreSQL database: leases, commands, fencing, the database clock.

Each test runs two (or three) schedulers in this process on a fresh database of the suite's
throwaway server (``tests/pg.py``).  The store hands its work to threads, so these tests run
on the real clock with short intervals and a short lease ttl; they wait for positive signals
(an attempt recorded, a state shown), each under a deadline.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
import trio

import turnkeeper_trio as tk

TTL = 1.5


class Runs:
    """What the jobs of this module did, with a way to wait for it (no polling)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, tk.JobContext]] = []
        self.changed = trio.Event()

    def add(self, label: str) -> None:
        self.items.append((label, tk.current_job()))
        self.changed.set()
        self.changed = trio.Event()

    def labels(self) -> list[str]:
        return [label for label, _ in self.items]

    def occurrences(self) -> list[str]:
        return [ctx.occurrence_id for _, ctx in self.items]

    async def until(self, count: int, within: float = 10.0) -> None:
        with trio.fail_after(within):
            while len(self.items) < count:
                await self.changed.wait()


RUNS = Runs()
STARTED = trio.Event()


@pytest.fixture(autouse=True)
def _runs() -> Runs:
    global RUNS, STARTED
    RUNS = Runs()
    STARTED = trio.Event()
    return RUNS


async def record(label: str) -> None:
    RUNS.add(label)


async def slow(label: str) -> None:
    STARTED.set()
    await trio.sleep(30)
    RUNS.add(label)


class Skewed:
    """A replica's wall clock that is off by *seconds*."""

    def __init__(self, seconds: float) -> None:
        self.offset = timedelta(seconds=seconds)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@asynccontextmanager
async def replicas(dsn: str, count: int = 2, **kwargs: Any) -> AsyncIterator[list[tk.Scheduler]]:
    """*count* schedulers on one database, each with its own store."""
    async with trio.open_nursery() as nursery:
        started = []
        for _ in range(count):
            kwargs.setdefault("functions", (record, slow))  # the same code on every replica
            scheduler = tk.Scheduler(
                max_workers=2, store=tk.PostgresStore(dsn, lease_ttl=TTL), **kwargs
            )
            await nursery.start(scheduler.run)
            started.append(scheduler)
        try:
            yield started
        finally:
            for scheduler in started:
                await scheduler.shutdown_graceful(timeout=5)


def holders(dsn: str) -> dict[str, str | None]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT key, owner FROM turnkeeper_jobs").fetchall()
    return dict(rows)


def recorded(dsn: str, key: str) -> list[tuple[float, str]]:
    """The attempts recorded in the database for *key*: (scheduled_for, outcome)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT scheduled_for, outcome FROM turnkeeper_runs WHERE job_key = %s ORDER BY id",
            (key,),
        ).fetchall()


def stored_run(dsn: str, key: str) -> list[Any]:
    """The attempt the database holds for *key*, as its holder stored it (``[]`` if none)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT state -> 'run' FROM turnkeeper_jobs WHERE key = %s", (key,)
        ).fetchone()
    run = row[0] if row is not None else None
    return list(run) if run else [None] * 5


async def eventually(predicate: Callable[[], object], within: float = 5.0) -> None:
    """Wait until *predicate* holds: what another replica (or the database) does is seen
    from outside only, so this looks every 20 ms, and fails the test after *within*."""
    with trio.fail_after(within):
        for _ in itertools.count():
            if predicate():
                return
            await trio.sleep(0.02)


async def shown(scheduler: tk.Scheduler, job: tk.JobId, state: tk.JobState) -> None:
    """Wait until *scheduler* shows *job* in *state* (it learns of changes by NOTIFY)."""
    await eventually(lambda: scheduler.get_job_details(job).state is state)


async def test_every_occurrence_runs_once_across_replicas(pg_dsn: str) -> None:
    async with replicas(pg_dsn, 3) as group:
        ids = []
        for scheduler in group:  # every replica's code adds the same keyed jobs
            for n in range(4):
                ids.append(await scheduler.add_job(tk.Interval(0.1), record, f"j{n}", key=f"j{n}"))
        await RUNS.until(40)
        held = [s.get_metrics_snapshot().jobs_held for s in group]
        assert sum(held) == 4  # each job held by exactly one replica
    occurrences = RUNS.occurrences()
    assert len(occurrences) == len(set(occurrences))  # no occurrence ran twice
    for n in range(4):
        stored = recorded(pg_dsn, f"j{n}")
        assert len(stored) == len({at for at, _ in stored})  # recorded once each
        assert len(stored) >= 5


async def test_pause_on_one_replica_stops_runs_on_the_one_that_holds_the_job(
    pg_dsn: str,
) -> None:
    async with replicas(pg_dsn) as (a, b):
        job = await a.add_job(tk.Interval(0.05), record, "x", key="paused")
        await RUNS.until(2)
        holder, other = (a, b) if holders(pg_dsn)["paused"] == a._store.replica_id else (b, a)  # type: ignore[attr-defined]
        other_id = next(j.id for j in other.list_all_jobs())
        await other.pause_job(other_id)
        # Once pause_job has returned, no attempt starts anywhere.
        count = len(RUNS.items)
        await shown(holder, job if holder is a else other_id, tk.JobState.PAUSED)
        assert other.get_job_details(other_id).state is tk.JobState.PAUSED
        await trio.sleep(0.5)
        assert len(RUNS.items) == count
        await other.resume_job(other_id)
        await RUNS.until(count + 2)


async def test_trigger_update_and_interrupt_reach_the_holder(pg_dsn: str) -> None:
    async with replicas(pg_dsn) as (a, b):
        await a.add_job(tk.Never(), slow, "slow", key="slow")
        await a.add_job(tk.Never(), record, "old", key="manual")
        await eventually(lambda: len(b.list_all_jobs()) == 2)
        owners = holders(pg_dsn)

        # Command each job from the replica that does not hold it.
        def not_holding(key: str) -> tuple[tk.Scheduler, tk.JobId]:
            s = b if owners[key] == a._store.replica_id else a  # type: ignore[attr-defined]
            return s, next(j.id for j in s.list_all_jobs() if j.id.key == key)

        s, manual = not_holding("manual")
        await s.trigger_job(manual, idempotency_key="request-1")
        await s.trigger_job(manual, idempotency_key="request-1")  # a retried request
        await RUNS.until(1)
        await s.update_job(manual, args=("new",))
        await s.trigger_job(manual, idempotency_key="request-2")
        await RUNS.until(2)
        await trio.sleep(0.3)
        assert RUNS.labels() == ["old", "new"]

        s, slow_id = not_holding("slow")
        await s.trigger_job(slow_id)
        with trio.fail_after(5):
            await STARTED.wait()
        await shown(s, slow_id, tk.JobState.RUNNING)
        assert await s.interrupt_job(slow_id)
        await eventually(lambda: recorded(pg_dsn, "slow"))
        assert [outcome for _, outcome in recorded(pg_dsn, "slow")] == ["cancelled"]


async def test_a_replica_that_stops_gives_its_jobs_to_the_others_at_once(pg_dsn: str) -> None:
    async with replicas(pg_dsn) as (a, b):
        for n in range(4):
            await a.add_job(tk.Interval(0.05), record, f"j{n}", key=f"j{n}")
        await RUNS.until(8)
        before = a.get_metrics_snapshot().jobs_held
        assert before >= 1
        t0 = trio.current_time()
        await a.shutdown_graceful()
        await eventually(lambda: b.get_metrics_snapshot().jobs_held == 4)
        # Given back, not lapsed: well before the lease ttl.
        assert trio.current_time() - t0 < TTL
        count = len(RUNS.items)
        await RUNS.until(count + 8)


async def test_an_attempt_whose_lease_is_lost_is_cancelled_and_not_recorded(
    pg_dsn: str,
) -> None:
    async with replicas(pg_dsn, 1) as (a,):
        job = await a.add_job(tk.Never(), slow, "slow", key="stolen")
        await a.trigger_job(job)
        with trio.fail_after(5):
            await STARTED.wait()
        # The start was committed before the attempt began; the attempt's "started" mark
        # follows it to the database a moment later. Steal the job once it is there.
        await eventually(lambda: stored_run(pg_dsn, "stolen")[4])
        # Another replica "takes the job over" (as one would once the lease lapsed).
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(
                "UPDATE turnkeeper_jobs SET owner = 'thief', "
                "token = nextval('turnkeeper_tokens'), lease_until = now() + interval '1 hour'"
            )
        await eventually(lambda: a.get_metrics_snapshot().attempts_fenced == 1, TTL + 2)
        assert a.get_metrics_snapshot().jobs_held == 0
        assert a.get_job_details(job).state is tk.JobState.RUNNING  # as the holder stored it
    assert recorded(pg_dsn, "stolen") == []  # the fenced attempt never recorded an outcome
    assert RUNS.items == []


async def test_the_database_clock_decides_not_a_skewed_replica(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        (db_now,) = conn.execute("SELECT now()").fetchone()  # type: ignore[misc]
    at = db_now + timedelta(seconds=1.0)
    async with replicas(pg_dsn, 1, wall_clock=Skewed(300)) as (ahead,):
        # Five minutes ahead, the replica would run this at once; the database says 1 s.
        await ahead.add_job(tk.Once(at), record, "once", key="once")
        await RUNS.until(1, within=5)
        with psycopg.connect(pg_dsn) as conn:
            (ran_at,) = conn.execute("SELECT now()").fetchone()  # type: ignore[misc]
        assert ran_at >= at
        assert abs((ahead._wall_clock.now() - ran_at).total_seconds()) < 1.0
    async with replicas(pg_dsn, 1, wall_clock=Skewed(-300)) as (behind,):
        # Five minutes behind, it would wait; the occurrence is due by the database's clock.
        await behind.add_job(tk.Interval(0.2), record, "late", key="behind")
        await RUNS.until(3, within=5)


async def test_postgres_store_arguments_and_open_errors_are_typed(pg_cluster: Any) -> None:
    with pytest.raises(TypeError, match="dsn"):
        tk.PostgresStore(123)  # type: ignore[arg-type]
    with pytest.raises(tk.InvalidArgument, match="lease_ttl"):
        tk.PostgresStore("dbname=x", lease_ttl=0)
    with pytest.raises(tk.InvalidArgument, match="lease_ttl"):
        tk.PostgresStore("dbname=x", lease_ttl=0.1)
    missing = pg_cluster.dsn("no_such_database") + " password=hunter2"
    store = tk.PostgresStore(missing, connect_timeout=2)
    assert "hunter2" not in repr(store)
    entered = False
    with pytest.raises(tk.StoreError, match="no_such_database") as caught:
        async with tk.open_scheduler(max_workers=1, store=store):
            entered = True
    assert not entered
    assert "hunter2" not in str(caught.value)


async def test_a_schema_from_a_newer_version_is_refused(pg_dsn: str) -> None:
    async with tk.open_scheduler(max_workers=1, store=tk.PostgresStore(pg_dsn)):
        pass
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE turnkeeper_meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(tk.StoreCorrupt, match="99"):
        async with tk.open_scheduler(max_workers=1, store=tk.PostgresStore(pg_dsn)):
            pass


@attrs.frozen
class Tick(tk.abc.Schedule):
    """A schedule only the new code knows (its codec is registered on the new replica)."""

    start: datetime
    every: float

    def next_after(self, after: datetime) -> datetime | None:
        steps = max(int((after - self.start).total_seconds() // self.every) + 1, 0)
        return self.start + timedelta(seconds=steps * self.every)


TICK = tk.Codec(
    "tests.tick",
    Tick,
    encode=lambda s: {"start": s.start.isoformat(), "every": s.every},
    decode=lambda data, version: Tick(datetime.fromisoformat(data["start"]), data["every"]),
)


async def test_a_replica_that_cannot_load_a_job_leaves_it_to_one_that_can(pg_dsn: str) -> None:
    # A rolling deploy: "new" has the codec for the job's schedule, "old" does not.
    async with trio.open_nursery() as nursery:
        new = tk.Scheduler(
            max_workers=2, store=tk.PostgresStore(pg_dsn, lease_ttl=TTL, codecs=[TICK])
        )
        await nursery.start(new.run)
        start = datetime.now(UTC)
        job = await new.add_job(Tick(start, 0.1), record, "tick", key="tick")
        await RUNS.until(2)
        old = tk.Scheduler(max_workers=2, store=tk.PostgresStore(pg_dsn, lease_ttl=TTL))
        await nursery.start(old.run)
        await eventually(lambda: len(old.list_all_jobs()) == 1)
        (summary,) = old.list_all_jobs()
        details = old.get_job_details(summary.id)
        assert details.error is not None
        assert "tests.tick" in details.error.message
        assert old.get_metrics_snapshot().jobs_unloadable == 1
        # The new replica goes away: the old one does not take the job it cannot run.
        await new.shutdown_graceful()
        assert new.get_job_details(job).state is tk.JobState.SCHEDULED
        count = len(RUNS.items)
        await trio.sleep(TTL + 0.5)
        assert len(RUNS.items) == count
        assert old.get_metrics_snapshot().jobs_held == 0
        with pytest.raises(tk.JobNotLoaded):
            await old.pause_job(summary.id)
        await old.shutdown_graceful()


async def test_cancel_with_interrupt_from_another_replica_ends_the_running_attempt(
    pg_dsn: str,
) -> None:
    async with replicas(pg_dsn) as (a, b):
        job = await a.add_job(tk.Never(), slow, "slow", key="cancelled")
        await eventually(lambda: len(b.list_all_jobs()) == 1)
        (remote,) = b.list_all_jobs()
        await b.trigger_job(remote.id)
        with trio.fail_after(5):
            await STARTED.wait()
        await shown(b, remote.id, tk.JobState.RUNNING)
        await b.cancel_job(remote.id, interrupt=True)
        await shown(b, remote.id, tk.JobState.CANCELLED)
        await eventually(lambda: recorded(pg_dsn, "cancelled"))
        assert a.get_job_details(job).state is tk.JobState.CANCELLED
        assert [outcome for _, outcome in recorded(pg_dsn, "cancelled")] == ["cancelled"]
        with pytest.raises(tk.JobFinished):
            await b.trigger_job(remote.id)


# ---------------------------------------------------------------------- the store's protocol


def _row(key: str, n: int = 0) -> tk.abc.JobRow:
    """A job row as the scheduler writes it (the store treats both objects as opaque JSON)."""
    return tk.abc.JobRow(key, {"v": 1, "name": key}, {"v": 1, "n": n}, "active", None)


def _run_row(key: str, run_id: int) -> tk.abc.RunRow:
    record = {"run_id": run_id, "outcome": "succeeded", "scheduled_for": 0.0}
    return tk.abc.RunRow(key, record)


async def test_writes_are_fenced_by_the_lease_and_idempotent(pg_dsn: str) -> None:
    store = tk.PostgresStore(pg_dsn, lease_ttl=5)
    await store.open(history_size=10)
    try:
        batch = tk.abc.Batch((_row("k"),), (_run_row("k", 1),), (), 10)
        written = await store.write_fenced(batch)
        assert written.lost == frozenset()
        assert set(store.held) == {"k"}  # a new key is inserted with a lease for the writer
        await store.write_fenced(batch)  # a retried batch adds no second record
        assert len(recorded(pg_dsn, "k")) == 1
        # Another replica takes the job over: nothing more of this one's is accepted.
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(
                "UPDATE turnkeeper_jobs SET owner = 'other', "
                "token = nextval('turnkeeper_tokens'), lease_until = now() + interval '1 hour'"
            )
        written = await store.write_fenced(
            tk.abc.Batch((_row("k", 1),), (_run_row("k", 2),), (), 10)
        )
        assert written.lost == {"k"}
        assert written.fenced_runs == 1
        assert set(store.held) == set()
        assert len(recorded(pg_dsn, "k")) == 1
        with psycopg.connect(pg_dsn) as conn:
            (state,) = conn.execute("SELECT state FROM turnkeeper_jobs").fetchone()  # type: ignore[misc]
        assert state["n"] == 0
    finally:
        await store.close()


async def test_a_job_given_back_is_written_as_it_was_not_as_it_is_shown(tmp_path: Path) -> None:
    # A replica gives a job back (its share shrank): the row written is the job's state at
    # that moment, not the inert copy it then shows (which plans nothing), even when the job
    # was also marked changed in the same batch.
    from turnkeeper_trio._durable import Journal, job_row
    from turnkeeper_trio._job import Job, JobExtras
    from turnkeeper_trio._state import Status

    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    journal = Journal(tk.SQLiteStore(tmp_path / "jobs.db"), 5, lambda: start)
    job = Job(
        id=tk.JobId(1, key="k"),
        name="k",
        schedule=tk.Interval(60, start=start),
        fn=record,
        args=("k",),
        retry=None,
        timeout=None,
        lifetime=tk.Forever(),
        misfire=tk.Coalesce(),
        quarantine_after=None,
        added_at=start,
        extras=JobExtras(definition={"v": 1}),
    )
    due = start + timedelta(minutes=1)
    job.status = Status(due=due, planned=True)
    journal.changed(job)
    row = job_row(job, journal.store.codecs, start.timestamp(), trio.current_time())
    journal.snapshot(job, row)
    job.status = Status()  # shown, not run, from now on
    batch = journal._take()
    assert [r.state["due"] for r in batch.jobs] == [due.timestamp()]


async def test_a_start_is_refused_while_a_command_waits_for_its_job(pg_dsn: str) -> None:
    store = tk.PostgresStore(pg_dsn, lease_ttl=5)
    await store.open(history_size=10)
    try:
        await store.write_fenced(tk.abc.Batch((_row("k"),), (), (), 10))
        command_id = await store.post("k", "pause", {})
        start = tk.abc.Batch((_row("k", 1),), (), (), 10, starts=frozenset({"k"}))
        written = await store.write_fenced(start)
        assert written.refused == {"k"}
        assert [c.id for c in written.commands] == [command_id]
        assert await store.applied(command_id) == (False, True)
        # Applied in the same batch as what it changed: accepted, and marked applied.
        applied = tk.abc.Batch((_row("k", 2),), (), (), 10, applied=(command_id,))
        written = await store.write_fenced(applied)
        assert written.refused == frozenset()
        assert await store.applied(command_id) == (True, True)
        written = await store.write_fenced(start)
        assert written.refused == frozenset()
    finally:
        await store.close()


async def test_leases_lapse_by_the_database_clock_and_are_taken_over(pg_dsn: str) -> None:
    first = tk.PostgresStore(pg_dsn, lease_ttl=0.5)
    second = tk.PostgresStore(pg_dsn, lease_ttl=0.5)
    await first.open(history_size=10)
    await second.open(history_size=10)
    try:
        await first.write_fenced(tk.abc.Batch((_row("k"),), (), (), 10))
        taken = await second.acquire([], limit=10)
        assert taken.jobs == ()  # held, and live
        assert taken.next_expiry is not None
        assert 0 < taken.next_expiry <= 0.5
        await trio.sleep(taken.next_expiry + 0.05)  # "first" stopped renewing: it lapsed
        taken = await second.acquire([], limit=0)  # a lapsed lease is taken whatever the share
        assert [row.key for row in taken.jobs] == ["k"]
        assert await first.renew() == {"k"}  # the old holder learns it lost the lease
        written = await first.write_fenced(tk.abc.Batch((_row("k", 9),), (), (), 10))
        assert written.lost == {"k"}
    finally:
        await first.close()
        await second.close()


async def test_replicas_are_listed_with_heartbeats_and_the_jobs_they_hold(pg_dsn: str) -> None:
    from tests.asgi_client import Client
    from turnkeeper_trio.web import Dashboard

    async with replicas(pg_dsn, 2) as group:
        for n in range(6):
            await group[0].add_job(tk.Interval(60), record, f"j{n}", key=f"j{n}")
        await eventually(lambda: sum(s.get_metrics_snapshot().jobs_held for s in group) == 6)
        first, second = (s.store for s in group)
        assert isinstance(first, tk.PostgresStore)
        assert isinstance(second, tk.PostgresStore)
        listed = await first.replicas()
        assert {r.id for r in listed} == {first.replica_id, second.replica_id}
        assert all(r.live and not r.stopped and r.heartbeat_age < TTL for r in listed)
        assert sum(r.jobs_held for r in listed) == 6
        assert [r.this for r in listed if r.id == first.replica_id] == [True]
        assert sum(r.attempts for r in listed) == 0
        busy = await group[0].add_job(tk.Never(), slow, "s", key="busy")
        await group[0].trigger_job(busy)
        await STARTED.wait()
        running = await first.replicas()
        assert sum(r.attempts for r in running) == 1  # the attempt, on the replica holding it
        page = (await Client(Dashboard(group[0])).get("/replicas")).text
        assert first.replica_id in page
        assert second.replica_id in page
        await group[1].shutdown_graceful(timeout=5)
        after = {r.id: r for r in await first.replicas()}
        assert after[second.replica_id].stopped
        assert not after[second.replica_id].live
        assert after[second.replica_id].jobs_held == 0
    with pytest.raises(tk.StoreError, match="not open"):
        await first.replicas()
    with pytest.raises(tk.InvalidArgument, match="stopped_within"):
        await first.replicas(stopped_within=-1)
