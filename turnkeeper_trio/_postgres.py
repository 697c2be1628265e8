"""``PostgresStore``: jobs in a PostgreSQL database, shared by any number of replicas.

Every replica loads every job, and runs the jobs it holds a *lease* on.  A lease is three
columns of the job's row (``owner``, ``token``, ``lease_until``): a replica takes the rows
that are free or whose lease has expired by the database's clock (``FOR UPDATE SKIP LOCKED``,
so two replicas never take the same row), each with a new fencing token from a sequence, and
renews all of its leases in one statement every ``lease_ttl / 3``.  Every write of a job's
state is accepted only while the row still holds the writer's token and an unexpired lease:
a replica that was stopped, partitioned or slow past its lease can never record anything
for a job another replica has taken over (it learns so from the write, and counts the
attempt as fenced).

The replica that holds a job runs it with the ordinary planner; what it changes is written
behind it in batches, as with ``SQLiteStore``, and an attempt starts only once its start is
committed under the lease (so a replica that takes the job over knows it may have run).
Commands for a job another replica holds go through a table: the holder applies them in
order and marks them applied in the same transaction as what they changed; a start is
refused while a command for its job waits, so once ``pause_job`` has returned no attempt of
that job starts anywhere.  ``NOTIFY`` wakes the other replicas at once; ``max_sleep`` and
the lease renewals are the fallback.

psycopg's synchronous API is called through ``trio.to_thread.run_sync`` with a
``CapacityLimiter`` of one per connection; the listening connection is waited on with
``trio.lowlevel.wait_readable`` and needs no thread.
"""

from __future__ import annotations

import json
import math
import os
import socket
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import trio

from ._codec import Codec
from ._exceptions import InvalidArgument
from ._store import (
    SKIPS_KEPT,
    Batch,
    JobRow,
    JobStore,
    Loaded,
    SkipRow,
    StoreCorrupt,
    StoreError,
    WriteRefused,
)
from ._validation import check_seconds

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "Acquired",
    "Changes",
    "Command",
    "PostgresStore",
    "ReplicaInfo",
    "StoreUnavailable",
    "Written",
]

#: The schema version this code writes; older schemas are upgraded on open.
SCHEMA_VERSION = 1
#: ``pg_advisory_xact_lock`` key serializing schema creation and upgrades ("TKtr").
_SCHEMA_LOCK = 0x544B7472
#: The channel every replica listens on.
CHANNEL = "turnkeeper"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turnkeeper_meta (name text PRIMARY KEY, value text NOT NULL);
CREATE SEQUENCE IF NOT EXISTS turnkeeper_tokens;
CREATE SEQUENCE IF NOT EXISTS turnkeeper_changes;
CREATE SEQUENCE IF NOT EXISTS turnkeeper_replica_numbers;
CREATE TABLE IF NOT EXISTS turnkeeper_jobs (
    key text PRIMARY KEY,
    phase text NOT NULL,
    next_run_at double precision,
    definition jsonb NOT NULL,
    state jsonb NOT NULL,
    owner text,
    token bigint,
    lease_until timestamptz,
    change bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS turnkeeper_jobs_change ON turnkeeper_jobs (change);
CREATE TABLE IF NOT EXISTS turnkeeper_runs (
    id bigserial PRIMARY KEY,
    job_key text NOT NULL,
    run_id bigint NOT NULL,
    outcome text NOT NULL,
    scheduled_for double precision NOT NULL,
    data jsonb NOT NULL,
    replica text NOT NULL,
    UNIQUE (job_key, run_id)
);
CREATE TABLE IF NOT EXISTS turnkeeper_skipped (
    id bigserial PRIMARY KEY,
    job_key text NOT NULL,
    first double precision NOT NULL,
    last double precision NOT NULL,
    count integer NOT NULL,
    reason text NOT NULL,
    exact boolean NOT NULL,
    UNIQUE (job_key, first, reason)
);
CREATE TABLE IF NOT EXISTS turnkeeper_commands (
    id bigserial PRIMARY KEY,
    job_key text NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    origin text NOT NULL,
    posted_at timestamptz NOT NULL DEFAULT now(),
    applied_at timestamptz
);
CREATE INDEX IF NOT EXISTS turnkeeper_commands_pending
    ON turnkeeper_commands (job_key, id) WHERE applied_at IS NULL;
CREATE TABLE IF NOT EXISTS turnkeeper_replicas (
    id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz
)
"""

#: Upgrades from each older schema version to the next (none yet: version 1 is the first).
_MIGRATIONS: dict[int, str] = {}

#: Indexes that keep a lease round from scanning the table: free and expiring leases by
#: ``lease_until`` (free rows first).  Created at every open if missing; they change no
#: meaning, so replicas of the previous release use the schema unchanged.
_INDEXES = """
CREATE INDEX IF NOT EXISTS turnkeeper_jobs_lease
    ON turnkeeper_jobs (lease_until NULLS FIRST) WHERE phase IN ('active', 'paused')
"""

#: Leases taken by one statement at most: a takeover larger than this goes on in batches,
#: renewing between them, so that taking a share never takes longer than its leases last.
ACQUIRE_BATCH = 2000

_JOB_COLUMNS = "key, phase, next_run_at, definition, state, owner, lease_until > now(), change"


@attrs.frozen
class Command:
    """A command posted for a job (by any replica), to be applied by the job's holder."""

    id: int
    key: str
    kind: str
    payload: dict[str, Any]


@attrs.frozen
class Acquired:
    """Jobs whose leases a replica has just taken, with what it needs to run them."""

    jobs: tuple[JobRow, ...] = ()
    runs: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict)
    skips: dict[str, list[SkipRow]] = attrs.field(factory=dict)
    commands: tuple[Command, ...] = ()
    #: Seconds (by the database's clock) until another replica's lease expires, if any.
    next_expiry: float | None = None
    #: More leases were free or expired than one call takes (``ACQUIRE_BATCH``).
    more: bool = False


