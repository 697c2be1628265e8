"""Stores: keys and attach on both stores; what an SQLiteStore keeps across restarts.

``SQLiteStore`` works in a thread, and trio's autojump clock would jump while the thread
works, so these tests run on the real clock with short intervals; each "life" of a service
is one ``open_scheduler`` block on the same file.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Calls:
    """What the jobs of this module did, with a way to wait for it (no polling)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, tk.JobContext]] = []
        self._changed = trio.Event()

    def add(self, label: str) -> None:
        self.items.append((label, tk.current_job()))
        self._changed.set()
        self._changed = trio.Event()

    def labels(self) -> list[str]:
        return [label for label, _ in self.items]

    async def until(self, count: int, within: float = 10.0) -> None:
        with trio.fail_after(within):
            while len(self.items) < count:
                await self._changed.wait()


CALLS = Calls()


@pytest.fixture(autouse=True)
def _calls() -> Calls:
    global CALLS
    CALLS = Calls()
    return CALLS


async def record(label: str) -> None:
    CALLS.add(label)


async def fail_first(label: str) -> bool:
    CALLS.add(label)
    return len(CALLS.items) > 1


async def always_fails(label: str) -> bool:
    CALLS.add(label)
    return False


class Holder:
    async def method(self, label: str) -> None:
        CALLS.add(label)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], tk.abc.JobStore]:
    """Every store, for behaviour that must not depend on the choice."""
    if request.param == "memory":
        return tk.MemoryStore
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
        return lambda: tk.PostgresStore(dsn, lease_ttl=2.0)
    return lambda: tk.SQLiteStore(tmp_path / "jobs.db")


Durable = Callable[..., tk.abc.JobStore]


@pytest.fixture(params=["sqlite", "postgres"])
def durable(request: pytest.FixtureRequest, tmp_path: Path) -> Durable:
    """Both durable stores: each call opens the same storage again (a new "life")."""
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")
        return lambda **kwargs: tk.PostgresStore(dsn, lease_ttl=2.0, **kwargs)
    return lambda **kwargs: tk.SQLiteStore(tmp_path / "jobs.db", **kwargs)


