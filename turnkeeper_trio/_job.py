"""The coordinator's private records: a job's spec, its live state, and one dispatched run."""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, TypeVar, overload

import attrs
import trio

from ._jitter import jitter_offset, jitter_seed
from ._lifetime import Lifetime
from ._misfire import MisfirePolicy
from ._models import (
    ErrorInfo,
    JobContext,
    JobDetails,
    JobId,
    JobState,
    JobSummary,
    Outcome,
    OutcomeCounts,
    RunRecord,
    SkippedRange,
)
from ._retry import RetryPolicy
from ._schedule import Schedule
from ._state import Phase, Status
from ._store import JobRow

__all__ = ["Job", "JobExtras", "JobSpec", "Ran", "Run", "RunKind", "as_record"]

AsyncFn = Callable[..., Awaitable[object]]
T = TypeVar("T")


@attrs.define(eq=False)
class JobSpec:
    """A validated job submission, as it travels through the staging buffer.

    Never changed once made (``attrs.evolve`` makes a changed copy), but for its ``id``:
    it is provisional (number 0, with the key given) until the submission is accepted,
    and numbered then, so that a refused call uses up no number.  Not frozen, since a
    frozen class costs more to build and one is built for every ``add_job``.
    """

    id: JobId
    name: str
    schedule: Schedule
    fn: AsyncFn
    args: tuple[Any, ...]
    retry: RetryPolicy | None
    timeout: float | None
    lifetime: Lifetime
    misfire: MisfirePolicy
    quarantine_after: int | None
    submitted_at: datetime
    #: What a restart does with an attempt cut off by a crash: ``"rerun"`` or ``"skip"``.
    on_crash: str = "rerun"
    #: The definition as a durable store writes it (``None`` with ``MemoryStore``).
    definition: dict[str, Any] | None = None
    #: The key named a job the scheduler knows: attach to it rather than add one.
    attach: bool = False
    #: Seconds of jitter: each occurrence starts up to this much after its instant.
    jitter: float = 0.0
    #: OpenTelemetry: the span context current when the job was added (``otel=True``).
    link: object = None

    def to_job(self) -> Job:
        """The live record this submission becomes when the coordinator takes it in."""
        return Job(
            id=self.id,
            name=self.name,
            schedule=self.schedule,
            fn=self.fn,
            args=self.args,
            retry=self.retry,
            timeout=self.timeout,
            lifetime=self.lifetime,
            misfire=self.misfire,
            quarantine_after=self.quarantine_after,
            added_at=self.submitted_at,
            extras=self._extras(),
        )

    def _extras(self) -> JobExtras | None:
        key = self.id._key
        keyed = key is not None and not key.startswith("~")  # given, so it may be re-added
        if (
            not keyed
            and self.definition is None
            and self.on_crash == "rerun"
            and not self.jitter
            and self.link is None
        ):
            return None  # the common in-memory job: nothing extra to keep
        return JobExtras(
            given=self.schedule if keyed else None,
            on_crash=self.on_crash,
            definition=self.definition,
            jitter=self.jitter,
            links=() if self.link is None else (self.link,),
        )

    def staged_details(self) -> JobDetails:
        """Details of a job that the coordinator has not taken in yet."""
        return attrs.evolve(self.to_job().details(next_run_at=None), state=JobState.STAGED)


#: An attempt as the history keeps it in memory: ``RunRecord``'s fields, in order.  A tuple
#: costs a thirtieth of the record; the record is built when the history is queried.
Ran = tuple[int, int, datetime, datetime, datetime, float, Outcome, bool, "ErrorInfo | None"]


def as_record(entry: RunRecord | Ran) -> RunRecord:
    """The ``RunRecord`` of a history entry."""
    return entry if type(entry) is RunRecord else RunRecord(*entry)  # type: ignore[misc]


class RunKind(enum.Enum):
    """Why a run was dispatched."""

    # Members are singletons compared by identity: hash them by identity too, as cheap as
    # it gets (``Enum`` hashes the member's name in Python, and these key hot dicts).
    __hash__ = object.__hash__

    REGULAR = "regular"  # the schedule's occurrence
    RETRY = "retry"  # a further attempt of the current occurrence
    TRIGGER = "trigger"  # an out-of-band occurrence asked for by trigger_job