@attrs.frozen
class Written:
    """What a fenced write found: leases lost, starts refused, new keys taken elsewhere."""

    #: Jobs whose lease this replica no longer holds: nothing of theirs was written.
    lost: frozenset[str] = frozenset()
    #: Jobs whose newly started attempt was refused (a command waits for them).
    refused: frozenset[str] = frozenset()
    #: Commands waiting for the jobs this replica holds.
    commands: tuple[Command, ...] = ()
    #: Attempt records dropped because their job's lease was lost.
    fenced_runs: int = 0
    #: The database's clock at the write (POSIX seconds).
    db_now: float = 0.0


@attrs.frozen
class Changes:
    """Rows changed by other replicas since the last look, and commands for this one."""

    #: Each job row, with its holder and whether its lease is live.
    jobs: tuple[tuple[JobRow, str | None, bool], ...] = ()
    runs: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict)
    skips: dict[str, list[SkipRow]] = attrs.field(factory=dict)
    commands: tuple[Command, ...] = ()


@attrs.frozen
class ReplicaInfo:
    """One replica sharing a ``PostgresStore``, as ``PostgresStore.replicas()`` reports it.

    Example:
        ```python
        for replica in await store.replicas():
            print(replica.id, replica.host, f"{replica.heartbeat_age:.1f}s", replica.jobs_held)
        ```
    """

    #: The replica's id (``host:pid:random``), as in the ``owner`` of the rows it holds.
    id: str
    #: The host name the replica runs on.
    host: str
    #: Its process id on that host.
    pid: int
    #: When it opened the store (the database's clock, UTC).
    started_at: datetime
    #: Seconds since its last heartbeat (a lease renewal), by the database's clock.
    heartbeat_age: float
    #: Whether it stopped cleanly (gave its leases back at shutdown).
    stopped: bool
    #: Jobs it holds an unexpired lease on: the jobs whose attempts it runs.
    jobs_held: int
    #: Attempts in progress on those jobs (started, or about to start, under its lease).
    attempts: int
    #: Whether it is live: not stopped, and heard from within the lease ttl.
    live: bool
    #: Whether this is the replica of the store that was asked.
    this: bool = False


class StoreUnavailable(StoreError):
    """The database server could not be reached or went away: trying again may succeed.

    A ``StoreError`` raised by ``PostgresStore`` when the connection fails (the server is
    down, restarting, or unreachable), as opposed to a store it reached and could not use.
    ``open_scheduler`` raises it before the block's body runs; ``PostgresStore.replicas()``
    and commands for a job another replica holds (``pause_job``, ``update_job``, ...)
    raise it during an outage, when the command may or may not have been posted: call
    again (those commands are idempotent).  The scheduler's own writes retry through an
    outage for up to ``lease_ttl`` seconds instead of raising.

    Example:
        ```python
        while True:
            try:
                async with tk.open_scheduler(max_workers=4, store=tk.PostgresStore(dsn)) as s:
                    await serve(s)
                break
            except tk.StoreUnavailable as exc:
                log.warning("database unreachable, retrying in 5 s: %s", exc)
                await trio.sleep(5)
        ```
    """


def _check_dsn(dsn: str) -> None:
    """Refuse a DSN libpq cannot parse (``InvalidArgument`` naming ``dsn``), without a leak.

    Parsed with psycopg's own parser when the ``postgres`` extra is installed (without it,
    opening the store says what to install).
    """
    if "\x00" in dsn:
        raise InvalidArgument("dsn: a connection string cannot contain a NUL character")
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return
    try:
        conninfo_to_dict(dsn)
    except Exception as exc:
        # libpq's message quotes the text near the error, which may hold a password.
        raise InvalidArgument(
            "dsn: not a libpq connection string or URI (e.g. 'postgresql://app@db/app' or "
            f"'host=db dbname=app user=app'): {type(exc).__name__} while parsing it"
        ) from None


def _safe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(dsn)
    except Exception:  # not parseable: say nothing of it rather than leak it
        return "<unparseable DSN>"
    params.pop("password", None)
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


