"""Between the coordinator and a durable store: rows out, jobs back in, writes in batches.

``Journal`` is told, synchronously, by the coordinator and the planner what changed (a job's
new state, an attempt recorded, occurrences skipped) and writes it behind them: its task
takes everything marked since the last write as one batch, turns the jobs into rows at that
moment (so a row is always the state between two transitions), and hands the batch to the
store.  While one transaction runs, the next batch gathers, so one commit serves many
changes.  ``wait_saved`` waits until what was marked before the call is written: ``add_job``
and the commands return only then, and a worker does so before the first line of an
``on_crash="skip"`` job.

``job_row`` and ``restore`` convert a job to its stored row and back.  Relative deadlines
(a retry's) are stored as wall-clock instants and become Trio deadlines again on load.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import attrs
import trio

from ._codec import Codecs, StoredValueError, check_json_args, check_storable
from ._exceptions import InvalidArgument
from ._functions import Functions, NotRegistered
from ._job import Job, JobExtras, JobSpec, Ran, RunKind
from ._lifetime import Forever
from ._misfire import Coalesce
from ._models import ErrorInfo, JobId, Outcome, RunRecord, SkippedRange
from ._outcome import error_info
from ._postgres import PostgresStore, StoreUnavailable, Written
from ._simple_schedules import Never
from ._state import Phase, Retry, Status
from ._store import (
    SKIPS_KEPT,
    Batch,
    JobRow,
    JobStore,
    Loaded,
    RunRow,
    SkipRow,
    StoreError,
    WriteRefused,
)

__all__ = [
    "Journal",
    "check_key",
    "definition_of",
    "is_stand_in",
    "job_row",
    "restore",
    "shown_again",
]

#: The version of the row layout this code writes (``definition`` and ``state``).
ROW_VERSION = 1
ON_CRASH = ("rerun", "skip")
#: Idempotency keys of ``trigger_job`` remembered per job.
TRIGGER_KEYS_KEPT = 100


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _from(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _dt(value: float | None) -> datetime | None:
    return None if value is None else _from(value)


def check_key(key: object, argument: str = "key") -> str | None:
    """A key as given to ``add_job`` (or ``trigger_job``): a short string, not a generated one."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise TypeError(f"{argument} must be a str, got {type(key).__name__} {key!r}")
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidArgument(f"{argument} must be 1 to 200 printable characters, got {key!r}")
    if key.startswith("~"):
        raise InvalidArgument(f"{argument}: keys starting with '~' are reserved, got {key!r}")
    return key


def check_on_crash(value: object) -> str:
    """``on_crash`` is ``"rerun"`` or ``"skip"``."""
    if value not in ON_CRASH:
        raise InvalidArgument(f"on_crash must be 'rerun' or 'skip', got {value!r}")
    assert isinstance(value, str)
    return value


def definition_of(
    codecs: Codecs,
    functions: Functions,
    *,
    name: str,
    fn: object,
    args: tuple[Any, ...],
    schedule: object,
    retry: object,
    timeout: float | None,
    lifetime: object,
    misfire: object,
    quarantine_after: int | None,
    on_crash: str,
    added_at: datetime,
    jitter: float = 0.0,
) -> dict[str, Any]:
    """A job's definition as a durable store writes it, or an error naming what cannot be.

    The function is registered with *functions* (so this process runs it from its row);
    arguments and what custom codecs make of strategies must be JSON every durable store
    can hold (``TypeError`` or ``InvalidArgument`` naming the argument and the path).
    """
    definition = {
        "v": ROW_VERSION,
        "name": name,
        # A job this process cannot run keeps the reference it was stored with.
        "fn": fn if isinstance(fn, str) else functions.register(fn),  # type: ignore[arg-type]
        "args": check_json_args(args),
        "schedule": codecs.encode(schedule, "schedule"),
        "retry": codecs.optional(retry, "retry"),
        "timeout": timeout,
        "lifetime": codecs.encode(lifetime, "lifetime"),
        "misfire": codecs.encode(misfire, "misfire"),
        "quarantine_after": quarantine_after,
        "on_crash": on_crash,
        "added_at": added_at.timestamp(),
    }
    if jitter:
        definition["jitter"] = jitter  # absent when 0: rows of jobs without jitter unchanged
    for argument in ("schedule", "retry", "lifetime", "misfire"):
        check_storable(definition[argument], argument)  # what a custom codec wrote
    return definition


