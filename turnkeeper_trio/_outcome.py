"""What a worker reports about a run, and how outcomes are logged."""

from __future__ import annotations

import logging
import math
import traceback
from collections import deque
from datetime import datetime

import attrs
import trio

from ._codec import MESSAGE_LIMIT, TRACEBACK_LIMIT, storable_text
from ._job import Run
from ._metrics import Metrics
from ._models import ErrorInfo, Outcome

__all__ = [
    "Finished",
    "LateWarnings",
    "Report",
    "ReportQueue",
    "Started",
    "error_info",
    "log_outcome",
]


@attrs.define(eq=False)
class Started:
    """A worker's report that it is starting *run* (sent before the job's code runs)."""

    run: Run
    started_at: datetime


@attrs.define(eq=False)
class Finished:
    """A worker's report on a run: its outcome, or ``None`` if it never started.

    (Reports are made twice per run and never changed: plain slotted classes, which cost
    less to build than frozen ones.)

    ``late`` marks a run that was not started because it was past its misfire grace.
    """

    run: Run
    outcome: Outcome | None
    late: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float = 0.0
    error: ErrorInfo | None = None


#: What a worker sends the coordinator: a start, then (for every run it received) a finish.
Report = Started | Finished


@attrs.define(eq=False)
class ReportQueue:
    """The workers' reports to the coordinator, in the order they were sent (internal).

    Unbounded, so a worker can always report, even while being cancelled (at most two
    reports per dispatched run are ever outstanding).  Not a memory channel: a channel's
    ``receive`` hands a value over and *then* checkpoints, so a report taken by a waiting task
    could be overtaken by a later one that somebody else drains meanwhile.  Here a report is
    taken and applied in one synchronous step, so reports apply in order.
    """

    #: Where the coordinator's intake task parks (the staging buffer's, shared).
    arrived: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)
    #: Reports not yet applied, oldest first (the coordinator pops them).
    pending: deque[Report] = attrs.field(factory=deque)

    def put(self, report: Report) -> None:
        """Send *report* (never blocks)."""
        self.pending.append(report)
        if self.arrived:
            self.arrived.unpark_all()


def error_info(exc: BaseException) -> ErrorInfo:
    r"""Summarise an exception for a run record, as text every store can hold.

    The text comes from the job, so it is made storable on every store alike
    (``storable_text``): a NUL is written ``\x00`` and a lone surrogate ``\udcff`` (say), and
    the message and traceback are cut at ``MESSAGE_LIMIT`` and ``TRACEBACK_LIMIT``
    characters.  An exception whose ``str()`` raises is described, not re-raised.
    """
    try:
        message = str(exc)
    except Exception as failure:
        message = f"<str() of the exception raised {type(failure).__name__}>"
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception as failure:  # pragma: no cover - the traceback module is robust
        text = f"<the traceback could not be formatted: {type(failure).__name__}>"
    return ErrorInfo(
        type=storable_text(type(exc).__qualname__, MESSAGE_LIMIT),
        message=storable_text(message, MESSAGE_LIMIT),
        traceback=storable_text(text, TRACEBACK_LIMIT),
    )


#: Seconds between two "runs are late" warnings (Trio clock); the count covers the interval.
_LATE_LOG_INTERVAL = 60.0


def log_outcome(log: logging.Logger, run: Run, finished: Finished) -> None:
    """Log one attempt's outcome: DEBUG for a success, WARNING otherwise (errors with traceback)."""
    outcome = finished.outcome
    assert outcome is not None
    if outcome is Outcome.SUCCEEDED and not log.isEnabledFor(logging.DEBUG):
        return  # the hot path: nothing to log, so build nothing
    extra = {
        "job_id": str(run.job.id),
        "job_name": run.job.name,
        "run_id": run.run_id,
        "attempt": run.attempt,
        "outcome": outcome.value,
        "duration_s": finished.duration,
    }
    job = run.job
    if outcome is Outcome.SUCCEEDED:
        log.debug("job %r (%s) attempt %d succeeded", job.name, job.id, run.attempt, extra=extra)
    elif outcome is Outcome.ERRORED and finished.error is not None:
        log.warning(
            "job %r (%s) attempt %d raised %s: %s\n%s",
            job.name,
            job.id,
            run.attempt,
            finished.error.type,
            finished.error.message,
            finished.error.traceback,
            extra=extra,
        )
    else:
        log.warning(
            "job %r (%s) attempt %d %s",
            job.name,
            job.id,
            run.attempt,
            outcome.value.replace("_", " "),
            extra=extra,
        )


@attrs.define
class LateWarnings:
    """Rate-limits the "runs are late" warning to one a minute, counting what it folds."""

    since_last: int = 0
    next_at: float = -math.inf

    def note(
        self, log: logging.Logger, lateness: float, threshold: float, metrics: Metrics
    ) -> None:
        """Count a late run; warn if the last warning is more than a minute old."""
        self.since_last += 1
        now = trio.current_time()
        if now < self.next_at:
            return
        log.warning(
            "%d run(s) started more than %.3g s late (latest: %.3f s late, %d of %d workers "
            "busy); the scheduler may be overloaded",
            self.since_last,
            threshold,
            lateness,
            metrics.workers_active,
            metrics.workers_max,
            extra={"late_runs": self.since_last, "lateness_s": lateness},
        )
        self.since_last = 0
        self.next_at = now + _LATE_LOG_INTERVAL