def sql(path: Path, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on the file, as someone inspecting it with the sqlite3 shell would."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        return db.execute(statement).fetchall()


def open_scheduler(**kwargs: Any) -> contextlib.AbstractAsyncContextManager[tk.Scheduler]:
    """``tk.open_scheduler`` declaring this module's job functions (``functions=``).

    A service declares the functions of the jobs it did not add in this life, so that a
    restart runs them from their rows; the tests of what happens without that say
    ``functions=()``.
    """
    kwargs.setdefault("functions", JOB_FUNCTIONS)
    return tk.open_scheduler(**kwargs)


def sqlite(tmp_path: Path, **kwargs: Any) -> tk.SQLiteStore:
    return tk.SQLiteStore(tmp_path / "jobs.db", **kwargs)


# ---------------------------------------------------------------------- both stores


async def test_a_key_names_one_job_and_re_adding_it_attaches(
    store_factory: Callable[[], tk.abc.JobStore],
) -> None:
    async with open_scheduler(max_workers=1, store=store_factory()) as s:
        first = await s.add_job(tk.Never(), record, "a", key="report")
        again = await s.add_job(tk.Never(), record, "a", key="report")
        assert again == first
        assert first.key == "report"
        assert [j.id for j in s.list_all_jobs()] == [first]
        await s.trigger_job(first)
        await CALLS.until(1)
        # A changed definition replaces the stored one; the counts are kept.
        renamed = await s.add_job(tk.Never(), record, "b", key="report", name="renamed")
        assert renamed == first
        details = s.get_job_details(first)
        assert details.name == "renamed"
        await s.trigger_job(first)
        await CALLS.until(2)
    assert CALLS.labels() == ["a", "b"]
    assert s.get_job_details(first).runs == 2


async def test_a_job_without_a_key_gets_a_unique_one(
    store_factory: Callable[[], tk.abc.JobStore],
) -> None:
    async with open_scheduler(max_workers=1, store=store_factory()) as s:
        one = await s.add_job(tk.Never(), record, "a")
        two = await s.add_job(tk.Never(), record, "a")
        assert one != two
        assert one.key != two.key
        assert one.key.startswith("~")


async def test_bad_keys_and_on_crash_are_refused_at_the_call(
    store_factory: Callable[[], tk.abc.JobStore],
) -> None:
    async with open_scheduler(max_workers=1, store=store_factory()) as s:
        with pytest.raises(tk.InvalidArgument, match="key"):
            await s.add_job(tk.Never(), record, "a", key="~mine")
        with pytest.raises(tk.InvalidArgument, match="key"):
            await s.add_job(tk.Never(), record, "a", key="")
        with pytest.raises(TypeError, match="key"):
            await s.add_job(tk.Never(), record, "a", key=7)  # type: ignore[arg-type]
        with pytest.raises(tk.InvalidArgument, match="on_crash"):
            await s.add_job(tk.Never(), record, "a", on_crash="sometimes")
        assert s.list_all_jobs() == []


async def test_occurrence_id_is_stable_across_retries(
    store_factory: Callable[[], tk.abc.JobStore],
) -> None:
    async with open_scheduler(max_workers=1, store=store_factory()) as s:
        job = await s.add_job(
            tk.Never(), fail_first, "x", key="flaky", retry=tk.FixedDelay(1, 0.01)
        )
        await s.trigger_job(job)
        await CALLS.until(2)
    (_, first), (_, second) = CALLS.items
    assert (first.attempt, second.attempt) == (1, 2)
    assert first.occurrence_id == second.occurrence_id
    assert first.occurrence_id.startswith("flaky@")


# ---------------------------------------------------------------------- across restarts


async def test_jobs_state_counts_and_history_survive_a_restart(
    tmp_path: Path, durable: Durable
) -> None:
    async with open_scheduler(max_workers=2, store=durable()) as s:
        ticker = await s.add_job(tk.Interval(0.02), record, "tick", key="ticker")
        paused = await s.add_job(tk.Interval(60), record, "paused", key="paused")
        await s.pause_job(paused)
        cancelled = await s.add_job(tk.Never(), record, "cancelled", key="cancelled")
        await s.cancel_job(cancelled)
        unkeyed = await s.add_job(tk.Never(), record, "unkeyed")
        await CALLS.until(3)
    before = s.get_job_details(ticker)
    assert before.runs >= 3
    async with open_scheduler(max_workers=2, store=durable()) as s2:
        by_key = {j.id.key: j for j in s2.list_all_jobs()}
        assert set(by_key) == {"ticker", "paused", "cancelled", unkeyed.key}
        assert by_key["paused"].state is tk.JobState.PAUSED
        assert by_key["cancelled"].state is tk.JobState.CANCELLED
        restored = s2.get_job_details(by_key["ticker"].id)
        assert restored.runs == before.runs
        assert restored.counts == before.counts
        assert restored.last_runs == before.last_runs
        # The id of an earlier life belongs to that scheduler, not to this one.
        with pytest.raises(tk.InvalidArgument, match="another scheduler"):
            s2.get_job_details(ticker)
        # Re-adding the key on start-up attaches: same job, counters kept, runs go on.
        attached = await s2.add_job(tk.Interval(0.02), record, "tick", key="ticker")
        assert attached == by_key["ticker"].id
        n = len(CALLS.items)
        await CALLS.until(n + 2)
    after = s2.get_job_details(attached)
    assert after.runs > before.runs
    new_ids = [r.run_id for r in after.last_runs if r not in before.last_runs]
    assert min(new_ids) > max(r.run_id for r in before.last_runs)  # ids never repeat
    assert "paused" not in CALLS.labels()


async def test_a_pending_retry_survives_a_restart(tmp_path: Path, durable: Durable) -> None:
    async with open_scheduler(max_workers=1, store=durable()) as s:
        job = await s.add_job(
            tk.Never(), always_fails, "x", key="flaky", retry=tk.FixedDelay(2, 30)
        )
        with s.subscribe(tk.RetryScheduled) as retries:
            await s.trigger_job(job)
            with trio.fail_after(5):
                await retries.receive()
        assert s.get_job_details(job).attempt == 2
        due = s.get_job_details(job).next_run_at
        assert due is not None
    async with open_scheduler(max_workers=1, store=durable()) as s2:
        (summary,) = s2.list_all_jobs()
        details = s2.get_job_details(summary.id)
        assert details.attempt == 2
        assert details.next_run_at is not None
        assert abs((details.next_run_at - due).total_seconds()) < 1.0


async def test_a_changed_definition_is_planned_from_the_last_fired_occurrence(
    tmp_path: Path,
) -> None:
    # Life 1: the 13:00 occurrence of an hourly grid fires.
    wall = MockWallClock(T0 + HOUR - timedelta(seconds=0.05))
    async with open_scheduler(max_workers=1, store=sqlite(tmp_path), wall_clock=wall) as s:
        await s.add_job(tk.Interval(HOUR, start=T0), record, "hourly", key="grid")
        await CALLS.until(1)
    assert CALLS.items[0][1].scheduled_for == T0 + HOUR
    # Life 2, ten minutes later, deploys a half-hourly grid: its next run is the first
    # occurrence after 13:00, not after now, and 13:00 does not run again.
    wall = MockWallClock(T0 + HOUR + timedelta(minutes=10))
    async with open_scheduler(max_workers=1, store=sqlite(tmp_path), wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(HOUR / 2, start=T0), record, "half", key="grid")
        assert s.get_job_details(job).next_run_at == T0 + HOUR * 1.5
        assert s.get_job_details(job).schedule == tk.Interval(HOUR / 2, start=T0)
    # Life 3 re-adds the same definition: nothing changes.
    async with open_scheduler(max_workers=1, store=sqlite(tmp_path), wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(HOUR / 2, start=T0), record, "half", key="grid")
        assert s.get_job_details(job).next_run_at == T0 + HOUR * 1.5
    assert len(CALLS.items) == 1


@pytest.mark.parametrize(
    ("misfire", "runs", "skipped"),
    [(tk.Coalesce(), [T0 + 5 * HOUR], 4), (tk.CatchUp(limit=2), [T0 + 4 * HOUR, T0 + 5 * HOUR], 3)],
)
async def test_occurrences_missed_while_down_go_through_the_misfire_policy(
    tmp_path: Path, misfire: tk.abc.MisfirePolicy, runs: list[datetime], skipped: int
) -> None:
    wall = MockWallClock(T0 + timedelta(seconds=1))
    async with open_scheduler(max_workers=1, store=sqlite(tmp_path), wall_clock=wall) as s:
        await s.add_job(tk.Interval(HOUR, start=T0), record, "h", key="hourly", misfire=misfire)
    # Down from 12:00 to 17:00: 13:00, 14:00, 15:00, 16:00 and 17:00 were missed.
    wall = MockWallClock(T0 + 5 * HOUR + timedelta(seconds=1))
    async with open_scheduler(max_workers=1, store=sqlite(tmp_path), wall_clock=wall) as s:
        await CALLS.until(len(runs))
        (summary,) = s.list_all_jobs()
        details = s.get_job_details(summary.id)
    assert [ctx.scheduled_for for _, ctx in CALLS.items] == runs
    assert details.misfires == skipped
    (gap,) = details.skipped
    assert (gap.first, gap.count, gap.reason) == (T0 + HOUR, skipped, "misfire")
    assert gap.last == T0 + skipped * HOUR
    # The range is in the file, for whoever inspects it.
    assert sql(tmp_path / "jobs.db", "SELECT count, reason FROM skipped") == [(skipped, "misfire")]


async def test_history_in_the_file_is_pruned_to_history_size(tmp_path: Path) -> None:
    async with open_scheduler(max_workers=1, store=sqlite(tmp_path), history_size=3) as s:
        await s.add_job(tk.Interval(0.01), record, "tick", key="ticker")
        await CALLS.until(8)
    assert sql(tmp_path / "jobs.db", "SELECT count(*) FROM runs") == [(3,)]


async def test_updates_and_commands_are_durable(tmp_path: Path, durable: Durable) -> None:
    async with open_scheduler(max_workers=1, store=durable()) as s:
        job = await s.add_job(tk.Never(), record, "old", key="job")
        with pytest.raises(TypeError, match="closure"):
            await s.update_job(job, async_fn=_closure())
        await s.update_job(job, args=("new",), name="renamed", timeout=5)
    async with open_scheduler(max_workers=1, store=durable()) as s:
        (summary,) = s.list_all_jobs()
        details = s.get_job_details(summary.id)
        assert (details.name, details.timeout) == ("renamed", 5)
        await s.trigger_job(summary.id)
        await CALLS.until(1)
    assert CALLS.labels() == ["new"]


# ---------------------------------------------------------------------- what can be stored


@attrs.frozen
class EveryOtherHour(tk.abc.Schedule):
    """A custom schedule, stored through a registered codec."""

    start: datetime

    def next_after(self, after: datetime) -> datetime | None:
        steps = math.floor((after - self.start) / (2 * HOUR)) + 1
        return self.start + max(steps, 0) * 2 * HOUR


EVERY_OTHER_HOUR = tk.Codec(
    "tests.every_other_hour",
    EveryOtherHour,
    encode=lambda s: {"start": s.start.isoformat()},
    decode=lambda data, version: EveryOtherHour(datetime.fromisoformat(data["start"])),
)


class PlusOne(tzinfo):
    """A hand-made zone: no key to store it by."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return HOUR

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "+01"


def _closure() -> Callable[[str], Any]:
    async def inner(label: str) -> None:
        pass

    return inner


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"async_fn": _closure()}, "closure"),
        ({"async_fn": Holder().method}, "bound method"),
        ({"async_fn": functools.partial(record)}, "partial"),
        ({"args": ((1, 2),)}, r"args\[0\].*tuple.*list"),
        ({"args": ({"a": {1, 2}},)}, r"args\[0\]\['a'\].*set"),
        ({"args": (math.nan,)}, r"args\[0\]"),
        ({"schedule": EveryOtherHour(T0)}, "EveryOtherHour has no codec"),
        ({"schedule": tk.Cron("0 9 * * *", tz=PlusOne())}, "tz: .*ZoneInfo"),
    ],
)
async def test_a_durable_store_refuses_what_it_cannot_store(
    tmp_path: Path, durable: Durable, kwargs: dict[str, Any], match: str
) -> None:
    call: dict[str, Any] = {"schedule": tk.Never(), "async_fn": record, "args": ("x",)}
    call.update(kwargs)
    async with open_scheduler(max_workers=1, store=durable()) as s:
        with pytest.raises(TypeError, match=match):
            await s.add_job(call["schedule"], call["async_fn"], *call["args"])
        with pytest.raises(TypeError, match=match):
            s.try_add_job(call["schedule"], call["async_fn"], *call["args"])
        assert s.list_all_jobs() == []
    # The memory store keeps Python objects, so it takes them.
    async with open_scheduler(max_workers=1) as s:
        await s.add_job(call["schedule"], call["async_fn"], *call["args"])


async def test_a_registered_codec_stores_a_custom_schedule(
    tmp_path: Path, durable: Durable
) -> None:
    async with open_scheduler(max_workers=1, store=durable(codecs=[EVERY_OTHER_HOUR])) as s:
        await s.add_job(EveryOtherHour(T0), record, "x", key="custom")
    async with open_scheduler(max_workers=1, store=durable(codecs=[EVERY_OTHER_HOUR])) as s:
        (summary,) = s.list_all_jobs()
        assert s.get_job_details(summary.id).schedule == EveryOtherHour(T0)
    # Without the codec, the job is kept and reported, not run; a built-in schedule for
    # its key replaces what could not be read.
    async with open_scheduler(max_workers=1, store=durable()) as s:
        (summary,) = s.list_all_jobs()
        error = s.get_job_details(summary.id).error
        assert error is not None
        assert "tests.every_other_hour" in error.message
        replaced = await s.add_job(tk.Interval(0.02), record, "x", key="custom")
        assert replaced == summary.id
        assert s.get_job_details(replaced).schedule.every == timedelta(seconds=0.02)  # type: ignore[attr-defined]
        await CALLS.until(1)
    async with open_scheduler(max_workers=1, store=durable()) as s:
        (summary,) = s.list_all_jobs()
        assert s.get_job_details(summary.id).error is None
        assert s.get_metrics_snapshot().jobs_unloadable == 0


# ---------------------------------------------------------------------- a function that is gone


async def test_a_job_whose_function_does_not_import_is_reported_and_not_run(
    tmp_path: Path,
    durable: Durable,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "gone_module.py").write_text(
        "from tests.test_store import CALLS\n"
        "async def job(label: str) -> None:\n"
        "    from tests import test_store\n"
        "    test_store.CALLS.add(label)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import gone_module  # type: ignore[import-not-found]

    async with open_scheduler(max_workers=1, store=durable()) as s:
        await s.add_job(tk.Interval(0.02), gone_module.job, "old", key="legacy")
        await CALLS.until(1)
    # The next deploy no longer has the module.
    (tmp_path / "gone_module.py").unlink()
    monkeypatch.delitem(sys.modules, "gone_module")
    count = len(CALLS.items)
    async with open_scheduler(max_workers=1, store=durable()) as s:
        (summary,) = s.list_all_jobs()
        details = s.get_job_details(summary.id)
        assert details.error is not None
        assert "gone_module" in details.error.message
        assert s.get_metrics_snapshot().jobs_unloadable == 1
        assert "gone_module" in caplog.text
        with pytest.raises(tk.JobNotLoaded):
            await s.pause_job(summary.id)
        # A job on the same grid runs three times; the unloadable one, due as often, not once.
        await s.add_job(tk.Interval(0.02), record, "marker", key="marker")
        await CALLS.until(count + 3)
        assert set(CALLS.labels()[count:]) == {"marker"}
        count = len(CALLS.items)
        # Code that has a function attaches to the key: the job runs again, history kept.
        fixed = await s.add_job(tk.Interval(0.02), record, "new", key="legacy")
        assert fixed == summary.id
        assert s.get_metrics_snapshot().jobs_unloadable == 0
        with trio.fail_after(10):
            while "new" not in CALLS.labels()[count:]:
                await CALLS.until(len(CALLS.items) + 1)
        assert s.get_job_details(fixed).runs >= 1


# ---------------------------------------------------------------------- opening


async def test_a_corrupt_file_raises_a_typed_error_naming_it_at_open(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    path.write_bytes(b"this is not a database, just some bytes\n" * 200)
    entered = False
    with pytest.raises(tk.StoreCorrupt, match=str(path)):
        async with open_scheduler(max_workers=1, store=tk.SQLiteStore(path)):
            entered = True
    assert not entered


async def test_an_sqlite_file_of_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    sql(path, "CREATE TABLE users (name TEXT)")
    with pytest.raises(tk.StoreCorrupt, match="not a turnkeeper_trio store"):
        async with open_scheduler(max_workers=1, store=tk.SQLiteStore(path)):
            pass


async def test_a_store_written_by_a_newer_version_is_refused(tmp_path: Path) -> None:
    async with open_scheduler(max_workers=1, store=sqlite(tmp_path)):
        pass
    sql(tmp_path / "jobs.db", "PRAGMA user_version=99")
    with pytest.raises(tk.StoreCorrupt, match="schema version 99"):
        async with open_scheduler(max_workers=1, store=sqlite(tmp_path)):
            pass


async def test_an_unopenable_path_raises_store_error(tmp_path: Path) -> None:
    store = tk.SQLiteStore(tmp_path / "missing-dir" / "jobs.db")
    with pytest.raises(tk.StoreError, match="missing-dir"):
        async with open_scheduler(max_workers=1, store=store):
            pass


async def test_a_second_scheduler_on_the_same_file_is_refused_until_the_first_stops(
    tmp_path: Path,
) -> None:
    async with open_scheduler(max_workers=1, store=sqlite(tmp_path)) as s:
        await s.add_job(tk.Never(), record, "x", key="only")
        with pytest.raises(tk.StoreLocked, match=r"jobs\.db"):
            async with open_scheduler(max_workers=1, store=sqlite(tmp_path)):
                pass
    async with open_scheduler(max_workers=1, store=sqlite(tmp_path)) as s:
        assert [j.id.key for j in s.list_all_jobs()] == ["only"]


class FailingStore(tk.SQLiteStore):
    """An SQLite store whose disk fills up after the first write."""

    writes = 0

    async def write(self, batch: tk.abc.Batch) -> None:
        self.writes += 1
        if self.writes > 1:
            raise tk.StoreError(f"{self.path}: database or disk is full")
        await super().write(batch)


async def test_a_failed_write_stops_the_scheduler_with_store_error(tmp_path: Path) -> None:
    with pytest.raises(tk.StoreError, match="disk is full"):
        async with open_scheduler(max_workers=1, store=FailingStore(tmp_path / "jobs.db")) as s:
            await s.add_job(tk.Never(), record, "x", key="a")
            await s.add_job(tk.Never(), record, "x", key="b")
            await trio.sleep_forever()


async def test_a_failed_write_behind_the_body_still_comes_out_of_the_block(
    tmp_path: Path,
) -> None:
    entered = trio.Event()
    with pytest.raises(tk.StoreError, match="disk is full"):
        async with open_scheduler(max_workers=1, store=FailingStore(tmp_path / "jobs.db")) as s:
            await s.add_job(tk.Interval(0.01), record, "x", key="a")
            entered.set()
            await trio.sleep_forever()  # the job's next outcome is the write that fails
    assert entered.is_set()


# ---------------------------------------------------------------------- more of the contract


@pytest.mark.parametrize(
    "value",
    [
        tk.Cron("0 9 * * MON-FRI", tz=ZoneInfo("Europe/Paris")),
        tk.WeekdayTimes([("mon", time(9, 30)), ("fri", time(17))], tz=ZoneInfo("America/New_York")),
        tk.Interval(timedelta(minutes=5), start=datetime(2026, 1, 1, 0, 0, 0, 123457, tzinfo=UTC)),
        tk.Interval(90),
        tk.Once(datetime(2227, 1, 1, 0, 0, 0, 999999, tzinfo=timezone(timedelta(hours=5)))),
        tk.Never(),
        tk.ExponentialBackoff(3, initial=0.5, jitter=0.1),
        tk.FixedDelay(2, 5),
        tk.MaxRuns(3),
        tk.Until(datetime(2027, 1, 1, tzinfo=UTC)),
        tk.Forever(),
        tk.Coalesce(grace=60),
        tk.CatchUp(limit=5, grace=10),
    ],
    ids=repr,
)
def test_built_in_strategies_come_back_equal_from_their_stored_json(value: object) -> None:
    codecs = tk.SQLiteStore("unused.db").codecs
    stored = json.loads(json.dumps(codecs.encode(value, "value")))
    assert codecs.decode(stored) == value


async def test_a_trigger_waiting_on_a_paused_job_survives_a_restart(
    tmp_path: Path, durable: Durable
) -> None:
    async with open_scheduler(max_workers=1, store=durable()) as s:
        job = await s.add_job(tk.Never(), record, "x", key="manual")
        await s.pause_job(job)
        await s.trigger_job(job)  # kept for resume
    async with open_scheduler(max_workers=1, store=durable()) as s:
        (summary,) = s.list_all_jobs()
        assert s.get_job_details(summary.id).trigger_pending
        await s.resume_job(summary.id)
        await CALLS.until(1)
    assert CALLS.labels() == ["x"]


async def test_misfires_show_as_skipped_ranges_in_memory_too(autojump_clock: object) -> None:
    wall = MockWallClock(T0)
    async with open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(60, start=T0), record, "x")
        await trio.sleep(30)
        # The dispatcher wakes at 12:01 by Trio's clock, 12:06 by the wall clock after the
        # jump: 12:01 .. 12:06 are due, and Coalesce runs 12:06 and skips five.
        wall.jump(300)
        await CALLS.until(1, within=120)
        (gap,) = s.get_job_details(job).skipped
    assert (gap.first, gap.last, gap.count, gap.reason) == (
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=5),
        5,
        "misfire",
    )
    assert CALLS.items[0][1].scheduled_for == T0 + timedelta(minutes=6)
    assert job.key == f"~{job.value}"


async def test_try_add_job_before_the_start_attaches_to_the_stored_key(
    tmp_path: Path, durable: Durable
) -> None:
    async with open_scheduler(max_workers=1, store=durable()) as s:
        job = await s.add_job(tk.Never(), record, "old", key="early")
        await s.trigger_job(job)
        await CALLS.until(1)
    scheduler = tk.Scheduler(max_workers=1, store=durable())
    early = scheduler.try_add_job(tk.Never(), record, "new", key="early")
    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        (summary,) = scheduler.list_all_jobs()
        assert summary.id == early
        assert scheduler.get_job_details(early).runs == 1  # the stored job, attached
        await scheduler.trigger_job(early)
        await CALLS.until(2)
        await scheduler.shutdown_graceful()
    assert CALLS.labels() == ["old", "new"]


async def test_commands_and_queries_behave_the_same_on_both_stores(
    store_factory: Callable[[], tk.abc.JobStore],
) -> None:
    async with open_scheduler(max_workers=1, store=store_factory()) as s:
        job = await s.add_job(tk.Never(), record, "a", key="job", on_crash="skip")
        details = s.get_job_details(job)
        assert (details.on_crash, details.next_run_at) == ("skip", None)
        await s.pause_job(job)
        await s.trigger_job(job)  # waits for the resume
        assert s.get_job_details(job).state is tk.JobState.PAUSED
        await s.update_job(job, args=("b",))
        await s.resume_job(job)
        await CALLS.until(1)
        await s.cancel_job(job)
        (summary,) = s.list_all_jobs()
        assert (summary.id, summary.state) == (job, tk.JobState.CANCELLED)
        with pytest.raises(tk.JobFinished):
            await s.trigger_job(job)
    assert CALLS.labels() == ["b"]
    assert s.get_job_details(job).counts.succeeded == 1


def test_store_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="store"):
        tk.Scheduler(max_workers=1, store="jobs.db")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path"):
        tk.SQLiteStore(42)  # type: ignore[arg-type]
    with pytest.raises(tk.InvalidArgument, match="busy_timeout"):
        tk.SQLiteStore("jobs.db", busy_timeout=-1)
    with pytest.raises(TypeError, match="codecs"):
        tk.SQLiteStore("jobs.db", codecs=["not a codec"])  # type: ignore[list-item]
    with pytest.raises(tk.InvalidArgument, match="registered twice"):
        tk.SQLiteStore("jobs.db", codecs=[EVERY_OTHER_HOUR, EVERY_OTHER_HOUR])


async def test_one_store_instance_serves_one_scheduler_at_a_time(tmp_path: Path) -> None:
    store = sqlite(tmp_path)
    async with open_scheduler(max_workers=1, store=store):
        with pytest.raises(tk.StoreLocked, match="already open"):
            async with open_scheduler(max_workers=1, store=store):
                pass
    async with open_scheduler(max_workers=1, store=store):  # free again once closed
        pass


async def test_a_finished_job_whose_function_is_gone_is_not_counted_as_unloadable(
    tmp_path: Path, durable: Durable, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "old_module.py").write_text("async def job() -> None:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import old_module  # type: ignore[import-not-found]

    async with open_scheduler(max_workers=1, store=durable()) as s:
        job = await s.add_job(tk.Never(), old_module.job, key="retired")
        await s.cancel_job(job)
    (tmp_path / "old_module.py").unlink()
    monkeypatch.delitem(sys.modules, "old_module")
    async with open_scheduler(max_workers=1, store=durable()) as s:
        (summary,) = s.list_all_jobs()
        assert summary.state is tk.JobState.CANCELLED
        assert s.get_metrics_snapshot().jobs_unloadable == 0


async def test_a_retried_trigger_with_the_same_idempotency_key_runs_once(
    store_factory: Callable[[], tk.abc.JobStore],
) -> None:
    async with open_scheduler(max_workers=1, store=store_factory()) as s:
        job = await s.add_job(tk.Never(), record, "x", key="manual")
        marker = await s.add_job(tk.Never(), record, "marker", key="marker")
        await s.trigger_job(job, idempotency_key="request-1")
        await CALLS.until(1)
        await s.trigger_job(job, idempotency_key="request-1")  # the client retried
        # One worker, triggers in order: a second run of the job would come before this one.
        await s.trigger_job(marker)
        await CALLS.until(2)
        await s.trigger_job(job, idempotency_key="request-2")
        await CALLS.until(3)
        with pytest.raises(tk.InvalidArgument, match="idempotency_key"):
            await s.trigger_job(job, idempotency_key="")
    assert CALLS.labels() == ["x", "marker", "x"]


async def test_idempotency_keys_survive_a_restart(tmp_path: Path, durable: Durable) -> None:
    async with open_scheduler(max_workers=1, store=durable()) as s:
        job = await s.add_job(tk.Never(), record, "x", key="manual")
        await s.trigger_job(job, idempotency_key="request-1")
        await CALLS.until(1)
    async with open_scheduler(max_workers=1, store=durable()) as s:
        (summary,) = s.list_all_jobs()
        await s.trigger_job(summary.id, idempotency_key="request-1")  # seen before the restart
        marker = await s.add_job(tk.Never(), record, "marker", key="marker")
        await s.trigger_job(marker)
        await CALLS.until(2)
        await s.trigger_job(summary.id, idempotency_key="request-2")
        await CALLS.until(3)
    assert CALLS.labels() == ["x", "marker", "x"]


# ---------------------------------------------------------------------- restore fidelity


def _comparable(details: tk.JobDetails) -> dict[str, Any]:
    """What a restart must keep of a job (ids are per process, so the key stands for it)."""
    fields = attrs.asdict(details, recurse=False)
    fields["id"] = details.id.key
    return fields


async def test_a_restart_shows_every_job_exactly_as_it_was(tmp_path: Path) -> None:
    paris = ZoneInfo("Europe/Paris")
    wall = MockWallClock(T0)
    async with open_scheduler(max_workers=2, store=sqlite(tmp_path), wall_clock=wall) as s:
        add = s.add_job
        await add(tk.Interval(HOUR, start=T0), record, "grid", key="grid")
        await add(tk.Interval(HOUR / 2), record, "unanchored", key="unanchored")
        await add(tk.Cron("30 9 * * MON-FRI", tz=paris), record, "cron", key="cron")
        await add(
            tk.WeekdayTimes([("tue", time(8)), ("sat", time(23, 59))], tz=paris),
            record,
            "weekday",
            key="weekday",
            lifetime=tk.MaxRuns(3),
            misfire=tk.CatchUp(limit=4, grace=60),
        )
        await add(tk.Once(T0 + 3 * HOUR), record, "once", key="once", timeout=12.5)
        paused = await add(tk.Interval(HOUR), record, "paused", key="paused")
        await s.pause_job(paused)
        await s.trigger_job(paused)
        cancelled = await add(tk.Never(), record, "cancelled", key="cancelled")
        await s.cancel_job(cancelled)
        updated = await add(tk.Interval(HOUR), record, "updated", key="updated")
        await s.update_job(updated, schedule=tk.Cron("0 */2 * * *"), name="renamed", args=("u",))
        with s.subscribe(tk.RetryScheduled) as retries:
            flaky = await add(
                tk.Never(),
                always_fails,
                "flaky",
                key="flaky",
                retry=tk.ExponentialBackoff(3, initial=3600, max_delay=7200, jitter=0.5, seed=7),
                quarantine_after=5,
                on_crash="skip",
            )
            await s.trigger_job(flaky)
            with trio.fail_after(5):
                await retries.receive()
        done = await add(tk.Never(), record, "manual", key="manual")
        await s.trigger_job(done, idempotency_key="r1")
        await CALLS.until(2)
        await add(tk.Never(), record, "unkeyed")
        before = {
            d["id"]: d for d in (_comparable(s.get_job_details(j.id)) for j in s.list_all_jobs())
        }
    async with open_scheduler(
        max_workers=2, store=sqlite(tmp_path), wall_clock=MockWallClock(wall.now())
    ) as s:
        after = {
            d["id"]: d for d in (_comparable(s.get_job_details(j.id)) for j in s.list_all_jobs())
        }
        await s.shutdown_force()
    assert set(after) == set(before)
    for key, was in before.items():
        now = after[key]
        was_next, now_next = was.pop("next_run_at"), now.pop("next_run_at")
        assert (was_next is None) == (now_next is None), key
        if was_next is not None:
            assert abs((now_next - was_next).total_seconds()) < 1.0, key
        assert now == was, key
    assert after["paused"]["trigger_pending"]
    assert after["flaky"]["attempt"] == 2


async def stored_start(path: str, key: str) -> None:
    """Record whether the store already says this attempt started (read as a shell would)."""
    ((state,),) = sql(Path(path), f"SELECT state FROM jobs WHERE key = '{key}'")
    run = json.loads(state)["run"]
    CALLS.add("started" if run is not None and run[4] else "not written")


async def test_an_at_most_once_attempt_is_written_as_started_before_its_code_runs(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "jobs.db")
    async with open_scheduler(max_workers=1, store=tk.SQLiteStore(path)) as s:
        job = await s.add_job(tk.Never(), stored_start, path, "once", key="once", on_crash="skip")
        await s.trigger_job(job)
        await CALLS.until(1)
    assert CALLS.labels() == ["started"]


async def hangs(label: str) -> None:
    CALLS.add(label)
    await trio.sleep_forever()


async def test_a_forced_shutdown_records_the_cancelled_attempt_and_does_not_rerun_it(
    tmp_path: Path, durable: Durable
) -> None:
    class Stop(Exception):
        pass

    with pytest.raises(Stop):
        async with open_scheduler(max_workers=1, store=durable()) as s:
            job = await s.add_job(tk.Never(), hangs, "x", key="hangs")
            await s.trigger_job(job)
            await CALLS.until(1)
            raise Stop
    async with open_scheduler(max_workers=1, store=durable()) as s:
        (hung,) = s.list_all_jobs()
        details = s.get_job_details(hung.id)
        assert details.state is tk.JobState.SCHEDULED
        assert details.counts.cancelled == 1
        assert [r.outcome for r in details.last_runs] == [tk.Outcome.CANCELLED]
        # One worker: a re-run of the hung attempt (due at load) would take it before this.
        marker = await s.add_job(tk.Never(), record, "marker", key="marker")
        await s.trigger_job(marker)
        await CALLS.until(2)
        await s.cancel_job(hung.id)
    assert CALLS.labels() == ["x", "marker"]


#: The job functions of this module (the ones the tests' services declare).
JOB_FUNCTIONS = (record, fail_first, always_fails, stored_start, hangs)


# ---------------------------------------------------------------------- calendar schedules


def _calendar_schedules() -> dict[str, tk.abc.Schedule]:
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "excluding": tk.Cron("0 9 * * *", tz=paris).excluding(
            tk.Weekdays("sat", "sun")
            | tk.Holidays("FR")
            | tk.Holidays("US", subdiv="NY", tz=ZoneInfo("America/New_York"))
            | tk.Dates(["2026-03-02"], label="closed")
            | tk.YearlyDates(["12-24"])
        ),
        "rrule": tk.RRule(
            "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18",
            tz=paris,
            dtstart=datetime(2026, 1, 1, tzinfo=paris),
            dst=tk.DST(gap="skip", fold="both"),
        ),
        "cron_dst": tk.Cron("30 2 * * *", tz=paris, dst=tk.DST(gap="shift", fold="last")),
        "weekday_dst": tk.WeekdayTimes.every_day("02:30", tz=paris, dst=tk.DST(fold="both")),
        "union": tk.Cron("0 9 * * *") | tk.Interval(7200, start=start),
        "window": tk.Cron("0 * * * *").between(start, start + timedelta(days=400)),
    }


async def test_calendar_schedules_round_trip_through_durable_stores(
    durable: Durable,
) -> None:
    schedules = _calendar_schedules()
    async with open_scheduler(max_workers=1, store=durable()) as s:
        for key, schedule in schedules.items():
            await s.add_job(schedule, record, key, key=key)
    after = datetime(2026, 10, 20, tzinfo=UTC)
    async with open_scheduler(max_workers=1, store=durable()) as s2:
        by_key = {j.id.key: s2.get_job_details(j.id) for j in s2.list_all_jobs()}
        for key, schedule in schedules.items():
            stored = by_key[key].schedule
            assert stored == schedule, key
            assert stored.preview(after, 20) == schedule.preview(after, 20), key