def job_row(job: Job, codecs: Codecs, wall_now: float, trio_now: float) -> JobRow:
    """The row that stores *job* as it is now."""
    if job.broken is not None:
        return job.broken  # not run here: kept exactly as stored
    assert job.definition is not None
    s = job.status
    retry = s.retry
    retry_at = None if retry is None else wall_now + max(retry.at - trio_now, 0.0)
    run = s.run
    counts, _ = job.records or ({}, ())
    error = job.error
    state = {
        "v": ROW_VERSION,
        "phase": s.phase.value,
        "schedule": codecs.encode(job.schedule, "schedule"),
        "due": _ts(s.due),
        "retry": None
        if retry is None
        else [retry.occurrence.timestamp(), retry.attempt, retry.triggered, retry_at],
        "trigger": s.trigger is not None,
        "run": None
        if run is None
        else [run.kind.value, run.scheduled_for.timestamp(), run.attempt, run.triggered, s.started],
        "fired": None if s.fired == -math.inf else s.fired,
        "planned": s.planned,
        "runs": job.runs,
        "misfires": job.misfires,
        "counts": {outcome.value: n for outcome, n in counts.items()},
        "consecutive_failures": job.consecutive_failures,
        "quarantined": job.quarantined,
        "error": None if error is None else [error.type, error.message, error.traceback],
        "trigger_keys": list(job.trigger_keys or ()),
    }
    if s.phase is Phase.ACTIVE and run is None:
        due = s.due
        if retry is not None:
            next_run_at = retry_at
        elif s.trigger:
            next_run_at = wall_now
        else:
            next_run_at = None if due is None else due.timestamp() + job.offset(due)
    else:
        next_run_at = None
    return JobRow(job.id.key, job.definition, state, s.phase.value, next_run_at)


def record_of(data: dict[str, Any]) -> RunRecord:
    """A stored attempt as a ``RunRecord``."""
    error = data["error"]
    return RunRecord(
        run_id=data["run_id"],
        attempt=data["attempt"],
        scheduled_for=_from(data["scheduled_for"]),
        started_at=_from(data["started_at"]),
        finished_at=_from(data["finished_at"]),
        duration=data["duration"],
        outcome=Outcome(data["outcome"]),
        triggered=data["triggered"],
        error=None if error is None else ErrorInfo(*error),
    )


def readable_records(rows: Iterable[dict[str, Any]]) -> list[RunRecord]:
    """The stored attempts that can be read; one that cannot is left out of the history."""
    records = []
    for data in rows:
        try:
            records.append(record_of(data))
        except Exception:  # a bad record only shortens the history shown
            continue
    return records


def record_data(record: RunRecord) -> dict[str, Any]:
    """A ``RunRecord`` as a stored attempt."""
    error = record.error
    return {
        "run_id": record.run_id,
        "attempt": record.attempt,
        "scheduled_for": record.scheduled_for.timestamp(),
        "started_at": record.started_at.timestamp(),
        "finished_at": record.finished_at.timestamp(),
        "duration": record.duration,
        "outcome": record.outcome.value,
        "triggered": record.triggered,
        "error": None if error is None else [error.type, error.message, error.traceback],
    }


def skipped_range(row: SkipRow) -> SkippedRange:
    """A stored skipped range as the public value."""
    return SkippedRange(_from(row.first), _from(row.last), row.count, row.reason, row.exact)


@attrs.frozen
class Recovered:
    """The attempt a stored job had taken when its process stopped."""

    kind: RunKind
    occurrence: datetime
    attempt: int
    triggered: bool
    started: bool