@attrs.define(eq=False, slots=True, weakref_slot=False)
class Run:
    """One attempt taken by the dispatcher, from the dispatch buffer to its report.

    The worker reads the job's function, arguments and timeout when the attempt starts, so
    an update reaches an attempt that waited for a worker.
    """

    job: Job
    run_id: int
    kind: RunKind
    #: The occurrence came from ``trigger_job`` (a retry of a triggered run is one too).
    triggered: bool
    attempt: int
    scheduled_for: datetime
    #: The occurrence was late past its misfire grace if it starts after this wall timestamp.
    start_by: float
    #: The attempt's cancel scope, made by the worker when it starts the attempt (so a run
    #: that waits, or never starts, costs none); ``interrupt`` and the timeout use it.
    scope: trio.CancelScope | None = None
    #: The job's name when the attempt started (what ``current_job`` shows).
    name: str = ""
    #: The occurrence after this one, when planning already asked the schedule (a late
    #: occurrence's misfire check): ``(schedule asked, its answer)``, reused when the
    #: attempt is over if the job still has that schedule.
    following: tuple[Schedule, datetime | None] | None = None
    #: Set by the coordinator when the run must not start (job cancelled or paused first).
    abandoned: bool = False
    #: Set when ``interrupt`` cancelled the scope, to tell an interrupt from a timeout.
    interrupted: bool = False
    #: The dispatcher's cancel scope while it waits to hand the run to a worker.
    send_scope: trio.CancelScope | None = None
    #: A replicated store: the scope that ends the attempt when its job's lease runs out.
    lease_scope: trio.CancelScope | None = None
    #: A replicated store refused the start (a command waits for the job): it must not run.
    refused: bool = False
    #: The job's lease was lost while this attempt ran: its outcome is not recorded.
    fenced: bool = False
    #: Seconds after ``scheduled_for`` that the occurrence was due to start (its jitter).
    offset: float = 0.0

    def context(self) -> JobContext:
        """What ``current_job`` shows the attempt (built only when it asks)."""
        return JobContext(
            job_id=self.job.id,
            name=self.name,
            attempt=self.attempt,
            scheduled_for=self.scheduled_for,
            run_id=self.run_id,
            triggered=self.triggered,
        )


class _Extra(Generic[T]):
    """A field of ``JobExtras``, read and written through the job.

    Reading gives the default while the job has no extras; writing makes them.
    """

    def __init__(self, default: T) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, job: None, owner: type) -> _Extra[T]: ...
    @overload
    def __get__(self, job: Job, owner: type) -> T: ...
    def __get__(self, job: Job | None, owner: type) -> T | _Extra[T]:
        if job is None:
            return self
        extras = job.extras
        return self.default if extras is None else getattr(extras, self.name)

    def __set__(self, job: Job, value: T) -> None:
        setattr(job._extras(), self.name, value)


@attrs.define(eq=False, slots=True, weakref_slot=False)
class JobExtras:
    """The parts of a job that most jobs do not have, kept apart to keep a pending job small."""

    #: The schedule as given (``Job.schedule`` is it anchored): what a re-added key compares.
    given: Schedule | None = None
    on_crash: str = "rerun"
    #: The definition as a durable store writes it.
    definition: dict[str, Any] | None = None
    #: The latest ranges of occurrences that did not run (made at the first one).
    skips: deque[SkippedRange] | None = None
    #: A stored job this process cannot run (its function does not import): the row as
    #: stored, kept unchanged until a deploy that can run it attaches to its key.
    broken: JobRow | None = None
    #: The latest idempotency keys of ``trigger_job`` (a repeated one is ignored).
    trigger_keys: deque[str] | None = None
    #: A replicated store: the job as stored, while another replica holds it (shown, not
    #: run here).
    remote: JobRow | None = None
    #: Seconds of jitter (see ``_jitter``): 0 for most jobs.
    jitter: float = 0.0
    #: OpenTelemetry: span contexts an attempt's span links to (where the job was added,
    #: and the latest ``trigger_job``).
    links: tuple[object, ...] = ()


