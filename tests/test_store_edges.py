"""What a durable store can hold, and what a stored row can make the process do.

* text a job produces (an error with a NUL or a lone surrogate) is made storable, on every
  store, and recorded;
* arguments that no durable store can hold are refused at the call, naming the path;
* a write the database refuses for one job's row fails that job only: every other job keeps
  running and being written (the refusal is injected with a trigger, on each store);
* a row never chooses the code: only functions this process registered run, and no module
  is imported because a row names it;
* a row that cannot be read makes its job unloadable, never the store; a file of another
  application is refused before anything is written to it.

Stores work in a thread, so these tests run on the real clock with short intervals.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import turnkeeper_trio as tk

RUNS: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _runs() -> Iterator[None]:
    RUNS.clear()
    yield
    RUNS.clear()


async def count(label: str) -> None:
    RUNS[label] = RUNS.get(label, 0) + 1


async def raise_bad_text(label: str) -> None:
    RUNS[label] = RUNS.get(label, 0) + 1
    raise ValueError("bad input byte \x00 here, and a lone \udcff surrogate")


async def keep(value: Any) -> None:
    RUNS["keep"] = RUNS.get("keep", 0) + 1


FUNCTIONS = (count, raise_bad_text, keep)

Factory = Callable[[], tk.abc.JobStore]


class Store:
    """One durable store under test, with a way to change its rows behind the scheduler."""

    def __init__(self, kind: str, tmp_path: Path, dsn: str | None) -> None:
        self.kind, self.path, self.dsn = kind, tmp_path / "jobs.db", dsn

    def __call__(self) -> tk.abc.JobStore:
        if self.kind == "sqlite":
            return tk.SQLiteStore(self.path)
        assert self.dsn is not None
        return tk.PostgresStore(self.dsn, lease_ttl=2.0)

    def execute(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db, db:
                return db.execute(statement.replace("%s", "?"), params).fetchall()
        import psycopg

        assert self.dsn is not None
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    @property
    def jobs(self) -> str:
        return "jobs" if self.kind == "sqlite" else "turnkeeper_jobs"

    def refuse_writes_of(self, key: str) -> None:
        """Make the database refuse every later write of *key*'s row (a constraint)."""
        if self.kind == "sqlite":
            for event in ("INSERT", "UPDATE"):
                self.execute(
                    f"CREATE TRIGGER refuse_{event.lower()} BEFORE {event} ON jobs "
                    f"WHEN NEW.key = '{key}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            return
        self.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.key = '{key}' THEN RAISE EXCEPTION 'refused by the test' "
            "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$"
        )
        self.execute(
            "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON turnkeeper_jobs "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    return Store(request.param, tmp_path, dsn)


@contextlib.asynccontextmanager
async def opened(store: Store, **kwargs: Any) -> AsyncIterator[tk.Scheduler]:
    kwargs.setdefault("functions", FUNCTIONS)
    async with tk.open_scheduler(max_workers=2, store=store(), **kwargs) as s:
        yield s


async def until(predicate: Callable[[], object], within: float = 10.0) -> None:
    """Wait until *predicate* holds.

    Checked every 10 ms on the real clock: the stores work in a thread, and what is awaited
    is a count of runs that no event announces.
    """
    with trio.fail_after(within):
        while not predicate():  # noqa: ASYNC110 - see the docstring
            await trio.sleep(0.01)


# ---------------------------------------------------------------------- text a job produces


async def test_an_error_with_a_nul_or_a_lone_surrogate_is_recorded_and_nothing_stops(
    store: Store,
) -> None:
    async with opened(store) as s:
        bad = await s.add_job(tk.Interval(0.05), raise_bad_text, "bad", key="bad")
        good = await s.add_job(tk.Interval(0.05), count, "good", key="good")
        await until(lambda: RUNS.get("bad", 0) >= 2 and RUNS.get("good", 0) >= 2)
        error = s.get_job_details(bad).last_runs[-1].error
        assert error is not None
        # The documented substitution: the escapes repr would show.
        assert error.message == "bad input byte \\x00 here, and a lone \\udcff surrogate"
        assert "\x00" not in error.traceback
        assert s.get_job_details(good).state is tk.JobState.SCHEDULED
    async with opened(store) as s2:
        (stored,) = [j for j in s2.list_all_jobs() if j.id.key == "bad"]
        runs = s2.get_job_details(stored.id).last_runs
        assert runs
        assert runs[-1].error is not None
        assert runs[-1].error.message == error.message


async def test_error_text_is_the_same_on_the_memory_store(autojump_clock: Any) -> None:
    """One substitution on every store, so code moves between them unchanged."""
    async with tk.open_scheduler(max_workers=1) as s:
        job = await s.add_job(tk.Never(), raise_bad_text, "bad")
        await s.trigger_job(job)
        await trio.sleep(1)
        error = s.get_job_details(job).last_runs[-1].error
        assert error is not None
        assert error.message == "bad input byte \\x00 here, and a lone \\udcff surrogate"


# ---------------------------------------------------------------------- values a store cannot hold


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("a\x00b",), "args[0]"),
        (({"a": "x\x00"},), "args[0]['a']"),
        (([1, {"k": ["\udcff"]}],), "args[0][1]['k'][0]"),
        (({"bad\x00key": 1},), "args[0]: the key"),
    ],
)
async def test_arguments_no_durable_store_can_hold_are_refused_at_the_call(
    store: Store, args: tuple[Any, ...], path: str
) -> None:
    async with opened(store) as s:
        with pytest.raises(tk.InvalidArgument) as info:
            await s.add_job(tk.Never(), keep, *args, key="refused")
        assert str(info.value).startswith(path)
        with pytest.raises(tk.InvalidArgument):
            s.try_add_job(tk.Never(), keep, *args)
        result = await s.add_jobs([tk.JobRequest(tk.Never(), keep, *args, key="in-a-batch")])
        assert [str(r.error)[: len(path)] for r in result.refused] == [path]
        # The scheduler goes on: nothing was accepted, and the next call works.
        job = await s.add_job(tk.Never(), keep, "fine", key="fine")
        ok = await s.add_job(tk.Never(), keep, "fine", key="other")
        with pytest.raises(tk.InvalidArgument, match=r"args\[0\]"):
            await s.update_job(ok, args=("x\x00",))
        assert {j.id.key for j in s.list_all_jobs()} == {"fine", "other"}
        assert s.get_job_details(job).state is tk.JobState.SCHEDULED


