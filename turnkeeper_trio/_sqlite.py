"""``SQLiteStore``: jobs in one SQLite file, for one process on one machine.

The standard library's ``sqlite3`` blocks, so every call runs in a thread through
``trio.to_thread.run_sync`` with a ``CapacityLimiter`` of one owned by the store: one
connection, used by one thread at a time.  The file is in WAL mode with
``synchronous=FULL`` (a commit survives a power cut), every write is one ``BEGIN IMMEDIATE``
transaction, and a busy timeout covers a reader holding the file briefly (``sqlite3`` on the
command line, a backup).

Exclusion: while a scheduler has the store open it holds an exclusive lock on a lock file
beside the database (``jobs.db-lock``).  A second scheduler, in this process or another,
gets ``StoreLocked`` at open instead of running the same jobs twice.  The operating system
drops the lock the moment the holder exits, however it exits (SIGKILL, a power cut), so a
restarted process takes over at once, with no lease to wait out.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections import defaultdict
from collections.abc import Iterable
from typing import IO, Any

import trio

from ._codec import Codec
from ._store import (
    SKIPS_KEPT,
    Batch,
    JobRow,
    JobStore,
    Loaded,
    SkipRow,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    WriteRefused,
)
from ._validation import check_seconds

__all__ = ["SQLiteStore"]

#: ``PRAGMA application_id``: marks a file as a turnkeeper_trio store ("TKtr").
APPLICATION_ID = 0x544B7472
#: The schema version this code writes; older files are upgraded on open.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE jobs (
    key TEXT PRIMARY KEY,
    phase TEXT NOT NULL,
    next_run_at REAL,
    definition TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    job_key TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    scheduled_for REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX runs_by_job ON runs (job_key, id);
CREATE TABLE skipped (
    id INTEGER PRIMARY KEY,
    job_key TEXT NOT NULL,
    first REAL NOT NULL,
    last REAL NOT NULL,
    count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    exact INTEGER NOT NULL
);
CREATE INDEX skipped_by_job ON skipped (job_key, id);
"""

#: Upgrades from each older schema version to the next (none yet: version 1 is the first).
_MIGRATIONS: dict[int, str] = {}

_UPSERT = """
INSERT INTO jobs (key, phase, next_run_at, definition, state) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    phase = excluded.phase, next_run_at = excluded.next_run_at,
    definition = excluded.definition, state = excluded.state
"""


def _json(text: object) -> Any:
    """*text* parsed as JSON, or ``None`` if it is not JSON text."""
    if not isinstance(text, str | bytes):
        return None
    try:
        return json.loads(text)
    except ValueError:  # json.JSONDecodeError, or bytes that are not UTF-8
        return None


def _job_row(
    key: str, phase: object, next_run_at: object, definition: object, state: object
) -> JobRow:
    """One stored job; a row that cannot be read is kept, saying why (the job is unloadable)."""
    problems = []
    parsed = []
    for column, text in (("definition", definition), ("state", state)):
        value = _json(text)
        if not isinstance(value, dict):
            problems.append(f"its {column} is not a JSON object")
            value = {}
        parsed.append(value)
    if not isinstance(phase, str):
        problems.append("its phase is not text")
        phase = ""
    if next_run_at is not None and type(next_run_at) not in (int, float):
        next_run_at = None
    problem = "; ".join(problems) or None
    return JobRow(str(key), parsed[0], parsed[1], phase, next_run_at, problem)  # type: ignore[arg-type]


def _lock(path: str) -> IO[bytes]:
    """Take the exclusive lock of the store at *path*, or raise ``StoreLocked``."""
    lock_path = f"{path}-lock"
    try:
        handle = open(lock_path, "a+b")  # noqa: SIM115 - held open for the store's life
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the store's lock file: {exc}") from exc
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise StoreLocked(
            f"{path} is open in another scheduler (its lock file {lock_path} is held); "
            "one store serves one scheduler at a time: stop the other one, or give this one "
            "its own file"
        ) from None
    return handle