class PostgresStore(JobStore):
    """Jobs in a PostgreSQL database, shared by any number of replicas on any machines.

    Args:
        dsn: a libpq connection string or URI (``"postgresql://app@db/app"``).
        lease_ttl: seconds a replica's hold on a job lasts without renewal (renewed every
            ``lease_ttl / 3``); after a crash, another replica takes the job over within it.
        codecs: ``tk.Codec`` values for custom schedules and policies.
        connect_timeout: seconds to wait for a connection.
        statement_timeout: seconds any statement may run before the server cancels it.

    Needs the ``postgres`` extra (``pip install -e ".[postgres]"`` in a clone; psycopg 3).
    The tables (``turnkeeper_*``) are created, or upgraded, when the first replica opens the store.
    One instance serves one scheduler; each replica makes its own.  Its methods beyond the
    store protocol (leases, commands, other replicas' changes) are what the scheduler drives:
    applications do not call them.  See "Running several replicas".

    Example:
        ```python
        store = tk.PostgresStore("postgresql://app@db/app", lease_ttl=30)
        async with tk.open_scheduler(max_workers=4, store=store) as s:
            await s.add_job(tk.Cron("0 9 * * *"), reports.send, key="daily-report")
            await s.wait_stopped()
        ```
    """

    #: Several schedulers share the store (each holds leases on the jobs it runs).
    replicated: ClassVar[bool] = True

    def __init__(
        self,
        dsn: str,
        *,
        lease_ttl: float = 30.0,
        codecs: Iterable[Codec[Any]] = (),
        connect_timeout: float = 5.0,
        statement_timeout: float = 10.0,
    ) -> None:
        if not isinstance(dsn, str):
            raise TypeError(f"dsn must be a str, got {type(dsn).__name__} {dsn!r}")
        _check_dsn(dsn)
        super().__init__(codecs)
        self.dsn = dsn
        self.lease_ttl = check_seconds("lease_ttl", lease_ttl)
        if self.lease_ttl < 0.3:
            raise InvalidArgument(f"lease_ttl must be at least 0.3 seconds, got {lease_ttl!r}")
        self.connect_timeout = check_seconds("connect_timeout", connect_timeout)
        self.statement_timeout = check_seconds("statement_timeout", statement_timeout)
        self.replica_id = ""
        self._conn: psycopg.Connection[Any] | None = None
        self._listener: psycopg.Connection[Any] | None = None
        self._limiter = trio.CapacityLimiter(1)
        self._leases: dict[str, int] = {}
        #: The lease round in which each held key was taken or inserted (see ``rounds``).
        self._taken_in: dict[str, int] = {}
        #: Lease rounds (renewals) so far, and the last one in which leases were taken.
        self.rounds = 0
        self.last_takeover = -1000
        self.live_jobs = 0
        #: The definition last written for each key (the same object is not written again).
        self._definitions: dict[str, dict[str, Any]] = {}
        self._last_change = 0
        self._last_command = 0
        self._opened = False
        #: The injected wall clock, to measure the database clock's offset from it.
        self._wall_now: Callable[[], datetime] | None = None
        #: Database clock minus the replica's wall clock, seconds (measured at each renewal).
        self.offset = 0.0
        #: Whether the latest measurement was tight enough to use.
        self.measured = False

    def __repr__(self) -> str:
        return f"PostgresStore({self.describe()!r})"

    def describe(self) -> str:
        """The DSN without its password, for messages."""
        return _safe_dsn(self.dsn)

    @property
    def held(self) -> Collection[str]:
        """The keys this replica holds leases on."""
        return self._leases.keys()

    # ------------------------------------------------------------------ connections

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        ms = int(self.statement_timeout * 1000)
        options = (
            f"-c statement_timeout={ms} -c lock_timeout={ms} "
            f"-c idle_in_transaction_session_timeout={max(ms * 3, 1000)} -c timezone=UTC"
        )
        try:
            return psycopg.connect(
                self.dsn,
                connect_timeout=max(1, math.ceil(self.connect_timeout)),
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=3,
                options=options,
                application_name=f"turnkeeper_trio {self.replica_id}"[:63],
            )
        except psycopg.Error as exc:
            raise StoreUnavailable(f"{self.describe()}: cannot connect: {exc}".strip()) from exc

    @contextmanager
    def _transaction(self, *, clock: bool = True) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction on the store's connection, reconnecting first if it broke.

        With *clock*, its first statement reads the server's clock into ``db_now``; a caller
        that reads ``now()`` in its own first statement says ``clock=False``.
        """
        import psycopg

        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            self._conn = conn = self._connect()
        try:
            with conn.transaction(), conn.cursor() as cursor:
                if clock:
                    cursor.execute("SELECT extract(epoch FROM now())::float8")
                    row = cursor.fetchone()
                    assert row is not None
                    self.db_now = row[0]
                yield cursor
        except psycopg.errors.SerializationFailure as exc:  # pragma: no cover - not used
            raise StoreError(f"{self.describe()}: {exc}") from exc
        except (
            psycopg.DataError,
            psycopg.IntegrityError,
            psycopg.errors.ProgramLimitExceeded,
        ) as exc:  # the content, not the server: the same write would be refused again
            raise WriteRefused(f"{self.describe()}: {type(exc).__name__}: {exc}") from exc
        except psycopg.OperationalError as exc:  # the connection or the server: retryable
            raise StoreUnavailable(f"{self.describe()}: {exc}".strip()) from exc
        except psycopg.Error as exc:
            raise StoreError(f"{self.describe()}: {type(exc).__name__}: {exc}") from exc

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def _measured(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``_call`` a short call, measuring the database clock's offset around it.

        The wall clock is read here, in Trio, so that any injected clock works.  A call that
        waited for the connection (or was slow) measures too loosely and is not used.
        """
        wall = self._wall_now
        before = None if wall is None else wall().timestamp()
        result = await self._call(fn, *args)
        after = None if wall is None else wall().timestamp()
        self.measured = False
        if before is not None and after is not None and after - before < 0.05:
            self.measured = True
            self.offset = self.db_now - (before + after) / 2
        return result

    def bind(self, wall_now: Callable[[], datetime]) -> None:
        """Measure the database clock against *wall_now* (the scheduler's wall clock)."""
        self._wall_now = wall_now

    # ------------------------------------------------------------------ open

    async def open(self, history_size: int) -> Loaded:
        """Connect, create or upgrade the schema, register this replica, and load every job."""
        if self._opened:
            raise StoreError(f"{self.describe()}: this PostgresStore is already open")
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise StoreError(
                "PostgresStore needs psycopg 3: install the 'postgres' extra (pip install -e "
                "'.[postgres]' in a clone of turnkeeper_trio), or pip install 'psycopg[binary]'"
            ) from exc
        loaded: Loaded = await self._call(self._open_sync, history_size)
        self._opened = True
        for _ in range(10):  # before the scheduler plans anything on the corrected clock
            await self._measured(self._clock_sync)
            if self.measured:
                break
        return loaded

    def _clock_sync(self) -> None:
        with self._transaction():
            pass

    def _open_sync(self, history_size: int) -> Loaded:
        self.replica_id = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        try:
            with self._transaction() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                self._migrate(cur)
                for statement in _INDEXES.split(";"):
                    if statement.strip():
                        cur.execute(statement)
            with self._transaction() as cur:
                cur.execute(
                    "INSERT INTO turnkeeper_replicas (id, host, pid) VALUES (%s, %s, %s)",
                    (self.replica_id, socket.gethostname(), os.getpid()),
                )
                cur.execute("SELECT nextval('turnkeeper_replica_numbers')")
                (number,) = self._one(cur)
                cur.execute(f"SELECT {_JOB_COLUMNS} FROM turnkeeper_jobs ORDER BY key")
                rows = [self._job(r) for r in cur.fetchall()]
                cur.execute("SELECT coalesce(max(change), 0) FROM turnkeeper_jobs")
                (self._last_change,) = self._one(cur)
                cur.execute("SELECT coalesce(max(id), 0) FROM turnkeeper_commands")
                (self._last_command,) = self._one(cur)
                runs, skips = self._history(cur, None, history_size)
        except BaseException:
            self._close_sync()
            raise
        self.history_size = history_size
        # Run ids are unique across replicas: each process start numbers from its own block.
        return Loaded(tuple(r for r, _, _ in rows), runs, skips, int(number) << 32)

    def _migrate(self, cur: psycopg.Cursor[Any]) -> None:
        cur.execute("SELECT to_regclass('turnkeeper_meta') IS NOT NULL")
        (exists,) = self._one(cur)
        if not exists:
            cur.execute("SELECT to_regclass('turnkeeper_jobs') IS NOT NULL")
            if self._one(cur)[0]:
                raise StoreCorrupt(
                    f"{self.describe()}: has a turnkeeper_jobs table but no schema version"
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            cur.execute(
                "INSERT INTO turnkeeper_meta VALUES ('schema_version', %s)", (str(SCHEMA_VERSION),)
            )
            return
        cur.execute("SELECT value FROM turnkeeper_meta WHERE name = 'schema_version'")
        row = cur.fetchone()
        if row is None or not str(row[0]).isdigit():
            raise StoreCorrupt(f"{self.describe()}: the schema version is missing or unreadable")
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreCorrupt(
                f"{self.describe()} has schema version {version}, newer than this "
                f"turnkeeper_trio reads ({SCHEMA_VERSION}); upgrade turnkeeper_trio"
            )
        while version < SCHEMA_VERSION:
            for statement in _MIGRATIONS[version].split(";"):
                if statement.strip():
                    cur.execute(statement)
            version += 1
            cur.execute(
                "UPDATE turnkeeper_meta SET value = %s WHERE name = 'schema_version'",
                (str(version),),
            )

    @staticmethod
    def _one(cur: psycopg.Cursor[Any]) -> tuple[Any, ...]:
        row = cur.fetchone()
        assert row is not None
        return tuple(row)

    @staticmethod
    def _job(r: tuple[Any, ...]) -> tuple[JobRow, str | None, bool]:
        key, phase, next_run_at, definition, state, owner, live, _ = r
        return JobRow(key, definition, state, phase, next_run_at), owner, bool(live)

    def _history(
        self, cur: psycopg.Cursor[Any], keys: list[str] | None, history_size: int
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[SkipRow]]]:
        where = "" if keys is None else "WHERE job_key = ANY(%(keys)s)"
        runs: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        if history_size:
            cur.execute(
                "SELECT job_key, data FROM (SELECT job_key, data, id, row_number() OVER "
                f"(PARTITION BY job_key ORDER BY id DESC) AS n FROM turnkeeper_runs {where}) t "
                "WHERE n <= %(n)s ORDER BY id",
                {"keys": keys, "n": history_size},
            )
            for key, data in cur.fetchall():
                runs[key].append(data)
        skips: defaultdict[str, list[SkipRow]] = defaultdict(list)
        cur.execute(
            "SELECT job_key, first, last, count, reason, exact FROM (SELECT *, row_number() "
            f"OVER (PARTITION BY job_key ORDER BY id DESC) AS n FROM turnkeeper_skipped "
            f"{where}) t WHERE n <= %(n)s ORDER BY id",
            {"keys": keys, "n": SKIPS_KEPT},
        )
        for key, first, last, count, reason, exact in cur.fetchall():
            skips[key].append(SkipRow(key, first, last, count, reason, exact))
        return dict(runs), dict(skips)

    def _commands(self, cur: psycopg.Cursor[Any], keys: Collection[str]) -> tuple[Command, ...]:
        if not keys:
            return ()
        cur.execute(
            "SELECT id, job_key, kind, payload FROM turnkeeper_commands "
            "WHERE applied_at IS NULL AND job_key = ANY(%s) ORDER BY id",
            (list(keys),),
        )
        return tuple(Command(*r) for r in cur.fetchall())

    # ------------------------------------------------------------------ leases

    async def acquire(self, excluded: Collection[str], limit: int) -> Acquired:
        """Take the leases of expired jobs and up to *limit* free ones, not among *excluded*.

        *excluded* are the keys this replica cannot run (their function is not registered
        here): usually none, so a round sends no list of the jobs it does not hold.  At most
        ``ACQUIRE_BATCH`` leases are taken by one call (``Acquired.more`` says whether more
        were waiting).
        """
        result: Acquired = await self._call(self._acquire_sync, sorted(excluded), limit)
        return result

    @staticmethod
    def _takeable(
        cur: psycopg.Cursor[Any], condition: str, excluded: list[str], limit: int
    ) -> list[str]:
        """Up to *limit* live jobs whose lease meets *condition*, locked (a range of the index)."""
        cur.execute(
            "SELECT key FROM turnkeeper_jobs WHERE phase IN ('active', 'paused') "
            f"AND {condition} AND NOT (key = ANY(%s::text[])) "
            "ORDER BY lease_until NULLS FIRST LIMIT %s FOR UPDATE SKIP LOCKED",
            (excluded, limit),
        )
        return [k for (k,) in cur.fetchall()]

    def _acquire_sync(self, excluded: list[str], limit: int) -> Acquired:
        with self._transaction() as cur:
            # Every job whose holder's lease lapsed (a replica died: they are due), then a
            # share of those nobody holds (new ones, or given back); each found by a range
            # of the lease index, never by a scan of the table.
            expired = self._takeable(cur, "lease_until <= now()", excluded, ACQUIRE_BATCH + 1)
            more = len(expired) > ACQUIRE_BATCH
            expired = expired[:ACQUIRE_BATCH]
            wanted = min(max(limit, 0), ACQUIRE_BATCH - len(expired))
            free: list[str] = []
            if wanted > 0:
                free = self._takeable(cur, "lease_until IS NULL", excluded, wanted + 1)
                # Cut by the batch (not by the share asked for): more are waiting.
                more = more or (len(free) > wanted and wanted < limit)
                free = free[:wanted]
            keys = sorted(expired + free)
            taken: list[tuple[str, int]] = []
            if keys:
                cur.execute(
                    "UPDATE turnkeeper_jobs SET owner = %s, "
                    "token = nextval('turnkeeper_tokens'), "
                    "lease_until = now() + make_interval(secs => %s) "
                    "WHERE key = ANY(%s::text[]) RETURNING key, token",
                    (self.replica_id, self.lease_ttl, keys),
                )
                taken = [(k, t) for k, t in cur.fetchall()]
            jobs: tuple[JobRow, ...] = ()
            runs: dict[str, list[dict[str, Any]]] = {}
            skips: dict[str, list[SkipRow]] = {}
            if taken:
                keys = [k for k, _ in taken]
                cur.execute(
                    f"SELECT {_JOB_COLUMNS} FROM turnkeeper_jobs WHERE key = ANY(%s::text[]) "
                    "ORDER BY key",
                    (keys,),
                )
                jobs = tuple(self._job(r)[0] for r in cur.fetchall())
                runs, skips = self._history(cur, keys, self.history_size)
            cur.execute(
                "SELECT extract(epoch FROM lease_until - now())::float8 FROM turnkeeper_jobs "
                "WHERE phase IN ('active', 'paused') AND lease_until > now() AND owner <> %s "
                "ORDER BY lease_until NULLS FIRST LIMIT 1",
                (self.replica_id,),
            )
            row = cur.fetchone()
            expiry = None if row is None else row[0]
            commands = self._commands(cur, [k for k, _ in taken])
        # Applied only once committed: a failed transaction took nothing.
        for key, token in taken:
            self._leases[key] = token
            self._taken_in[key] = self.rounds
        if taken:
            self.last_takeover = self.rounds
        return Acquired(jobs, runs, skips, commands, expiry, more and len(taken) > 0)

    async def renew(self) -> frozenset[str]:
        """Renew every lease this replica holds; return the keys whose lease was lost."""
        lost: frozenset[str] = await self._measured(self._renew_sync)
        return lost

    def _renew_sync(self) -> frozenset[str]:
        leases = dict(self._leases)
        self.rounds += 1
        with self._transaction() as cur:
            cur.execute(
                "UPDATE turnkeeper_replicas SET heartbeat_at = now() WHERE id = %s",
                (self.replica_id,),
            )
            if not leases:
                return frozenset()
            cur.execute(
                # Typed as the column: an untyped list of small numbers would be compared
                # as int2/int4, which PostgreSQL cannot hash (renewal quadratic in leases).
                "UPDATE turnkeeper_jobs SET lease_until = now() + make_interval(secs => %s) "
                "WHERE owner = %s AND token = ANY(%s::bigint[]) AND lease_until > now() "
                "RETURNING key",
                (self.lease_ttl, self.replica_id, list(leases.values())),
            )
            kept = {k for (k,) in cur.fetchall()}
        lost = frozenset(leases.keys() - kept)
        self.forget(lost)
        return lost

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the leases of *keys* from this replica's view (lost, or released)."""
        for key in keys:
            self._leases.pop(key, None)
            self._definitions.pop(key, None)
            self._taken_in.pop(key, None)

    def taken_recently(self, key: str, rounds: int = 3) -> bool:
        """Whether this replica took (or inserted) *key* within the last *rounds* lease rounds."""
        return self._taken_in.get(key, -rounds) > self.rounds - rounds

    async def live_replicas(self) -> int:
        """How many replicas have renewed within the lease ttl (this one included)."""
        count: int = await self._call(self._live_sync)
        return count

    def _live_sync(self) -> int:
        with self._transaction() as cur:
            cur.execute(
                "SELECT count(*) FROM turnkeeper_replicas WHERE stopped_at IS NULL "
                "AND heartbeat_at > now() - make_interval(secs => %s)",
                (self.lease_ttl,),
            )
            (count,) = self._one(cur)
            # Counted on the lease index (an index-only scan, not the table).
            cur.execute("SELECT count(*) FROM turnkeeper_jobs WHERE phase IN ('active', 'paused')")
            (jobs,) = self._one(cur)
        self.live_jobs = int(jobs)
        return max(int(count), 1)

    async def replicas(self, *, stopped_within: float = 3600.0) -> tuple[ReplicaInfo, ...]:
        """The replicas sharing this database, newest first (at most 200).

        Live ones, and those that stopped or fell silent within *stopped_within* seconds.

        For dashboards and health checks; the query is read-only and cheap (one statement).

        Raises:
            StoreError: the store is not open, or the server cannot be reached.
        """
        window = check_seconds("stopped_within", stopped_within, allow_zero=True)
        if not self._opened:
            raise StoreError(f"{self.describe()}: the store is not open")
        rows: tuple[ReplicaInfo, ...] = await self._call(self._replicas_sync, window)
        return rows

    def _replicas_sync(self, window: float) -> tuple[ReplicaInfo, ...]:
        with self._transaction(clock=False) as cur:
            cur.execute(
                "SELECT r.id, r.host, r.pid, r.started_at, "
                "extract(epoch FROM now() - r.heartbeat_at)::float8, r.stopped_at IS NOT NULL, "
                "held.jobs, held.attempts "
                "FROM turnkeeper_replicas r CROSS JOIN LATERAL ("
                " SELECT count(*) AS jobs, count(*) FILTER "
                "  (WHERE jsonb_typeof(j.state -> 'run') = 'array') AS attempts "
                " FROM turnkeeper_jobs j WHERE j.owner = r.id AND j.lease_until > now()) held "
                "WHERE r.stopped_at IS NULL AND r.heartbeat_at > now() - make_interval(secs => %s) "
                "OR coalesce(r.stopped_at, r.heartbeat_at) > now() - make_interval(secs => %s) "
                "ORDER BY r.started_at DESC, r.id LIMIT 200",
                (self.lease_ttl, window),
            )
            found = cur.fetchall()
        return tuple(
            ReplicaInfo(
                id=rid,
                host=host,
                pid=int(pid),
                started_at=started,
                heartbeat_age=max(0.0, float(age)),
                stopped=bool(stopped),
                jobs_held=int(held),
                attempts=int(attempts),
                live=not stopped and float(age) <= self.lease_ttl,
                this=rid == self.replica_id,
            )
            for rid, host, pid, started, age, stopped, held, attempts in found
        )

    # ------------------------------------------------------------------ writes

    async def write(self, batch: Batch) -> None:
        """Write *batch*, fenced: see ``write_fenced``."""
        await self.write_fenced(batch)

    async def write_fenced(self, batch: Batch) -> Written:
        """Write what of *batch* this replica still holds the leases for, in one transaction.

        New keys are inserted with a lease for this replica; a key another replica has
        inserted meanwhile counts as lost.  A start is refused while a command waits for
        its job.  Attempt records and skips are idempotent (a retried batch adds nothing).
        """
        written: Written = await self._call(self._write_sync, batch)
        return written

    def _write_sync(self, batch: Batch) -> Written:
        try:
            return self._write_rows(batch)
        except (ValueError, TypeError, OverflowError) as exc:  # not JSON, or out of range
            raise WriteRefused(f"{self.describe()}: a row cannot be written: {exc!r}") from exc

    def _write_rows(self, batch: Batch) -> Written:
        dumps = json.dumps
        leases = self._leases
        keys = sorted({r.key for r in batch.jobs} | {r.key for r in batch.runs})
        keys += sorted({s.key for s in batch.skips} - set(keys))
        with self._transaction(clock=not keys) as cur:
            held: set[str] = set()
            existing: dict[str, int] = {}
            if keys:
                # Lock the rows in key order (every writer does), check each lease, and
                # read the server's clock (a row with a null key carries it).
                cur.execute(
                    "SELECT key, token, owner = %s AND lease_until > now(), "
                    "extract(epoch FROM now())::float8 FROM turnkeeper_jobs "
                    "WHERE key = ANY(%s) ORDER BY key FOR UPDATE",
                    (self.replica_id, keys),
                )
                rows = cur.fetchall()
                for key, token, live, clock in rows:
                    self.db_now = clock
                    existing[key] = token
                    if live and leases.get(key) == token:
                        held.add(key)
                if not rows:  # only new keys: read the clock on its own
                    cur.execute("SELECT extract(epoch FROM now())::float8")
                    (self.db_now,) = self._one(cur)
            # The last row of a key is its state (one UPDATE cannot apply two rows to one).
            latest = {r.key: r for r in batch.jobs}
            new_rows = [r for r in latest.values() if r.key not in existing]
            inserted: dict[str, int] = {}
            if new_rows:
                cur.execute("SELECT nextval('turnkeeper_changes')")
                (change,) = self._one(cur)
                for r in new_rows:
                    cur.execute(
                        "INSERT INTO turnkeeper_jobs (key, phase, next_run_at, definition, "
                        "state, owner, token, lease_until, change) VALUES (%s, %s, %s, %s, %s, "
                        "%s, nextval('turnkeeper_tokens'), now() + make_interval(secs => %s), "
                        "%s) ON CONFLICT (key) DO NOTHING RETURNING token",
                        (
                            r.key,
                            r.phase,
                            r.next_run_at,
                            dumps(r.definition),
                            dumps(r.state),
                            self.replica_id,
                            self.lease_ttl,
                            change,
                        ),
                    )
                    row = cur.fetchone()
                    if row is not None:
                        inserted[r.key] = row[0]
                        held.add(r.key)
            applied = set(batch.applied)
            pending = self._commands(cur, sorted(held & batch.starts)) if batch.starts else ()
            refused = frozenset(c.key for c in pending if c.id not in applied)
            updates = [r for r in latest.values() if r.key in held and r.key not in inserted]
            updates = [r for r in updates if r.key not in refused]
            # What follows needs no answer: sent in one round trip (pipeline mode).
            with cur.connection.pipeline():
                self._write_tail(cur, batch, held, updates, inserted)
            db_now = self.db_now
        for key, token in inserted.items():
            leases[key] = token
            self._taken_in[key] = self.rounds
        for r in batch.jobs:
            if r.key in held:
                self._definitions[r.key] = r.definition
        lost = frozenset(keys) - held
        self.forget(lost)
        fenced = sum(1 for r in batch.runs if r.key in lost)
        # The commands that refused a start come back at once; others arrive by NOTIFY.
        return Written(lost, refused, tuple(pending), fenced, db_now)

    def _write_tail(
        self,
        cur: psycopg.Cursor[Any],
        batch: Batch,
        held: set[str],
        updates: list[JobRow],
        inserted: dict[str, int],
    ) -> None:
        """The statements of a write that need no answer (sent in pipeline mode)."""
        dumps = json.dumps
        if updates:
            # One statement for the batch; a definition already written is not sent again.
            written_defs = self._definitions
            cur.execute(
                "UPDATE turnkeeper_jobs j SET phase = u.phase, next_run_at = u.next_run_at, "
                "state = u.state::jsonb, definition = coalesce(u.definition::jsonb, "
                "j.definition), change = nextval('turnkeeper_changes'), updated_at = now() "
                "FROM unnest(%s::text[], %s::text[], %s::float8[], %s::text[], %s::text[]) "
                "AS u(key, phase, next_run_at, state, definition) WHERE j.key = u.key",
                (
                    [r.key for r in updates],
                    [r.phase for r in updates],
                    [r.next_run_at for r in updates],
                    [dumps(r.state) for r in updates],
                    [
                        None if written_defs.get(r.key) is r.definition else dumps(r.definition)
                        for r in updates
                    ],
                ),
            )
        runs = [r for r in batch.runs if r.key in held]
        if runs:
            cur.executemany(
                "INSERT INTO turnkeeper_runs (job_key, run_id, outcome, scheduled_for, "
                "data, replica) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (job_key, run_id) DO NOTHING",
                [
                    (
                        r.key,
                        r.record["run_id"],
                        r.record["outcome"],
                        r.record["scheduled_for"],
                        dumps(r.record),
                        self.replica_id,
                    )
                    for r in runs
                ],
            )
            self._prune(cur, "turnkeeper_runs", {r.key for r in runs}, batch.history_size)
        skips = [s for s in batch.skips if s.key in held]
        if skips:
            cur.executemany(
                "INSERT INTO turnkeeper_skipped (job_key, first, last, count, reason, exact) "
                "VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (job_key, first, reason) DO NOTHING",
                [(s.key, s.first, s.last, s.count, s.reason, s.exact) for s in skips],
            )
            self._prune(cur, "turnkeeper_skipped", {s.key for s in skips}, SKIPS_KEPT)
        if batch.applied:
            cur.execute(
                "UPDATE turnkeeper_commands SET applied_at = now() "
                "WHERE id = ANY(%s) AND job_key = ANY(%s)",
                (list(batch.applied), list(held)),
            )
        if updates or inserted or batch.applied:
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.replica_id))

    @staticmethod
    def _prune(cur: psycopg.Cursor[Any], table: str, keys: set[str], keep: int) -> None:
        cur.execute(
            f"DELETE FROM {table} t USING (SELECT id FROM (SELECT id, row_number() OVER "
            f"(PARTITION BY job_key ORDER BY id DESC) AS n FROM {table} "
            "WHERE job_key = ANY(%s)) r WHERE n > %s) d WHERE t.id = d.id",
            (sorted(keys), keep),
        )

    # ------------------------------------------------------------------ commands

    async def post(self, key: str, kind: str, payload: dict[str, Any]) -> int:
        """Post a command for the holder of *key*; return its id."""
        command_id: int = await self._call(self._post_sync, key, kind, payload)
        return command_id

    def _post_sync(self, key: str, kind: str, payload: dict[str, Any]) -> int:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO turnkeeper_commands (job_key, kind, payload, origin) "
                "VALUES (%s, %s, %s, %s) RETURNING id",
                (key, kind, json.dumps(payload), self.replica_id),
            )
            (command_id,) = self._one(cur)
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"command {key}"))
        return int(command_id)

    async def applied(self, command_id: int) -> tuple[bool, bool]:
        """Whether command *command_id* was applied, and whether its job has a live holder."""
        result: tuple[bool, bool] = await self._call(self._applied_sync, command_id)
        return result

    def _applied_sync(self, command_id: int) -> tuple[bool, bool]:
        with self._transaction() as cur:
            cur.execute(
                "SELECT c.applied_at IS NOT NULL, coalesce(j.lease_until > now(), false) "
                "FROM turnkeeper_commands c LEFT JOIN turnkeeper_jobs j ON j.key = c.job_key "
                "WHERE c.id = %s",
                (command_id,),
            )
            row = cur.fetchone()
        return (True, False) if row is None else (bool(row[0]), bool(row[1]))

    async def holder_live(self, key: str) -> bool:
        """Whether some replica holds a live lease on *key*."""
        live: bool = await self._call(self._holder_sync, key)
        return live

    def _holder_sync(self, key: str) -> bool:
        with self._transaction() as cur:
            cur.execute(
                "SELECT coalesce(bool_or(lease_until > now()), false) FROM turnkeeper_jobs "
                "WHERE key = %s",
                (key,),
            )
            (live,) = self._one(cur)
        return bool(live)

    # ------------------------------------------------------------------ other replicas

    async def changes(self) -> Changes:
        """Job rows changed since the last look, and commands for the jobs held here."""
        result: Changes = await self._call(self._changes_sync)
        return result

    def _changes_sync(self) -> Changes:
        with self._transaction() as cur:
            cur.execute(
                f"SELECT {_JOB_COLUMNS} FROM turnkeeper_jobs WHERE change > %s ORDER BY change",
                (self._last_change,),
            )
            rows = cur.fetchall()
            jobs = tuple(self._job(r) for r in rows)
            changed = [r.key for r, owner, _ in jobs if owner != self.replica_id]
            runs, skips = self._history(cur, changed, self.history_size) if changed else ({}, {})
            commands = self._commands(cur, list(self._leases))
        if rows:
            self._last_change = max(self._last_change, max(r[-1] for r in rows))
        return Changes(jobs, runs, skips, commands)

    async def wait_notified(self) -> None:
        """Return when another replica has notified a change (or the listener broke)."""
        if self._listener is None or self._listener.closed or self._listener.broken:
            await self._call(self._listen_sync)
        listener = self._listener
        assert listener is not None
        await trio.lowlevel.wait_readable(listener.fileno())
        await self._call(self._drain_sync)

    def _listen_sync(self) -> None:
        import psycopg

        if self._listener is not None:
            self._listener.close()
        self._listener = None
        conn = self._connect()
        try:
            conn.autocommit = True
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"{self.describe()}: cannot listen: {exc}") from exc
        self._listener = conn

    def _drain_sync(self) -> None:
        import psycopg

        listener = self._listener
        assert listener is not None
        try:
            for _ in listener.notifies(timeout=0.0):
                pass
        except psycopg.Error:
            listener.close()  # reconnected on the next wait

    # ------------------------------------------------------------------ close

    async def release(self, keys: Collection[str] | None = None) -> None:
        """Give up the leases of *keys* (all, at shutdown), so other replicas take them at once."""
        if self._leases or (keys is None and self._opened):  # at shutdown, mark it stopped too
            await self._call(self._release_sync, None if keys is None else set(keys))

    def _release_sync(self, keys: set[str] | None) -> None:
        tokens = [t for k, t in self._leases.items() if keys is None or k in keys]
        with self._transaction() as cur:
            cur.execute(
                "UPDATE turnkeeper_jobs SET owner = NULL, token = NULL, lease_until = NULL "
                "WHERE owner = %s AND token = ANY(%s::bigint[])",
                (self.replica_id, tokens),
            )
            if keys is None:
                cur.execute(
                    "UPDATE turnkeeper_replicas SET stopped_at = now() WHERE id = %s",
                    (self.replica_id,),
                )
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "released"))
        self.forget(list(self._leases) if keys is None else keys)

    async def close(self) -> None:
        """Close the connections (idempotent); the leases lapse unless released first."""
        await self._call(self._close_sync)
        self._opened = False

    def _close_sync(self) -> None:
        for conn in (self._conn, self._listener):
            if conn is not None:
                conn.close()
        self._conn = self._listener = None
        self._leases.clear()