def restore(
    row: JobRow,
    job_id: JobId,
    codecs: Codecs,
    functions: Functions,
    loaded: Loaded,
    history_size: int,
    wall_now: datetime,
) -> tuple[Job, Status, Recovered | None]:
    """Rebuild the job *row* stores; ``ImportError``/``StoredValueError`` if it cannot be.

    Returns the job, the status to install, and the attempt it had taken (to recover).
    Only a function registered with *functions* is run (``NotRegistered``, an
    ``ImportError``, otherwise); nothing is imported because the row names it.
    """
    if row.problem is not None:
        raise StoredValueError(f"the stored job {row.key!r} cannot be read: {row.problem}")
    d, st = row.definition, row.state
    if not isinstance(d, dict) or not isinstance(st, dict):
        raise StoredValueError(
            f"the stored job {row.key!r} is malformed: its definition and state must be "
            f"JSON objects, got {type(d).__name__} and {type(st).__name__}"
        )
    if d.get("v") != ROW_VERSION or st.get("v") != ROW_VERSION:
        raise StoredValueError(f"row version {d.get('v')!r}/{st.get('v')!r} is not {ROW_VERSION}")
    missing: NotRegistered | None = None
    try:
        fn: Callable[..., Any] = functions.resolve(d.get("fn"))
    except NotRegistered as exc:  # shown with its stored state, never run
        fn, missing = _not_loaded, exc
    try:
        job = Job(
            id=job_id,
            name=d["name"],
            schedule=codecs.decode(st["schedule"]),
            fn=fn,
            args=tuple(d["args"]),
            retry=codecs.decode_optional(d["retry"]),
            timeout=d["timeout"],
            lifetime=codecs.decode(d["lifetime"]),
            misfire=codecs.decode(d["misfire"]),
            quarantine_after=d["quarantine_after"],
            added_at=_from(d["added_at"]),
            extras=JobExtras(
                given=codecs.decode(d["schedule"]),
                on_crash=d["on_crash"],
                definition=d,
                jitter=float(d.get("jitter", 0.0)),
            ),
            runs=st["runs"],
            misfires=st["misfires"],
            consecutive_failures=st["consecutive_failures"],
            quarantined=st["quarantined"],
        )
        if st["error"] is not None:
            job.error = ErrorInfo(*st["error"])
        counts = {Outcome(name): n for name, n in st["counts"].items()}
        history: deque[RunRecord | Ran] = deque(
            readable_records(loaded.runs.get(row.key, ())), maxlen=history_size
        )
        if counts or history:
            job.records = (counts, history)
        trigger_keys = st.get("trigger_keys")
        if trigger_keys:
            job.trigger_keys = deque(trigger_keys, maxlen=TRIGGER_KEYS_KEPT)
        skips = loaded.skips.get(row.key)
        if skips:
            job.skips = deque((skipped_range(r) for r in skips), maxlen=SKIPS_KEPT)
        trio_now = trio.current_time()
        retry = st["retry"]
        fired = st["fired"]
        status = Status(
            phase=Phase(st["phase"]),
            due=_dt(st["due"]),
            retry=None
            if retry is None
            else Retry(
                _from(retry[0]),
                retry[1],
                retry[2],
                trio_now + max(retry[3] - wall_now.timestamp(), 0.0),
                _from(retry[3]),
            ),
            trigger=trio_now if st["trigger"] else None,
            fired=-math.inf if fired is None else fired,
            planned=st["planned"],
        )
        run = st["run"]
        recovered = (
            None
            if run is None
            else Recovered(RunKind(run[0]), _from(run[1]), run[2], run[3], run[4])
        )
    except StoredValueError:
        raise
    except Exception as exc:  # any shape a row can have: the job is unloadable, not the store
        raise StoredValueError(f"the stored job {row.key!r} is malformed: {exc!r}") from exc
    if missing is not None:
        job.error = error_info(missing)
        job.broken = row
        missing.shown = job
        raise missing
    return job, status, recovered


def shown_again(job: Job, row: JobRow, loaded: Loaded) -> bool:
    """Show *job* (another replica's) with the state of *row*, its definition unchanged.

    Returns ``False`` if the state cannot be read (the caller then restores it in full).
    """
    st = row.state
    try:
        counts = {Outcome(name): n for name, n in st["counts"].items()}
        error = st["error"]
        runs, misfires = st["runs"], st["misfires"]
        failures, quarantined = st["consecutive_failures"], st["quarantined"]
        if error is not None:
            ErrorInfo(*error)
    except Exception:  # any shape a row can have
        return False
    history = loaded.runs.get(row.key)
    if history is not None or counts:
        kept = job.records[1] if job.records is not None else ()
        maxlen = job.records[1].maxlen if job.records is not None else None
        records = readable_records(history) if history is not None else kept
        job.records = (counts, deque(records, maxlen=maxlen))
    skips = loaded.skips.get(row.key)
    if skips:
        job.skips = deque((skipped_range(r) for r in skips), maxlen=SKIPS_KEPT)
    job.runs, job.misfires = runs, misfires
    job.consecutive_failures, job.quarantined = failures, quarantined
    job.error = None if error is None else ErrorInfo(*error)
    job.remote = row
    return True


