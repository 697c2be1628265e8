"""The observer: what the scheduler tells the outside world, in metrics, events and logs.

The coordinator decides; the observer reports.  It owns the metrics, the event hub and the
logger, reads the wall clock for the events' timestamps, and notices wall-clock jumps.  It
never touches a job's state: every method takes the job as it is and says what happened.
Event objects and log fields are built only when someone listens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import attrs
import trio

from . import _events as ev
from ._boundary import BadStrategyValue
from ._job import Job, Run, RunKind
from ._metrics import Metrics
from ._models import ErrorInfo, Outcome
from ._outcome import Finished, LateWarnings, log_outcome
from ._wallclock import WallClock

if TYPE_CHECKING:
    from ._otel import Telemetry

__all__ = ["Observer"]


def _fields(job: Job) -> dict[str, object]:
    return {"job_id": str(job.id), "job_name": job.name}


@attrs.define(eq=False)
class Observer:
    """Metrics, events and logs for one scheduler (internal)."""

    wall_clock: WallClock
    metrics: Metrics
    log: logging.Logger
    jump_threshold: float
    late_threshold: float
    events: ev.EventHub = attrs.field(factory=ev.EventHub)
    #: OpenTelemetry (``otel=True``), else ``None``.
    telemetry: Telemetry | None = None
    _last_wall: float | None = None
    _last_trio: float = 0.0
    _late_warnings: LateWarnings = attrs.field(factory=LateWarnings)

    def now(self) -> datetime:
        """The wall clock's current instant."""
        return self.wall_clock.now()

    def observe_clock(self) -> datetime:
        """Read the wall clock, counting a jump when it disagrees with Trio's clock."""
        wall_now = self.wall_clock.now()
        wall = wall_now.timestamp()
        now = trio.current_time()
        if self._last_wall is not None:
            drift = (wall - self._last_wall) - (now - self._last_trio)
            if abs(drift) > self.jump_threshold:
                self.metrics.clock_jumps += 1
                self.emit(lambda at: ev.ClockJumped(at, drift))
                self.log.warning(
                    "wall clock jumped %+.3f s relative to the Trio clock",
                    drift,
                    extra={"jump_s": drift},
                )
        self._last_wall, self._last_trio = wall, now
        return wall_now

    def emit(self, make: Callable[[datetime], ev.Event]) -> None:
        """Publish an event; *make* builds it only if someone is subscribed."""
        if self.events.subscribers:
            self.metrics.events_dropped += self.events.publish(make(self.wall_clock.now()))

    def debug(self, message: str, job: Job) -> None:
        """A DEBUG line about *job* (its structured fields built only if enabled)."""
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug(message, extra=_fields(job))

    # ------------------------------------------------------------------ job events

    def added(self, job: Job) -> None:
        """The coordinator took *job* in."""
        self.debug("job added", job)
        self.emit(lambda at: ev.JobAdded(at, job.id, job.name))

    def failed(self, job: Job, where: str, exc: Exception, info: ErrorInfo) -> None:
        """A strategy of *job* raised or returned a bad value: the job failed."""
        self.emit(lambda at: ev.JobFailed(at, job.id, job.name, info))
        if isinstance(exc, BadStrategyValue):
            what, exc_info = str(exc), None  # our own check: its traceback says nothing
        else:
            what, exc_info = f"its {where} raised {exc!r}", exc
        self.log.error(
            "job %r (%s) failed: %s; it will not run again",
            job.name,
            job.id,
            what,
            exc_info=exc_info,
            extra=_fields(job),
        )

    def write_refused(self, job: Job, info: ErrorInfo) -> None:
        """The store refused to write *job*'s row: the job failed, every other one goes on."""
        self.metrics.store_writes_refused += 1
        self.emit(lambda at: ev.JobFailed(at, job.id, job.name, info))
        self.log.warning(
            "job %r (%s) failed: the store refused to write it (%s: %s); it will not run "
            "again, and every other job goes on",
            job.name,
            job.id,
            info.type,
            info.message,
            extra=_fields(job),
        )

    def completed(self, job: Job) -> None:
        """*job*'s lineage ended by itself."""
        self.metrics.jobs_completed += 1
        self.emit(lambda at: ev.JobCompleted(at, job.id, job.name))
        self.debug("job completed", job)

    def cancelled(self, job: Job) -> None:
        """*job* was cancelled."""
        self.metrics.jobs_cancelled += 1
        self.emit(lambda at: ev.JobCancelled(at, job.id, job.name))
        self.debug("job cancelled", job)

    def paused(self, job: Job) -> None:
        """*job* was paused by ``pause_job``."""
        self.emit(lambda at: ev.JobPaused(at, job.id, job.name))

    def quarantined(self, job: Job) -> None:
        """*job* was paused by its quarantine."""
        self.emit(lambda at: ev.JobPaused(at, job.id, job.name, quarantined=True))
        self.metrics.jobs_quarantined += 1
        self.log.warning(
            "job %r (%s) quarantined (paused) after %d failed occurrences in a row; "
            "resume_job() lifts the quarantine",
            job.name,
            job.id,
            job.consecutive_failures,
            extra=_fields(job),
        )

    def resumed(self, job: Job) -> None:
        """*job* was resumed."""
        self.emit(lambda at: ev.JobResumed(at, job.id, job.name))

    def updated(self, job: Job, changed: tuple[str, ...]) -> None:
        """``update_job`` changed *changed* on *job*."""
        self.emit(lambda at: ev.JobUpdated(at, job.id, job.name, changed))

    def misfired(self, job: Job, count: int, due: datetime, exact: bool = True) -> None:
        """*count* occurrences of *job* from *due* on were skipped or coalesced."""
        self.metrics.misfires += count
        self.emit(lambda at: ev.Misfired(at, job.id, job.name, count, due, exact))
        self.log.warning(
            "job %r (%s) missed %s%d occurrence(s) from %s (misfire policy %r)",
            job.name,
            job.id,
            "" if exact else "at least ",
            count,
            due.isoformat(),
            job.misfire,
            extra={**_fields(job), "misfires": count},
        )

    def retry_scheduled(self, job: Job, failed_attempt: int, delay: float) -> None:
        """Attempt *failed_attempt* of *job* failed; the next one runs in *delay* seconds."""
        self.metrics.retries_scheduled += 1
        self.emit(lambda at: ev.RetryScheduled(at, job.id, job.name, failed_attempt + 1, delay))
        self.log.info(
            "job %r (%s) attempt %d failed; retrying in %.3f s",
            job.name,
            job.id,
            failed_attempt,
            delay,
            extra={**_fields(job), "attempt": failed_attempt},
        )

    # ------------------------------------------------------------------ runs

    def run_started(self, run: Run, started_at: datetime) -> None:
        """A worker started *run*: busy workers, lateness, the overload warning."""
        metrics = self.metrics
        metrics.runs_started += 1
        metrics.workers_active += 1
        if run.kind is not RunKind.RETRY:
            # From the start the occurrence was due at: its instant plus the job's jitter.
            lateness = max(started_at.timestamp() - run.scheduled_for.timestamp() - run.offset, 0.0)
            metrics.dispatch_lateness.add(lateness)
            if lateness > self.late_threshold:
                metrics.runs_late += 1
                self._late_warnings.note(self.log, lateness, self.late_threshold, metrics)
        job = run.job
        self.emit(
            lambda at: ev.RunStarted(
                at, job.id, job.name, run.run_id, run.attempt, run.scheduled_for
            )
        )

    def run_stopped(self) -> None:
        """A worker is done with its run (the report follows)."""
        self.metrics.workers_active -= 1

    def run_finished(self, run: Run, finished: Finished, outcome: Outcome) -> None:
        """The outcome of *run*: counts, duration, the log line and ``RunFinished``."""
        self.metrics.outcomes[outcome] += 1
        self.metrics.run_duration.add(finished.duration)
        log_outcome(self.log, run, finished)
        job = run.job
        self.emit(
            lambda at: ev.RunFinished(
                at,
                job.id,
                job.name,
                run.run_id,
                run.attempt,
                run.scheduled_for,
                outcome,
                finished.duration,
                finished.error,
            )
        )