class SQLiteStore(JobStore):
    """Jobs in one SQLite file: they survive restarts and crashes of the process.

    Args:
        path: the database file; created with its schema if missing, upgraded if older.
        codecs: ``tk.Codec`` values for custom schedules and policies (see "Durable jobs").
        busy_timeout: seconds a write waits for another connection (a backup, the
            ``sqlite3`` shell) to release the file before it fails.

    One scheduler at a time: a second one opening the same file, here or in another process,
    gets ``StoreLocked``; once the first process is gone (even killed) the file is free.

    Example:
        ```python
        async with tk.open_scheduler(max_workers=4, store=tk.SQLiteStore("jobs.db")) as s:
            await s.add_job(tk.Cron("0 9 * * *"), reports.send, key="daily-report")
            await s.wait_stopped()
        ```
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        codecs: Iterable[Codec[Any]] = (),
        busy_timeout: float = 5.0,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
        super().__init__(codecs)
        self.path = os.fspath(path)
        self.busy_timeout = check_seconds("busy_timeout", busy_timeout, allow_zero=True)
        self._connection: sqlite3.Connection | None = None
        self._lock_handle: IO[bytes] | None = None
        self._limiter: trio.CapacityLimiter | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def describe(self) -> str:
        """The path, for messages."""
        return self.path

    async def _call(self, fn: Any, *args: Any) -> Any:
        if self._limiter is None:
            self._limiter = trio.CapacityLimiter(1)
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # ------------------------------------------------------------------ open

    async def open(self, history_size: int) -> Loaded:
        """Lock the file, create or upgrade its schema, and load every job."""
        if self._connection is not None:
            raise StoreLocked(f"{self.path}: this SQLiteStore is already open in a scheduler")
        loaded: Loaded = await self._call(self._open_sync, history_size)
        return loaded

    def _open_sync(self, history_size: int) -> Loaded:
        lock = _lock(self.path)
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            lock.close()
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc
        try:
            self._prepare(connection)
            loaded = self._load(connection, history_size)
        except BaseException:
            connection.close()
            lock.close()
            raise
        self._connection, self._lock_handle = connection, lock
        return loaded

    def _prepare(self, connection: sqlite3.Connection) -> None:
        try:
            # Read before writing anything: another application's file is refused as it is
            # (switching it to WAL would already change it).
            self._check_foreign(connection)
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot use WAL mode (the journal is {mode!r})")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("BEGIN IMMEDIATE")
            try:
                self._check_and_migrate(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # read-only, busy past the timeout, I/O
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # "file is not a database", malformed pages
            raise StoreCorrupt(f"{self.path}: not a readable SQLite store: {exc}") from exc

    def _check_foreign(self, connection: sqlite3.Connection) -> None:
        """Raise ``StoreCorrupt`` if the file is a database of something else (reads only)."""
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        (app_id,) = connection.execute("PRAGMA application_id").fetchone()
        if app_id == APPLICATION_ID:
            return
        if app_id != 0:
            raise StoreCorrupt(
                f"{self.path} is an SQLite database of another application (application_id "
                f"{app_id:#x}); give the store its own file"
            )
        tables = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone()[0]
        if tables or version:
            raise StoreCorrupt(
                f"{self.path} is an SQLite database of something else (it has tables "
                "but is not a turnkeeper_trio store); give the store its own file"
            )

    def _check_and_migrate(self, connection: sqlite3.Connection) -> None:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        (app_id,) = connection.execute("PRAGMA application_id").fetchone()
        if version == 0:
            tables = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
            if tables:
                raise StoreCorrupt(
                    f"{self.path} is an SQLite database of something else (it has tables "
                    "but is not a turnkeeper_trio store); give the store its own file"
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            return
        if app_id != APPLICATION_ID:
            raise StoreCorrupt(f"{self.path} is not a turnkeeper_trio store")
        if version > SCHEMA_VERSION:
            raise StoreCorrupt(
                f"{self.path} has schema version {version}, newer than this turnkeeper_trio "
                f"reads ({SCHEMA_VERSION}); upgrade turnkeeper_trio"
            )
        while version < SCHEMA_VERSION:
            for statement in _MIGRATIONS[version].split(";"):
                if statement.strip():
                    connection.execute(statement)
            version += 1
            connection.execute(f"PRAGMA user_version={version}")

    def _load(self, connection: sqlite3.Connection, history_size: int) -> Loaded:
        try:
            jobs = tuple(
                _job_row(key, phase, next_run_at, definition, state)
                for key, phase, next_run_at, definition, state in connection.execute(
                    "SELECT key, phase, next_run_at, definition, state FROM jobs ORDER BY rowid"
                )
            )
            runs: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
            for key, data in connection.execute(
                "SELECT job_key, data FROM (SELECT job_key, data, id, row_number() OVER "
                "(PARTITION BY job_key ORDER BY id DESC) AS n FROM runs) "
                "WHERE n <= ? ORDER BY id",
                (history_size,),
            ):
                record = _json(data)
                if isinstance(record, dict):  # an unreadable record only shortens the history
                    runs[key].append(record)
            skips: defaultdict[str, list[SkipRow]] = defaultdict(list)
            for key, first, last, count, reason, exact in connection.execute(
                "SELECT job_key, first, last, count, reason, exact FROM (SELECT *, "
                "row_number() OVER (PARTITION BY job_key ORDER BY id DESC) AS n "
                "FROM skipped) WHERE n <= ? ORDER BY id",
                (SKIPS_KEPT,),
            ):
                skips[key].append(SkipRow(key, first, last, count, reason, bool(exact)))
            (max_run_id,) = connection.execute("SELECT max(run_id) FROM runs").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(f"{self.path}: cannot read the store: {exc}") from exc
        return Loaded(jobs, dict(runs), dict(skips), max_run_id or 0)

    # ------------------------------------------------------------------ write

    async def write(self, batch: Batch) -> None:
        """Write *batch* in one ``BEGIN IMMEDIATE`` transaction."""
        await self._call(self._write_sync, batch)

    def _write_sync(self, batch: Batch) -> None:
        connection = self._connection
        if connection is None:
            raise StoreError(f"{self.path}: the store is not open")
        dumps = json.dumps
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    _UPSERT,
                    [
                        (r.key, r.phase, r.next_run_at, dumps(r.definition), dumps(r.state))
                        for r in batch.jobs
                    ],
                )
                if batch.runs:
                    connection.executemany(
                        "INSERT INTO runs (job_key, run_id, outcome, scheduled_for, data) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [
                            (
                                r.key,
                                r.record["run_id"],
                                r.record["outcome"],
                                r.record["scheduled_for"],
                                dumps(r.record),
                            )
                            for r in batch.runs
                        ],
                    )
                    self._prune(connection, "runs", {r.key for r in batch.runs}, batch.history_size)
                if batch.skips:
                    connection.executemany(
                        "INSERT INTO skipped (job_key, first, last, count, reason, exact) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [(s.key, s.first, s.last, s.count, s.reason, s.exact) for s in batch.skips],
                    )
                    self._prune(connection, "skipped", {s.key for s in batch.skips}, SKIPS_KEPT)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError) as exc:
            # The content, not the file: the same write would be refused again.
            raise WriteRefused(f"{self.path}: the database refused a row: {exc}") from exc
        except (ValueError, TypeError, OverflowError) as exc:  # not JSON, or out of range
            raise WriteRefused(f"{self.path}: a row cannot be written: {exc!r}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: a write failed: {exc}") from exc

    @staticmethod
    def _prune(connection: sqlite3.Connection, table: str, keys: set[str], keep: int) -> None:
        """Keep the newest *keep* rows of *table* for each of *keys*."""
        connection.executemany(
            f"DELETE FROM {table} WHERE job_key = ? AND id <= coalesce((SELECT id FROM "
            f"{table} WHERE job_key = ? ORDER BY id DESC LIMIT 1 OFFSET ?), -1)",
            [(key, key, keep) for key in keys],
        )

    # ------------------------------------------------------------------ close

    async def close(self) -> None:
        """Close the connection and release the lock (idempotent)."""
        if self._connection is None:
            return
        await self._call(self._close_sync)

    def _close_sync(self) -> None:
        connection, lock = self._connection, self._lock_handle
        self._connection = self._lock_handle = None
        try:
            if connection is not None:
                connection.close()
        finally:
            if lock is not None:
                lock.close()