def _is_timestamp(value: object) -> bool:
    if type(value) not in (int, float):
        return False
    try:
        _from(value)  # type: ignore[arg-type]
    except (OverflowError, OSError, ValueError):
        return False
    return True


async def _not_loaded() -> None:  # pragma: no cover - never dispatched
    raise RuntimeError("a job that was not loaded was run")


def is_stand_in(fn: object) -> bool:
    """Whether *fn* stands in for a stored function this process has not registered."""
    return fn is _not_loaded


def phase_of(value: object) -> Phase:
    """The stored phase, or ``ACTIVE`` for a value this code does not know."""
    try:
        return Phase(value)
    except ValueError:
        return Phase.ACTIVE


def unloadable_job(row: JobRow, job_id: JobId, exc: Exception) -> Job:
    """A stand-in for a stored job this process cannot run: shown, never run or rewritten.

    A job whose only fault is a function this process has not registered comes back with
    its stored state (``restore`` attaches it to the error), so its counters and history
    show as they were.
    """
    shown = getattr(exc, "shown", None)
    if isinstance(shown, Job):
        return shown
    definition = row.definition if isinstance(row.definition, dict) else {}
    name = definition.get("name")
    added = definition.get("added_at")
    return Job(
        id=job_id,
        name=name if isinstance(name, str) else row.key,
        schedule=Never(),
        fn=_not_loaded,
        args=(),
        retry=None,
        timeout=None,
        lifetime=Forever(),
        misfire=Coalesce(),
        quarantine_after=None,
        added_at=_from(added)
        if isinstance(added, int | float) and _is_timestamp(added)
        else _from(0.0),
        error=error_info(exc),
        extras=JobExtras(broken=row),
    )


def attach(job: Job, spec: JobSpec) -> tuple[str, ...]:
    """Give *job* the definition of *spec* (a re-added key); return what changed."""
    changed = []
    for name, new in (
        ("name", spec.name),
        ("async_fn", spec.fn),
        ("args", spec.args),
        ("schedule", spec.schedule),
        ("retry", spec.retry),
        ("timeout", spec.timeout),
        ("lifetime", spec.lifetime),
        ("misfire", spec.misfire),
        ("quarantine_after", spec.quarantine_after),
        ("on_crash", spec.on_crash),
        ("jitter", spec.jitter),
    ):
        field = {"async_fn": "fn", "schedule": "given"}.get(name, name)
        if getattr(job, field) != new:
            changed.append(name)
            setattr(job, field, new)
    if "schedule" in changed:
        job.schedule = spec.schedule
    if changed and spec.definition is not None:
        job.definition = {**spec.definition, "added_at": job.added_at.timestamp()}
    return tuple(changed)


def _keys_of(batch: Batch) -> set[str]:
    keys = {r.key for r in batch.jobs}
    keys.update(r.key for r in batch.runs)
    keys.update(r.key for r in batch.skips)
    return keys


def _part(batch: Batch, keys: set[str]) -> Batch:
    """The rows of *batch* that belong to *keys*.

    The commands applied go with every part: a replicated store marks only those of the
    jobs it writes.
    """
    return Batch(
        tuple(r for r in batch.jobs if r.key in keys),
        tuple(r for r in batch.runs if r.key in keys),
        tuple(r for r in batch.skips if r.key in keys),
        batch.history_size,
        batch.starts & keys,
        batch.applied,
    )