async def test_the_memory_store_holds_any_argument(autojump_clock: Any) -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        job = await s.add_job(tk.Never(), keep, "a\x00b")
        await s.trigger_job(job)
        await trio.sleep(1)
    assert RUNS.get("keep") == 1


# ---------------------------------------------------------------------- one refused row


async def test_a_refused_write_fails_that_job_and_every_other_job_goes_on(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "turnkeeper_trio")
    async with opened(store) as s:
        poison = await s.add_job(tk.Interval(0.05), count, "poison", key="poison")
        healthy = await s.add_job(tk.Interval(0.05), count, "healthy", key="healthy")
        await until(lambda: RUNS.get("poison", 0) >= 1 and RUNS.get("healthy", 0) >= 1)
        store.refuse_writes_of("poison")
        await until(lambda: s.get_job_details(poison).state is tk.JobState.FAILED)
        details = s.get_job_details(poison)
        assert details.error is not None
        assert "refused" in details.error.message
        assert s.get_metrics_snapshot().store_writes_refused >= 1
        assert "the store refused to write it" in caplog.text
        # Every other job keeps running, and is written.
        seen = RUNS["healthy"]
        await until(lambda: RUNS["healthy"] >= seen + 3)
        assert s.get_job_details(healthy).state is tk.JobState.SCHEDULED
        new = await s.add_job(tk.Interval(0.05), count, "new", key="new")
        await until(lambda: RUNS.get("new", 0) >= 1)
        ran = s.get_job_details(healthy).runs
    assert not s.get_metrics_snapshot().workers_active
    async with opened(store) as s2:
        by_key = {j.id.key: j for j in s2.list_all_jobs()}
        assert s2.get_job_details(by_key["healthy"].id).runs >= ran - 1
        assert "new" in by_key
    assert new.key == "new"


