"""The frozen values the scheduler hands out: ids, states, run records and job details."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVarTuple

import attrs

from ._lifetime import Lifetime
from ._misfire import MisfirePolicy
from ._retry import RetryPolicy
from ._schedule import Schedule

__all__ = [
    "BatchResult",
    "ErrorInfo",
    "JobContext",
    "JobDetails",
    "JobId",
    "JobRequest",
    "JobState",
    "JobSummary",
    "Outcome",
    "OutcomeCounts",
    "Refusal",
    "RunRecord",
    "SkippedRange",
    "current_job",
]


Ts = TypeVarTuple("Ts")


@attrs.frozen(order=True)
class JobId:
    """The identity of a job lineage within one scheduler. Returned by ``add_job``.

    It belongs to the scheduler that made it (``scheduler``): using it with another one
    raises ``InvalidArgument`` instead of silently naming that scheduler's job with the same
    number.  Ids of two schedulers compare unequal.  A ``JobId(n)`` built by hand belongs to
    no scheduler and names job *n* of whichever scheduler it is given to.

    Example:
        ```python
        job = await s.add_job(Interval(60), poll)
        print(job)                      # job-1
        s.get_job_details(job).state
        ```
    """

    value: int
    #: The scheduler that made the id (``None`` for one built by hand).
    scheduler: object = attrs.field(default=None, kw_only=True, order=False, repr=False)
    _key: str | None = attrs.field(default=None, kw_only=True, eq=False, order=False)

    @property
    def key(self) -> str:
        """The job's stable identity in its store: the ``key`` given to ``add_job``.

        Without one, a durable store generated a unique key when the job was added; in
        memory it is ``"~"`` and the number.  Keys outlive the process, numbers do not: use
        the key to find a job again after a restart.
        """
        return self._key if self._key is not None else f"~{self.value}"

    def __str__(self) -> str:
        return f"job-{self.value}"


class JobState(enum.Enum):
    """Where a job is in its life.

    ``STAGED`` jobs were accepted by ``add_job`` and wait in the staging buffer for the
    coordinator; ``SCHEDULED`` jobs wait for their next run (or for a trigger); ``RUNNING``
    jobs have an attempt in progress; ``PAUSED`` jobs do not run until resumed.
    ``CANCELLED``, ``COMPLETED`` and ``FAILED`` are final; ``FAILED`` means the job's own
    schedule, retry or lifetime policy raised, so the scheduler could not plan its next run
    (``JobDetails.error`` says what was raised).

    Example:
        ```python
        if s.get_job_details(job).state is tk.JobState.PAUSED:
            await s.resume_job(job)
        ```
    """

    # Members are singletons compared by identity: hash them by identity too, as cheap as
    # it gets (``Enum`` hashes the member's name in Python, and these key hot dicts).
    __hash__ = object.__hash__

    STAGED = "staged"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """Whether the job will never run again."""
        return self is JobState.CANCELLED or self is JobState.COMPLETED or self is JobState.FAILED


class Outcome(enum.Enum):
    """How one attempt ended.

    ``FAILED``: the job returned ``False``. ``ERRORED``: it raised an ``Exception``.
    ``TIMED_OUT``: it ran past its ``timeout``. ``CANCELLED``: it was interrupted or the
    scheduler shut down under it.  Failed, errored and timed-out attempts are retried.

    Example:
        ```python
        last = s.get_job_details(job).last_runs[-1]
        if last.outcome is tk.Outcome.TIMED_OUT:
            ...
        ```
    """

    # Members are singletons compared by identity: hash them by identity too, as cheap as
    # it gets (``Enum`` hashes the member's name in Python, and these key hot dicts).
    __hash__ = object.__hash__

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ERRORED = "errored"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"

    @property
    def is_retryable(self) -> bool:
        """Whether the retry policy is consulted after an attempt with this outcome."""
        return self in (Outcome.FAILED, Outcome.ERRORED, Outcome.TIMED_OUT)


@attrs.frozen
class ErrorInfo:
    """What a job raised: the exception's type, message and formatted traceback.

    Example:
        ```python
        error = s.get_job_details(job).last_runs[-1].error
        if error is not None:
            print(error.type, error.message)   # 'ValueError' 'bad row 12'
        ```
    """

    type: str
    message: str
    traceback: str


@attrs.frozen
class RunRecord:
    """One attempt of one occurrence, as recorded in the job's history.

    ``scheduled_for`` is the occurrence's instant; ``started_at``/``finished_at`` are read
    from the scheduler's wall clock; ``duration`` is measured on Trio's clock.

    Example:
        ```python
        for record in s.get_job_details(job).last_runs:
            print(record.run_id, record.attempt, record.outcome.value, f"{record.duration:.3f} s")
        ```
    """

    run_id: int
    attempt: int
    scheduled_for: datetime
    started_at: datetime
    finished_at: datetime
    duration: float
    outcome: Outcome
    triggered: bool = False
    error: ErrorInfo | None = None


@attrs.frozen
class SkippedRange:
    """Occurrences of a job that did not run: *count* of them, from *first* to *last*.

    *reason* says why: ``"misfire"`` (the misfire policy skipped or coalesced them: the
    scheduler was busy, suspended, or down) or ``"crashed"`` (an attempt of a job with
    ``on_crash="skip"``, or of a job paused meanwhile, was cut off by a crash, so it is not
    run again).  *exact* is ``False`` when there were so many that the count is a
    lower bound.

    Example:
        ```python
        for skipped in s.get_job_details(job).skipped:
            print(skipped.count, skipped.reason, skipped.first, skipped.last)
        ```
    """

    first: datetime
    last: datetime
    count: int
    reason: str
    exact: bool = True


@attrs.frozen
class OutcomeCounts:
    """How many attempts of a job ended in each way.

    Example:
        ```python
        counts = s.get_job_details(job).counts
        print(f"{counts.succeeded} ok, {counts.failed + counts.errored} bad")
        ```
    """

    succeeded: int = 0
    failed: int = 0
    errored: int = 0
    timed_out: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        """All finished attempts."""
        return self.succeeded + self.failed + self.errored + self.timed_out + self.cancelled


@attrs.frozen
class JobSummary:
    """One line of ``list_all_jobs()``.

    Example:
        ```python
        for summary in s.list_all_jobs():
            print(summary.id, summary.name, summary.state.value, summary.next_run_at)
        ```
    """

    id: JobId
    name: str
    state: JobState
    next_run_at: datetime | None


@attrs.frozen
class JobDetails:
    """Everything the scheduler knows about one job, as of the moment of the query.

    Attributes:
        attempt: the attempt number of the running attempt, or of the next one (``> 1``
            while a retry is pending, with ``next_run_at`` the retry's time).
        runs: occurrences run so far (retries of one occurrence count once).
        counts: attempts by outcome.
        misfires: occurrences of this job skipped or coalesced by the misfire policy.
        last_runs: the most recent attempts, oldest first (at most ``history_size``).
        error: for a ``FAILED`` job, what its schedule or policy raised.
        quarantine_after: the job is paused after this many failed occurrences in a row.
        consecutive_failures: failed occurrences in a row so far (a success resets it).
        quarantined: the job was paused by its quarantine (``resume_job`` lifts it).
        skipped: the latest ranges of occurrences that did not run, and why.
        on_crash: ``"rerun"`` or ``"skip"``: what a restart does with an attempt that a
            crash cut off (see ``add_job``).
        function: the job's function as ``module:qualname`` (for a stored job this process
            cannot run, the reference it was stored with).
        arguments: how many positional arguments the job is called with (their values
            are not part of the details' text: they may be secrets).
        jitter: seconds of jitter: each occurrence starts up to this much after its
            instant (``next_run_at`` is the jittered start; ``scheduled_for`` stays the
            occurrence's instant).
        error: for a ``FAILED`` job, what its schedule or policy raised (or why its store
            refused it); for a stored job this process cannot run, why.

    Example:
        ```python
        details = s.get_job_details(job)
        print(details.state, details.next_run_at, details.counts.errored)
        for record in details.last_runs:
            print(record.outcome, record.duration)
        ```
    """

    id: JobId
    name: str
    state: JobState
    schedule: Schedule
    retry: RetryPolicy | None
    lifetime: Lifetime
    misfire: MisfirePolicy
    timeout: float | None
    next_run_at: datetime | None
    attempt: int
    runs: int
    counts: OutcomeCounts
    misfires: int
    trigger_pending: bool
    added_at: datetime
    last_runs: tuple[RunRecord, ...]
    error: ErrorInfo | None = None
    quarantine_after: int | None = None
    consecutive_failures: int = 0
    quarantined: bool = False
    skipped: tuple[SkippedRange, ...] = ()
    on_crash: str = "rerun"
    function: str = ""
    arguments: int = 0
    jitter: float = 0.0


@attrs.frozen
class JobContext:
    """What a running job can know about itself: see ``current_job``.

    Example:
        ```python
        async def job() -> None:
            ctx = tk.current_job()
            log.info("%s attempt %d for %s", ctx.name, ctx.attempt, ctx.scheduled_for)
        ```
    """

    job_id: JobId
    name: str
    attempt: int
    scheduled_for: datetime
    run_id: int
    triggered: bool

    @property
    def occurrence_id(self) -> str:
        """A stable name for this occurrence: the same for its retries and its re-runs.

        ``"<job key>@<scheduled_for in ISO 8601, UTC>"``: a re-run after a crash, or on
        another process of the same store, has the same one, so use it as an idempotency
        key for the job's side effects.
        """
        return f"{self.job_id.key}@{self.scheduled_for.astimezone(UTC).isoformat()}"


class _RunningJob(Protocol):
    """What a worker puts in ``_current_job``: the run, whose context is built when asked."""

    def context(self) -> JobContext: ...


#: The attempt the calling task is running: a worker sets it to the run itself, so a job
#: that never calls ``current_job`` costs no ``JobContext``.
_current_job: ContextVar[_RunningJob] = ContextVar("turnkeeper_trio.current_job")


def current_job() -> JobContext:
    """Return the context of the job run that is calling.

    Example:
        ```python
        async def report() -> None:
            ctx = tk.current_job()
            log.info("attempt %d of run for %s", ctx.attempt, ctx.scheduled_for)
        ```

    Raises:
        RuntimeError: called outside a job run.
    """
    try:
        running = _current_job.get()
    except LookupError:
        raise RuntimeError("current_job() was called outside a turnkeeper_trio job run") from None
    return running.context()


class JobRequest:
    """One job for ``Scheduler.add_jobs``: the arguments ``add_job`` takes, not yet checked.

    Building one checks nothing; ``add_jobs`` checks each request as ``add_job`` would and
    refuses a bad one on its own, with the error ``add_job`` would have raised.

    Example:
        ```python
        result = await s.add_jobs(
            tk.JobRequest(tk.Once(when), send_invoice, order_id, key=f"invoice-{order_id}")
            for order_id, when in due_invoices
        )
        ```
    """

    __slots__ = (
        "args",
        "async_fn",
        "jitter",
        "key",
        "lifetime",
        "misfire",
        "name",
        "on_crash",
        "quarantine_after",
        "retry",
        "schedule",
        "timeout",
    )

    def __init__(
        self,
        schedule: Schedule,
        async_fn: Callable[[*Ts], Awaitable[object]],
        *args: *Ts,
        name: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | timedelta | None = None,
        lifetime: Lifetime | None = None,
        misfire: MisfirePolicy | None = None,
        quarantine_after: int | None = None,
        key: str | None = None,
        on_crash: str = "rerun",
        jitter: float | timedelta | None = None,
    ) -> None:
        self.schedule = schedule
        self.async_fn: Callable[..., Awaitable[object]] = async_fn
        self.args: tuple[Any, ...] = args
        self.name = name
        self.retry = retry
        self.timeout = timeout
        self.lifetime = lifetime
        self.misfire = misfire
        self.quarantine_after = quarantine_after
        self.key = key
        self.on_crash = on_crash
        self.jitter = jitter

    def __repr__(self) -> str:
        name = self.name if self.name is not None else getattr(self.async_fn, "__qualname__", "?")
        return f"JobRequest({self.schedule!r}, {name}, key={self.key!r})"


@attrs.frozen
class Refusal:
    """One item of a batch call that was refused: its position and the error it got.

    ``error`` is what the single call (``add_job``, ``cancel_job``) would have raised for
    that item: a ``TypeError``, ``InvalidArgument``, ``JobNotFound``, ...

    Example:
        ```python
        for refusal in (await s.cancel_jobs(ids)).refused:
            print(ids[refusal.index], "not cancelled:", refusal.error)
        ```
    """

    index: int
    error: Exception


@attrs.frozen
class BatchResult:
    """What ``add_jobs`` or ``cancel_jobs`` did, item by item.

    Attributes:
        ids: one entry per item, in order: the item's ``JobId`` (the job added, or the job
            cancelled), or ``None`` where the item was refused.
        refused: the refused items, in order, each with its error.

    Example:
        ```python
        result = await s.add_jobs(requests)
        for refusal in result.refused:
            log.warning("job %d not added: %s", refusal.index, refusal.error)
        result.raise_for_refused()   # or: an ExceptionGroup of the errors, if any
        ```
    """

    ids: tuple[JobId | None, ...]
    refused: tuple[Refusal, ...] = ()

    @property
    def accepted(self) -> tuple[JobId, ...]:
        """The ids of the items that were not refused, in order."""
        return tuple(job_id for job_id in self.ids if job_id is not None)

    def raise_for_refused(self) -> None:
        """Raise an ``ExceptionGroup`` of the refused items' errors, if any were refused.

        The items that were not refused stay done: a batch is atomic per item, not as a
        whole.
        """
        if self.refused:
            indexes = ", ".join(str(refusal.index) for refusal in self.refused)
            raise ExceptionGroup(
                f"{len(self.refused)} of {len(self.ids)} items refused (at {indexes})",
                [refusal.error for refusal in self.refused],
            )