@attrs.define(eq=False)
class Journal:
    """Writes the coordinator's changes to a durable store, behind it, in batches."""

    store: JobStore
    history_size: int
    #: Where "now" comes from for the rows (the scheduler's wall clock).
    wall_now: Callable[[], datetime]
    #: The functions stored jobs may run (registered by this process).
    functions: Functions = attrs.field(factory=Functions)
    _jobs: dict[int, Job] = attrs.field(factory=dict)
    _runs: list[RunRow] = attrs.field(factory=list)
    _skips: list[SkipRow] = attrs.field(factory=list)
    #: Changes marked so far, and those known to be written.
    marked: int = 0
    saved: int = 0
    #: Called once when a write fails (the scheduler then shuts down, forced).
    on_failure: Callable[[], None] = lambda: None
    #: Called when the store refused one job's rows (that job then fails; see
    #: ``_write_isolated``); the keys refused once, whose rows are no longer sent.
    on_refused: Callable[[str, Exception], None] = lambda key, exc: None
    _refused: set[str] = attrs.field(factory=set)
    _failure: BaseException | None = None
    #: A caller waiting for a write has raised the failure already.
    _reported: bool = False
    _wake: trio.Event = attrs.field(factory=trio.Event)
    _lot: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)
    #: A replicated store: the jobs whose attempt started, and the commands applied, since
    #: the last batch; what a fenced write found goes to ``on_written``.
    _starts: set[str] = attrs.field(factory=set)
    _rows: dict[str, JobRow] = attrs.field(factory=dict)
    _applied: list[int] = attrs.field(factory=list)
    on_written: Callable[[Written], None] | None = None
    #: Seconds a replicated store's write is retried (the lease ttl: past it, nothing of
    #: the batch would be accepted anyway).
    retry_for: float = 0.0
    log: logging.Logger = attrs.field(factory=lambda: logging.getLogger("turnkeeper_trio"))

    # ------------------------------------------------------------------ marking (sync)

    def changed(self, job: Job) -> None:
        """*job*'s row must be written again."""
        self._jobs[job.key] = job
        self.marked += 1
        self._wake.set()

    def ran(self, job: Job, record: RunRecord) -> None:
        """An attempt of *job* was recorded."""
        self._runs.append(RunRow(job.id.key, record_data(record)))
        self.marked += 1
        self._wake.set()

    def skipped(self, job: Job, skipped: SkippedRange) -> None:
        """Occurrences of *job* were skipped."""
        self._skips.append(
            SkipRow(
                job.id.key,
                skipped.first.timestamp(),
                skipped.last.timestamp(),
                skipped.count,
                skipped.reason,
                skipped.exact,
            )
        )
        self.marked += 1
        self._wake.set()

    def snapshot(self, job: Job, row: JobRow) -> None:
        """Write *row*, *job* as it is now: it is given back, and is only shown from now on.

        Its row is not computed again when the batch is taken (it would show the job as
        this replica now does, with nothing planned).
        """
        self._jobs.pop(job.key, None)
        self._rows[row.key] = row
        self.marked += 1
        self._wake.set()

    def forget(self, job: Job) -> None:
        """Drop *job*'s pending row: a replicated store would refuse it (lease lost)."""
        self._jobs.pop(job.key, None)
        self._starts.discard(job.id.key)

    def started(self, job: Job) -> None:
        """*job*'s attempt started (a replicated store refuses it while a command waits)."""
        self._starts.add(job.id.key)
        self.changed(job)

    def applied(self, job: Job, command_id: int) -> None:
        """Command *command_id* of a replicated store was applied to *job*."""
        self._applied.append(command_id)
        self.changed(job)

    # ------------------------------------------------------------------ writing

    def _take(self) -> Batch:
        wall_now = self.wall_now().timestamp()
        trio_now = trio.current_time()
        codecs = self.store.codecs
        jobs = self._jobs.values()
        if self._refused:
            jobs = [job for job in jobs if job.id.key not in self._refused]  # type: ignore[assignment]
        rows = [job_row(job, codecs, wall_now, trio_now) for job in jobs]
        if self._rows:
            rows.extend(self._rows.values())
            self._rows = {}
        batch = Batch(
            tuple(rows),
            tuple(self._runs),
            tuple(self._skips),
            self.history_size,
            frozenset(self._starts),
            tuple(self._applied),
        )
        self._jobs, self._runs, self._skips = {}, [], []
        self._starts, self._applied = set(), []
        return batch

    async def _write_fenced(self, batch: Batch) -> None:
        """Write to a replicated store, retrying through a lost connection or a restart."""
        store = self.store
        assert isinstance(store, PostgresStore)
        give_up = trio.current_time() + self.retry_for
        delay = 0.05
        while True:
            try:
                written = await store.write_fenced(batch)
                break
            except StoreUnavailable as exc:  # anything else is not retried: it fails the write
                if trio.current_time() + delay > give_up:
                    # Every lease in the batch has lapsed by now: nothing would be accepted.
                    self.log.error("giving up a write after %.1f s: %s", self.retry_for, exc)
                    keys = {r.key for r in batch.jobs} | {r.key for r in batch.runs}
                    store.forget(keys)
                    written = Written(lost=frozenset(keys), fenced_runs=len(batch.runs))
                    break
                self.log.warning("a write failed (retrying in %.2f s): %s", delay, exc)
                await trio.sleep(delay)
                delay = min(delay * 2, 1.0)
        assert self.on_written is not None
        self.on_written(written)

    async def _write_isolated(self, batch: Batch) -> None:
        """Write *batch*; if the store refuses its content, write it in halves, to the job.

        A refusal (``WriteRefused``: a value the database cannot hold, a constraint, a row
        too large) would be repeated by every retry, so it must not stop the scheduler: the
        batch is split by job until the refused job is found, that job fails with the
        reason (``on_refused``), and every other job's rows are written.  A job whose row is
        refused again (its failed state, say) is left out of later batches.
        """
        try:
            if self.on_written is not None:
                await self._write_fenced(batch)
            else:
                await self.store.write(batch)
        except WriteRefused as exc:
            keys = sorted(_keys_of(batch))
            if len(keys) > 1:
                half = len(keys) // 2
                for part in (keys[:half], keys[half:]):
                    await self._write_isolated(_part(batch, set(part)))
                return
            for key in keys:
                if key in self._refused:
                    self.log.error("the store refused job key %r again; its row is left", key)
                    continue
                self._refused.add(key)
                self.on_refused(key, exc)

    async def _write_pending(self) -> None:
        target = self.marked
        if target == self.saved:
            return
        batch = self._take()
        try:
            # A batch taken is written: the write is not cancellable (the store's thread
            # finishes its transaction either way), so nothing marked is lost to a cancel.
            with trio.CancelScope(shield=True):
                await self._write_isolated(batch)
        except Exception as exc:
            self._failure = exc
            self._lot.unpark_all()
            self.on_failure()
            return
        self.saved = target
        self._lot.unpark_all()

    async def run(self) -> None:
        """The writer task: write each batch as soon as something is marked.

        A failed write ends it: the scheduler shuts down (``on_failure``) and the failure
        comes out of it (``raise_unreported``), or out of the call that waited for it.
        """
        while self._failure is None:
            await self._wake.wait()
            self._wake = trio.Event()
            await self._write_pending()

    def raise_unreported(self) -> None:
        """Raise the write failure, unless a waiting call raised it already."""
        if self._failure is not None and not self._reported:
            self._reported = True
            raise self._error() from self._failure

    def _error(self) -> StoreError:
        failure = self._failure
        if isinstance(failure, StoreError):
            return StoreError(str(failure))
        return StoreError(f"{self.store.describe()}: a write failed: {failure!r}")

    async def flush(self) -> None:
        """Write what is left (at shutdown), unless the store already failed."""
        if self._failure is None:
            with trio.CancelScope(shield=True):
                await self._write_pending()

    async def wait_saved(self, *, shield: bool = True) -> None:
        """Return once everything marked before the call is written.

        Shielded by default: the change was applied, so a cancel must not make the caller
        think it was not; a failed write wakes every waiter with ``StoreError``.  The lease
        driver's own waits are not shielded, so a shutdown never waits for them.
        """
        target = self.marked
        if self.saved >= target:
            await trio.lowlevel.cancel_shielded_checkpoint()  # still one checkpoint
            return
        with trio.CancelScope(shield=shield):
            while self.saved < target:
                if self._failure is not None:
                    self._reported = True
                    raise self._error() from self._failure
                await self._lot.park()