async def test_a_job_refused_when_first_written_fails_alone(store: Store) -> None:
    store_ = store
    async with opened(store_) as s:
        await s.add_job(tk.Never(), count, "x", key="first")  # creates the tables
    store_.refuse_writes_of("poison")
    async with opened(store_) as s:
        other = await s.add_job(tk.Interval(0.05), count, "other", key="other")
        poison = await s.add_job(tk.Interval(0.05), count, "poison", key="poison")
        assert s.get_job_details(poison).state is tk.JobState.FAILED
        await until(lambda: RUNS.get("other", 0) >= 3)
        assert s.get_job_details(other).state is tk.JobState.SCHEDULED
        assert "poison" not in RUNS


# ---------------------------------------------------------------------- a row never picks code


def _write_row_naming(store: Store, key: str, fn: str, args: list[Any]) -> None:
    """Point the stored job *key* at *fn* with *args*, as someone with write access could."""
    (definition,) = store.execute(f"SELECT definition FROM {store.jobs} WHERE key = %s", key)[0]
    data = json.loads(definition) if isinstance(definition, str) else definition
    data["fn"], data["args"] = fn, args
    if store.kind == "sqlite":
        store.execute("UPDATE jobs SET definition = %s WHERE key = %s", json.dumps(data), key)
    else:
        store.execute(
            "UPDATE turnkeeper_jobs SET definition = %s::jsonb, owner = NULL, token = NULL, "
            "lease_until = NULL WHERE key = %s",
            json.dumps(data),
            key,
        )


async def test_a_row_naming_any_importable_callable_is_not_run(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "turnkeeper_trio")
    async with opened(store) as s:
        await s.add_job(tk.Interval(0.05), count, "victim", key="victim")
        await s.add_job(tk.Interval(0.05), count, "bystander", key="bystander")
    pwned = tmp_path / "pwned"
    _write_row_naming(store, "victim", "os:system", [f"touch {pwned}"])
    async with opened(store) as s:
        by_key = {j.id.key: j for j in s.list_all_jobs()}
        details = s.get_job_details(by_key["victim"].id)
        assert details.error is not None
        assert "os:system is not registered" in details.error.message
        assert s.get_metrics_snapshot().jobs_unloadable == 1
        assert "os:system" in caplog.text
        seen = RUNS.get("bystander", 0)
        await until(lambda: RUNS.get("bystander", 0) >= seen + 3)
    assert not pwned.exists()