@attrs.define(eq=False, slots=True, weakref_slot=False)
class Job:
    """A job lineage's live state.  Owned and mutated by the coordinator only."""

    id: JobId
    name: str
    schedule: Schedule
    fn: AsyncFn
    args: tuple[Any, ...]
    retry: RetryPolicy | None
    timeout: float | None
    lifetime: Lifetime
    misfire: MisfirePolicy
    quarantine_after: int | None
    added_at: datetime
    #: The lifecycle (see ``_state``): written only by ``Coordinator.install``.
    status: Status = attrs.field(factory=Status)
    runs: int = 0
    misfires: int = 0
    #: Attempts by outcome and the latest run records, made together at the first outcome
    #: (most pending jobs have none yet: this keeps a pending job small).
    records: tuple[dict[Outcome, int], deque[RunRecord | Ran]] | None = None
    error: ErrorInfo | None = None
    #: Occurrences in a row whose last attempt failed, errored or timed out.
    consecutive_failures: int = 0
    quarantined: bool = False
    #: What few jobs need (``None`` for most: it keeps a pending job small).
    extras: JobExtras | None = None

    def _extras(self) -> JobExtras:
        extras = self.extras
        if extras is None:
            extras = self.extras = JobExtras()
        return extras

    given = _Extra["Schedule | None"](None)
    on_crash = _Extra[str]("rerun")
    definition = _Extra["dict[str, Any] | None"](None)
    skips = _Extra["deque[SkippedRange] | None"](None)
    trigger_keys = _Extra["deque[str] | None"](None)
    broken = _Extra["JobRow | None"](None)
    remote = _Extra["JobRow | None"](None)
    jitter = _Extra[float](0.0)
    links = _Extra["tuple[object, ...]"](())

    @property
    def state(self) -> JobState:
        """The state users see (derived from ``status``; as stored for a remote job)."""
        extras = self.extras
        if extras is not None and extras.remote is not None:
            stored = extras.remote.state
            run = stored.get("run") if isinstance(stored, dict) else None
            if self.status.phase is Phase.ACTIVE and isinstance(run, list) and run[4:5] == [True]:
                return JobState.RUNNING
        return self.status.job_state

    @property
    def key(self) -> int:
        """The job's key in the queue."""
        return self.id.value

    @property
    def is_live(self) -> bool:
        """Whether the job may still run."""
        return not self.state.is_final

    def summary(self, next_run_at: datetime | None) -> JobSummary:
        """The job as one line of ``list_all_jobs``."""
        return JobSummary(self.id, self.name, self.state, next_run_at)

    def details(self, next_run_at: datetime | None) -> JobDetails:
        """The job's frozen details."""
        counts, history = self.records or ({}, ())
        return JobDetails(
            id=self.id,
            name=self.name,
            state=self.state,
            schedule=self.schedule,
            retry=self.retry,
            lifetime=self.lifetime,
            misfire=self.misfire,
            timeout=self.timeout,
            next_run_at=next_run_at,
            attempt=self.status.attempt,
            runs=self.runs,
            counts=OutcomeCounts(
                succeeded=counts.get(Outcome.SUCCEEDED, 0),
                failed=counts.get(Outcome.FAILED, 0),
                errored=counts.get(Outcome.ERRORED, 0),
                timed_out=counts.get(Outcome.TIMED_OUT, 0),
                cancelled=counts.get(Outcome.CANCELLED, 0),
            ),
            misfires=self.misfires,
            trigger_pending=self.status.trigger is not None,
            added_at=self.added_at,
            last_runs=tuple(map(as_record, history)),
            error=self.error,
            quarantine_after=self.quarantine_after,
            consecutive_failures=self.consecutive_failures,
            quarantined=self.quarantined,
            skipped=tuple(self.skips or ()),
            on_crash=self.on_crash,
            function=self.function_ref(),
            arguments=len(self.args),
            jitter=self.jitter,
        )

    def offset(self, occurrence: datetime) -> float:
        """Seconds after *occurrence* that this job starts it (its jitter; 0 without)."""
        jitter = self.jitter
        if not jitter:
            return 0.0
        try:
            following: object = self.schedule.next_after(occurrence)
        except Exception:  # the schedule's own failure surfaces when the job is planned
            following = None
        if not isinstance(following, datetime):  # a bad answer fails the job when it is planned
            following = None
        return jitter_offset(jitter_seed(self.id.key, self.id.value), occurrence, jitter, following)

    def function_ref(self) -> str:
        """``module:qualname`` of the job's function (as stored, for one not loaded)."""
        broken = self.broken
        if broken is not None or self.remote is not None:
            definition = self.definition or (broken.definition if broken is not None else None)
            stored = definition.get("fn") if isinstance(definition, dict) else None
            if isinstance(stored, str):
                return stored
        fn = self.fn
        module = getattr(fn, "__module__", None)
        qualname = getattr(fn, "__qualname__", None)
        if isinstance(module, str) and isinstance(qualname, str):
            return f"{module}:{qualname}"
        return repr(fn)
