"""``Scheduler.health()`` and the ``/healthz`` / ``/readyz`` probes.

The stall tests block the event loop for real (``time.sleep`` in a job), so they run on the
real clock with a short ``stall_threshold``; the database test makes PostgreSQL refuse the
store's connections, then lets them in again.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import trio

import turnkeeper_trio as tk
from tests.asgi_client import Client
from tests.test_replicas import eventually
from turnkeeper_trio.web import Dashboard, Probes

THRESHOLD = 0.3


async def block_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # noqa: ASYNC251  # the point: a job that blocks the event loop


async def sleep_long() -> None:
    await trio.sleep(3600)


async def idle() -> None:
    pass


async def test_lifecycle_not_started_running_closing_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    scheduler = tk.Scheduler(max_workers=1)
    assert scheduler.health() == tk.Health(False, False, ("the scheduler has not been started",))
    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        assert scheduler.health() == tk.Health(True, True)
        await trio.sleep(3600)  # a healthy loop stays live: the heartbeat keeps beating
        assert scheduler.health() == tk.Health(True, True)
        await scheduler.shutdown_graceful()
    assert scheduler.stopped
    assert scheduler.health() == tk.Health(False, False, ("the scheduler has stopped",))


async def test_ready_is_false_while_shutting_down() -> None:
    started = trio.Event()

    async def long_job() -> None:
        started.set()
        await trio.sleep(10)

    async with tk.open_scheduler(max_workers=1) as s:
        job = await s.add_job(tk.Never(), long_job)
        await s.trigger_job(job)
        await started.wait()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.shutdown_graceful, 0.5)
            await trio.sleep(0.05)
            health = s.health()
            assert health.live
            assert not health.ready
            assert health.reasons == ("the scheduler is shutting down",)


async def test_a_blocked_event_loop_is_not_live_then_recovers() -> None:
    blocking = trio.Event()

    async def block() -> None:
        blocking.set()  # wakes the test once the loop is free again
        time.sleep(THRESHOLD * 3)  # noqa: ASYNC251  # the point: a job that blocks the loop

    async with tk.open_scheduler(max_workers=1, stall_threshold=THRESHOLD) as s:
        assert s.health().live  # arms the heartbeat
        await trio.sleep(THRESHOLD)  # a few beats
        assert s.health() == tk.Health(True, True)
        await s.trigger_job(await s.add_job(tk.Never(), block))
        await blocking.wait()
        # The probe runs right after the stall, before or after the heartbeat (either order
        # is possible): both say the loop was blocked.
        health = s.health()
        assert not health.live
        assert not health.ready
        assert health.reasons[0].startswith("the event loop was blocked")
        await trio.sleep(0.01)  # now the heartbeat, due since the stall, has seen it
        assert s._heartbeat.stall is not None
        assert s._heartbeat.stall[0] >= THRESHOLD * 3
        health = s.health()
        assert not health.live
        assert health.reasons[0].startswith("the event loop was blocked for ")
        await trio.sleep(THRESHOLD * 1.5)  # past the threshold after the stall: live again
        assert s.health() == tk.Health(True, True)


async def test_a_short_block_is_not_a_stall() -> None:
    async with tk.open_scheduler(max_workers=1, stall_threshold=1.0) as s:
        s.health()
        job = await s.add_job(tk.Never(), block_the_loop, 0.1)
        await s.trigger_job(job)
        await trio.sleep(0.2)
        assert s.health() == tk.Health(True, True)


def test_stall_threshold_is_checked() -> None:
    with pytest.raises(tk.InvalidArgument, match="stall_threshold"):
        tk.Scheduler(max_workers=1, stall_threshold=0)
    with pytest.raises(TypeError, match="stall_threshold"):
        tk.Scheduler(max_workers=1, stall_threshold="10")  # type: ignore[arg-type]


async def test_a_failed_store_write_makes_it_not_ready(tmp_path: Path) -> None:
    store = tk.SQLiteStore(tmp_path / "jobs.db")
    async with trio.open_nursery() as nursery:
        scheduler = tk.Scheduler(max_workers=1, store=store)
        await nursery.start(scheduler.run)
        assert scheduler.health() == tk.Health(True, True)
        journal = scheduler._coordinator.journal
        assert journal is not None
        journal._failure = OSError("disk full")  # what a failed write leaves behind
        health = scheduler.health()
        assert health.live
        assert not health.ready
        assert health.reasons == (f"{store.describe()}: a write failed",)
        journal._failure = None
        await scheduler.shutdown_graceful()


# ---------------------------------------------------------------------- probes


async def test_probes_say_only_ok_or_not_ok(autojump_clock: trio.testing.MockClock) -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        for app, root in ((Dashboard(s, title="x"), "/ops"), (Probes(s), "")):
            client = Client(app, root=root)
            for path in ("/healthz", "/readyz"):
                reply = await client.get(path)
                assert (reply.status, reply.text) == (200, "ok\n")
                assert reply.header("cache-control") == "no-store"
            reply = await client.request("POST", "/healthz")
            assert reply.status == 405
        probes = Client(Probes(s))
        assert (await probes.get("/")).status == 404
        # As if the heartbeat had just found the loop blocked for a minute.  (The stall
        # itself, on the real clock: test_a_blocked_event_loop_is_not_live_then_recovers;
        # here only what the probes answer is checked.)
        s._heartbeat.stall = (60.0, trio.current_time())
        reply = await probes.get("/healthz")
        assert (reply.status, reply.text) == (503, "not ok\n")  # and no reason leaked
        assert (await probes.get("/readyz")).status == 503
        s._heartbeat.stall = None
        assert (await probes.get("/healthz")).status == 200
        # A graceful shutdown waiting for a running attempt: live, but not ready.
        busy = await s.add_job(tk.Never(), sleep_long)
        with s.subscribe(tk.RunStarted) as started:
            await s.trigger_job(busy)
            await started.receive()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.shutdown_graceful)
            await trio.testing.wait_all_tasks_blocked()
            assert s.closing
            assert (await probes.get("/healthz")).status == 200
            assert (await probes.get("/readyz")).status == 503
            await s.shutdown_force()
    with pytest.raises(TypeError, match="scheduler must be"):
        Probes(object())  # type: ignore[arg-type]


# ---------------------------------------------------------------------- PostgreSQL


def _connections(admin_dsn: str, database: str, allow: bool) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS {str(allow).lower()}")
        if not allow:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )


async def test_readiness_follows_the_database(pg_cluster: object, pg_dsn: str) -> None:
    admin = pg_cluster.admin_dsn  # type: ignore[attr-defined]
    database = pg_dsn.rsplit("dbname=", 1)[1]
    store = tk.PostgresStore(pg_dsn, lease_ttl=1.5)
    async with tk.open_scheduler(max_workers=1, store=store, functions=[idle]) as s:
        await s.add_job(tk.Interval(0.2), idle, key="tick")
        assert s.health() == tk.Health(True, True)
        await trio.to_thread.run_sync(_connections, admin, database, False)
        try:
            await eventually(lambda: not s.health().ready, within=10)
            health = s.health()
            assert health.live
            assert "the leases are not renewed" in health.reasons[-1]
        finally:
            await trio.to_thread.run_sync(_connections, admin, database, True)
        await eventually(lambda: s.health().ready, within=10)
        assert s.health() == tk.Health(True, True)