async def test_no_module_is_imported_because_a_row_names_it(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "side_effect_module.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nasync def job() -> None:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    async with opened(store) as s:
        await s.add_job(tk.Interval(60), count, "x", key="target")
    _write_row_naming(store, "target", "side_effect_module:job", [])
    async with opened(store) as s:
        (job,) = s.list_all_jobs()
        assert s.get_job_details(job.id).error is not None
    assert "side_effect_module" not in sys.modules
    assert not marker.exists()


async def test_functions_declared_up_front_run_jobs_an_earlier_life_added(store: Store) -> None:
    async with opened(store) as s:
        await s.add_job(tk.Interval(0.05), count, "runtime")  # no key: added at run time
    async with opened(store, functions=[count]) as s:
        await until(lambda: RUNS.get("runtime", 0) >= 2)
        assert s.get_metrics_snapshot().jobs_unloadable == 0
    RUNS.clear()
    async with opened(store, functions=()) as s:
        # Not declared, not added in this life: shown with its history, never run.
        (job,) = s.list_all_jobs()
        details = s.get_job_details(job.id)
        assert details.error is not None
        assert "not registered" in details.error.message
        assert details.runs >= 2
        await trio.sleep(0.3)
    assert "runtime" not in RUNS


def test_functions_must_be_storable_async_functions() -> None:
    with pytest.raises(TypeError, match=r"functions\[0\] must be an async function"):
        tk.Scheduler(max_workers=1, functions=[print])  # type: ignore[list-item]

    async def local() -> None:
        pass

    with pytest.raises(TypeError, match=r"functions\[1\].*closure"):
        tk.Scheduler(max_workers=1, functions=[count, local])
    with pytest.raises(TypeError, match="functions must be an iterable"):
        tk.Scheduler(max_workers=1, functions=count)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- rows that cannot be read


@pytest.mark.parametrize("column", ["state", "definition"])
async def test_a_row_of_the_wrong_shape_makes_only_its_job_unloadable(
    store: Store, column: str
) -> None:
    async with opened(store) as s:
        await s.add_job(tk.Interval(60), count, "bad", key="bad")
        await s.add_job(tk.Interval(0.05), count, "good", key="good")
    cast = "" if store.kind == "sqlite" else "::jsonb"
    store.execute(f"UPDATE {store.jobs} SET {column} = %s{cast} WHERE key = 'bad'", "[1, 2, 3]")
    RUNS.clear()
    async with opened(store) as s:
        by_key = {j.id.key: j for j in s.list_all_jobs()}
        error = s.get_job_details(by_key["bad"].id).error
        assert error is not None
        assert error.type == "StoredValueError"
        assert s.get_metrics_snapshot().jobs_unloadable == 1
        await until(lambda: RUNS.get("good", 0) >= 2)


async def test_a_row_of_invalid_json_makes_only_its_job_unloadable(tmp_path: Path) -> None:
    store = Store("sqlite", tmp_path, None)
    async with opened(store) as s:
        await s.add_job(tk.Interval(60), count, "bad", key="bad")
        await s.add_job(tk.Interval(0.05), count, "good", key="good")
    store.execute("UPDATE jobs SET state = '{not json' WHERE key = 'bad'")
    store.execute("UPDATE runs SET data = 'nor this' WHERE job_key = 'good'")
    async with opened(store) as s:
        by_key = {j.id.key: j for j in s.list_all_jobs()}
        error = s.get_job_details(by_key["bad"].id).error
        assert error is not None
        assert "not a JSON object" in error.message
        await until(lambda: RUNS.get("good", 0) >= 2)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_file_of_another_application_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "theirs.db"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance REAL)")
        db.execute("INSERT INTO accounts (balance) VALUES (10.5)")
    before = _digest(path)
    with pytest.raises(tk.StoreCorrupt, match=r"theirs\.db"):
        async with tk.open_scheduler(max_workers=1, store=tk.SQLiteStore(path)):
            pass  # pragma: no cover - never reached
    assert _digest(path) == before
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not (tmp_path / "theirs.db-wal").exists()


# ---------------------------------------------------------------------- the DSN


def test_a_dsn_libpq_cannot_parse_is_refused_at_construction() -> None:
    with pytest.raises(tk.InvalidArgument, match="dsn"):
        tk.PostgresStore("not a dsn ===")
    with pytest.raises(tk.InvalidArgument, match="dsn") as info:
        tk.PostgresStore("host=db password='secret")
    assert "secret" not in str(info.value)
    store = tk.PostgresStore("postgresql://app:secret@db/app")
    assert repr(store).count("PostgresStore") == 1
    assert "secret" not in repr(store)


async def test_details_name_the_function_and_count_the_arguments(store: Store) -> None:
    async with opened(store) as s:
        job = await s.add_job(tk.Never(), keep, "secret-token", key="k")
        details = s.get_job_details(job)
        assert details.function == "tests.test_store_edges:keep"
        assert details.arguments == 1
    _write_row_naming(store, "k", "os:system", ["x"])
    async with opened(store) as s:
        (summary,) = s.list_all_jobs()
        assert s.get_job_details(summary.id).function == "os:system"
