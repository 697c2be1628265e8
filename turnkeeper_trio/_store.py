"""The store strategy: where job definitions and their state live beyond the process.

The coordinator keeps its in-process view (the job table and the queues) and is the only
writer of it; a store is told what changed, in batches, and hands everything back when the
scheduler opens.  The protocol is small on purpose, like an HTTP transport: open (load),
write a batch, close.  A batch carries, for the transitions since the last one, the rows of
the jobs that changed (an insert, an attach, a fired occurrence, an attempt's outcome, a
command: each is the job's new row), the attempts recorded, and the occurrences skipped;
the store prunes the attempt history to the scheduler's ``history_size``.  The rows are
JSON values made by ``_durable``; no store sees a ``Job``.

``MemoryStore`` is the default: nothing survives the process, the coordinator never waits for
it, and it costs nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from ._codec import Codec, Codecs
from ._exceptions import TurnKeeperError

__all__ = [
    "SKIPS_KEPT",
    "Batch",
    "JobRow",
    "JobStore",
    "Loaded",
    "MemoryStore",
    "RunRow",
    "SkipRow",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "WriteRefused",
]


#: Skipped ranges kept per job (in ``JobDetails.skipped`` and in a store).
SKIPS_KEPT = 20


class StoreError(TurnKeeperError):
    """A durable store cannot be opened, read or written; the message names the store.

    Raised by ``open_scheduler`` (before the block's body runs) when a store cannot be
    opened, and out of the scheduler's block when a write fails later: an accepted change
    that cannot be made durable stops the scheduler rather than being lost silently.

    Example:
        ```python
        try:
            async with tk.open_scheduler(max_workers=4, store=tk.SQLiteStore(path)) as s:
                ...
        except tk.StoreError as exc:
            log.critical("job store unavailable: %s", exc)
        ```
    """


class StoreLocked(StoreError):
    """Another scheduler (in this process or another one) has the store open.

    Example:
        ```python
        try:
            async with tk.open_scheduler(max_workers=4, store=tk.SQLiteStore(path)) as s:
                ...
        except tk.StoreLocked:
            sys.exit("another instance runs these jobs")
        ```
    """


class StoreCorrupt(StoreError):
    """The store's file or schema is not one this version can read (corrupt, or newer).

    Example:
        ```python
        try:
            async with tk.open_scheduler(max_workers=4, store=tk.SQLiteStore(path)) as s:
                ...
        except tk.StoreCorrupt as exc:
            log.critical("restore %s from a backup: %s", path, exc)
        ```
    """


class WriteRefused(StoreError):
    """The database refused what a write held, not the connection: a value, a constraint, a size.

    A store raises it (rather than a plain ``StoreError``) when the same write would be
    refused again however often it is retried.  The scheduler then finds the job whose row
    was refused, fails that job with the reason and goes on writing every other one: one
    job's row never stops the scheduler.

    Example:
        ```python
        except sqlite3.DataError as exc:             # in a store's write
            raise tk.abc.WriteRefused(f"{self.path}: {exc}") from exc
        ```
    """


@attrs.frozen
class JobRow:
    """One job as stored: its identity, its definition and its state (JSON objects).

    Example:
        ```python
        class DictStore(tk.abc.JobStore):        # a store keeping rows in a dict
            async def write(self, batch):
                for row in batch.jobs:
                    self.rows[row.key] = row      # the newest row of a key replaces it
        ```
    """

    key: str
    definition: dict[str, Any]
    state: dict[str, Any]
    #: Copies of two state fields, for people who inspect the store with SQL.
    phase: str
    next_run_at: float | None
    #: Why the row could not be read (invalid JSON, say), if it could not: the job is then
    #: shown as unloadable with this reason, and the store opens with the others.
    problem: str | None = None


@attrs.frozen
class RunRow:
    """One attempt's record (``RunRecord``) as stored, timestamps as POSIX seconds.

    Example:
        ```python
        for run in batch.runs:
            self.history[run.key].append(run.record)   # a JSON object
        ```
    """

    key: str
    record: dict[str, Any]


@attrs.frozen
class SkipRow:
    """Occurrences of one job that did not run: ``count`` from ``first`` to ``last``.

    Example:
        ```python
        for skip in batch.skips:
            print(skip.key, skip.count, skip.reason)   # e.g. "daily-report 3 misfire"
        ```
    """

    key: str
    first: float
    last: float
    count: int
    reason: str
    exact: bool


@attrs.frozen
class Batch:
    """What changed since the last write, to be written in one transaction.

    Example:
        ```python
        async def write(self, batch: tk.abc.Batch) -> None:
            await trio.to_thread.run_sync(self._write_all, batch, limiter=self._limiter)
        ```
    """

    jobs: tuple[JobRow, ...]
    runs: tuple[RunRow, ...]
    skips: tuple[SkipRow, ...]
    #: Attempts kept per job (older ones are pruned).
    history_size: int
    #: Jobs whose attempt started since the last batch (a replicated store gates them).
    starts: frozenset[str] = frozenset()
    #: Commands of a replicated store that this batch's rows have applied.
    applied: tuple[int, ...] = ()


@attrs.frozen
class Loaded:
    """Everything a store holds, handed to the scheduler when it opens.

    Example:
        ```python
        async def open(self, history_size: int) -> tk.abc.Loaded:
            return tk.abc.Loaded(jobs=tuple(self.rows.values()))
        ```
    """

    jobs: tuple[JobRow, ...] = ()
    #: The latest attempts of each job (at most ``history_size``), oldest first.
    runs: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict)
    #: The latest skipped ranges of each job, oldest first.
    skips: dict[str, list[SkipRow]] = attrs.field(factory=dict)
    #: The largest run id stored, so that new attempts get new ids.
    max_run_id: int = 0


class JobStore(ABC):
    """Where a scheduler's jobs live: ``MemoryStore``, ``SQLiteStore`` or your own.

    A store serves one scheduler at a time.  Subclasses call ``super().__init__(codecs)``
    (the codecs for custom strategies).  The scheduler calls ``open`` before it starts
    (and fails to start if it raises), ``write`` with each batch of changes from a task of
    its own (never two at once, in order), and ``close`` when it stops.  ``durable`` says
    whether what is written survives the process: only then does the scheduler wait for
    writes, check that definitions can be stored, and serialize.

    Example:
        ```python
        async with tk.open_scheduler(max_workers=4, store=tk.SQLiteStore("jobs.db")) as s:
            ...
        ```
    """

    #: Whether writes outlive the process (``False``: the scheduler never writes).
    durable: ClassVar[bool] = True

    def __init__(self, codecs: Iterable[Codec[Any]] = ()) -> None:
        self.codecs = Codecs(codecs)

    def describe(self) -> str:
        """How the store names itself in errors and logs (a path, a DSN without password)."""
        return type(self).__name__

    @abstractmethod
    async def open(self, history_size: int) -> Loaded:
        """Open (creating or upgrading the schema) and load; raise ``StoreError`` if not."""

    @abstractmethod
    async def write(self, batch: Batch) -> None:
        """Write *batch* durably (one transaction), or raise ``StoreError``."""

    @abstractmethod
    async def close(self) -> None:
        """Release the store (idempotent); it may be opened again."""


class MemoryStore(JobStore):
    """The default store: jobs live in the scheduler's memory and end with the process.

    It has no I/O and no threads, and the scheduler never waits for it or serializes for
    it, so it costs nothing.  Choose ``SQLiteStore`` for jobs that must survive a restart.

    Example:
        ```python
        async with tk.open_scheduler(max_workers=4, store=tk.MemoryStore()) as s:
            ...
        ```
    """

    durable = False

    def __init__(self) -> None:
        super().__init__()

    def __repr__(self) -> str:
        return "MemoryStore()"

    async def open(self, history_size: int) -> Loaded:
        """Nothing to load: a memory store starts empty."""
        return Loaded()

    async def write(self, batch: Batch) -> None:
        """Nothing to write (the scheduler does not call it)."""

    async def close(self) -> None:
        """Nothing to release."""
