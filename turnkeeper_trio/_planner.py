"""The planner: the transitions of a job's lifecycle.

Every command, worker report and wake-up is one method here that takes the job and its
current :class:`~turnkeeper_trio._state.Status` and returns the next one; the coordinator
installs it (``Coordinator.install``), which is the only place a status is ever written.  The
rules live here, once:

* **no overlap**: at most one attempt is taken (``Status.run``); an occurrence, retry or
  trigger that falls due meanwhile waits in the status until the attempt is over;
* **lifetimes** are asked before an occurrence is planned, when it is about to start, and
  after each occurrence (a trigger counts as a run; a lifetime may be replaced);
* **pause drops retries** (and an attempt not yet started), keeps a trigger for ``resume``;
* **updates apply from the next attempt**: an attempt in progress is left alone; a new
  schedule replans at the moment of the update.

Whatever a user strategy returns is checked at the call (``_boundary``); when it raises or
returns a bad value the transition ends in ``FAILED`` for that job alone (``StrategyFailed``
carries the status it failed from).  Records that only accumulate (run history, counts,
misfires) are kept on the job by the same transitions.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import attrs
import trio

from ._boundary import checked_allows, checked_delay, checked_fire, checked_grace, checked_schedule
from ._job import Job, Ran, Run, RunKind
from ._lifetime import Forever
from ._misfire import CatchUp, Coalesce, checked_decision, last_skipped
from ._models import Outcome, RunRecord, SkippedRange
from ._observer import Observer
from ._outcome import Finished, error_info
from ._schedule import Schedule
from ._state import Phase, Retry, Status
from ._store import SKIPS_KEPT

if TYPE_CHECKING:
    from ._durable import Journal, Recovered

__all__ = ["Planner", "StrategyFailed"]


#: Misfire policies whose decision for an occurrence late by moments the planner makes
#: itself (exactly these types: a subclass may decide otherwise).
_BUILT_IN_POLICIES = frozenset({Coalesce, CatchUp})


def _from_ts(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class StrategyFailed(Exception):
    """A user strategy of a job raised or returned a bad value (internal).

    ``status`` is the job's status when the strategy was asked: the job fails from there.
    """

    def __init__(self, status: Status, where: str, error: Exception) -> None:
        super().__init__(where, error)
        self.status, self.where, self.error = status, where, error


def _final(s: Status, phase: Phase) -> Status:
    """*s* ended in *phase*: nothing is planned; an attempt in progress finishes."""
    # Built directly rather than by ``_replace``: every cancel comes through here.
    if s.started:
        return Status(phase, None, None, None, s.run, True, s.fired, s.planned)
    return Status(phase, None, None, None, None, False, s.fired, s.planned)


@attrs.define(eq=False)
class Planner:
    """Computes each job's next status (internal)."""

    observer: Observer
    history_size: int
    _run_ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    #: Told of each attempt recorded and each range skipped (a durable store only).
    journal: Journal | None = None

    def first_run_id(self, run_id: int) -> None:
        """Number new attempts from *run_id* on (after those of a store's earlier lives)."""
        self._run_ids = itertools.count(run_id)

    # ------------------------------------------------------------------ strategies

    def _allowed(self, job: Job, s: Status, when: datetime) -> bool:
        """Whether the job's lifetime lets an occurrence at *when* run."""
        lifetime = job.lifetime
        if type(lifetime) is Forever:  # the common case, decided without a call
            return True
        try:
            return checked_allows(lifetime.allows(runs=job.runs, next_fire=when))
        except Exception as exc:
            raise StrategyFailed(s, "lifetime", exc) from exc

    def _next_fire(self, job: Job, s: Status, after: datetime) -> datetime | None:
        try:
            return checked_fire(job.schedule.next_after(after), after, "schedule.next_after")
        except Exception as exc:
            raise StrategyFailed(s, "schedule", exc) from exc

    def failed(self, job: Job, failure: StrategyFailed) -> Status:
        """The job cannot be planned any more: record why and end it."""
        job.error = info = error_info(failure.error)
        self.observer.failed(job, failure.where, failure.error, info)
        return _final(failure.status, Phase.FAILED)

    def _complete(self, job: Job, s: Status) -> Status:
        self.observer.completed(job)
        return _final(s, Phase.COMPLETED)

    # ------------------------------------------------------------------ planning

    def plan_first(self, job: Job, s: Status, anchor: datetime) -> Status:
        """Plan the first regular occurrence of a schedule given at *anchor*."""
        try:
            given = job.schedule
            anchored = given.anchored(anchor)
            # A schedule of the type given is one (the type was checked when it was given).
            job.schedule = anchored if type(anchored) is type(given) else checked_schedule(anchored)
            first = checked_fire(anchored.first_after(anchor), None, "schedule.first_after")
        except Exception as exc:
            raise StrategyFailed(s, "schedule", exc) from exc
        return self._plan_regular(job, s, first)

    def _plan_regular(self, job: Job, s: Status, due: datetime | None) -> Status:
        """Make *due* the next regular occurrence, or end the lineage."""
        if due is not None and due.timestamp() <= s.fired:
            due = self._next_fire(job, s, _from_ts(s.fired))
        if due is None or (type(job.lifetime) is not Forever and not self._allowed(job, s, due)):
            s = s._replace(due=None) if s.due is not None else s
            # The lineage ends, once the attempt in progress (if any) is over (``_settle``).
            ended = due is not None or (s.planned and s.trigger is None)
            return self._complete(job, s) if ended and s.run is None else s
        return Status(s.phase, due, s.retry, s.trigger, s.run, s.started, s.fired, True)

    def _recheck(self, job: Job, s: Status) -> Status:
        """The lifetime may have ended while an occurrence waited: drop it if so."""
        if s.due is None or s.phase is not Phase.ACTIVE or self._allowed(job, s, s.due):
            return s
        s = s._replace(due=None)
        return self._complete(job, s) if s.run is None else s

    def _settle(self, job: Job, s: Status) -> Status:
        """The job is free again: its lineage ends if nothing is planned and nothing can be."""
        if (
            s.phase is Phase.ACTIVE
            and s.run is None
            and s.due is None
            and s.retry is None
            and s.trigger is None
            and (s.planned or not self._allowed(job, s, self.observer.now()))
        ):
            return self._complete(job, s)
        return s

    def _make_run(
        self,
        job: Job,
        kind: RunKind,
        scheduled_for: datetime,
        *,
        attempt: int = 1,
        triggered: bool = False,
        start_by: float = math.inf,
    ) -> Run:
        return Run(
            job=job,
            run_id=next(self._run_ids),
            kind=kind,
            triggered=triggered,
            attempt=attempt,
            scheduled_for=scheduled_for,
            start_by=start_by,
        )

    # ------------------------------------------------------------------ wake-ups

    def added(self, job: Job, anchor: datetime) -> Status:
        """The coordinator took the job in."""
        return self.plan_first(job, job.status, anchor)

    def soon_due(self, job: Job) -> Status:
        """The job's retry or trigger is due, and the job is free: take the attempt."""
        s = job.status
        retry = s.retry
        if retry is not None:
            run = self._make_run(
                job,
                RunKind.RETRY,
                retry.occurrence,
                attempt=retry.attempt,
                triggered=retry.triggered,
            )
            return s._replace(retry=None, run=run)
        s = s._replace(trigger=None)
        wall_now = self.observer.now()  # a trigger runs for the moment it starts
        if not self._allowed(job, s, wall_now):
            return self._complete(job, s)
        return s._replace(run=self._make_run(job, RunKind.TRIGGER, wall_now, triggered=True))

    def regular_due(self, job: Job, wall_now: datetime, late: bool, offset: float = 0.0) -> Status:
        """The job's regular occurrence is due, and the job is free: take it (or skip it).

        *late*: the wall clock is past the occurrence, so the misfire policy decides.
        *offset*: the job's jitter for this occurrence (seconds after its instant that it
        was due to start): lateness, and so the misfire policy and its grace, count from
        the jittered start (the policy sees "now" moved back by the offset).
        """
        if offset:
            wall_now -= timedelta(seconds=offset)
        s = job.status
        due = s.due
        assert due is not None  # the queue holds a job only while it has an occurrence
        misfire = job.misfire
        built_in = type(misfire) in _BUILT_IN_POLICIES
        run_for: datetime | None = due
        following: tuple[Schedule, datetime | None] | None = None
        if late and built_in:
            # Decided here when late by moments (nothing else was missed), as both built-in
            # policies decide it: run it unless it is past their grace.  The answer is kept
            # for when the attempt is over, so the occurrence asks its schedule once.
            after = self._next_fire(job, s, due)
            if after is None or after.timestamp() > wall_now.timestamp():
                if misfire._too_late(due, wall_now):
                    self.misfired(job, 1, due)
                    return self._plan_regular(job, s._replace(due=None), after)
                late, following = False, (job.schedule, after)
        if late:
            try:
                decision = checked_decision(misfire.decide(job.schedule, due, wall_now), due)
            except Exception as exc:
                raise StrategyFailed(s, "misfire policy or schedule", exc) from exc
            if decision.skipped:
                before = (
                    wall_now
                    if decision.run_for is None
                    else decision.run_for - timedelta(microseconds=1)
                )
                last = last_skipped(job.schedule, due, decision.skipped, before)
                self.misfired(job, decision.skipped, due, decision.counted_exactly, last)
            run_for = decision.run_for
            if run_for is None:
                return self._plan_regular(job, s._replace(due=None), decision.next_due)
        if built_in:
            grace = misfire.grace  # checked when the policy was made
        else:
            try:
                grace = checked_grace(misfire)
            except Exception as exc:
                raise StrategyFailed(s, "misfire policy", exc) from exc
        assert run_for is not None  # narrowed above; mypy loses it across the try
        if type(job.lifetime) is not Forever and not self._allowed(job, s, run_for):
            return self._complete(job, s._replace(due=None))  # e.g. Until, past a clock jump
        start_by = run_for.timestamp() + offset + grace if grace is not None else math.inf
        run = self._make_run(job, RunKind.REGULAR, run_for, start_by=start_by)
        run.following = following
        run.offset = offset
        # Built directly rather than by ``_replace``: this is the hot path.
        return Status(s.phase, None, s.retry, s.trigger, run, False, s.fired, s.planned)

    def misfired(
        self,
        job: Job,
        count: int,
        due: datetime,
        exact: bool = True,
        last: datetime | None = None,
    ) -> None:
        """Count *count* occurrences from *due* (to *last*) on as missed."""
        job.misfires += count
        self.observer.misfired(job, count, due, exact)
        self._skipped(
            job, SkippedRange(due, due if last is None else last, count, "misfire", exact)
        )

    def _skipped(self, job: Job, skipped: SkippedRange) -> None:
        if job.skips is None:
            job.skips = deque(maxlen=SKIPS_KEPT)
        job.skips.append(skipped)
        if self.journal is not None:
            self.journal.skipped(job, skipped)
        telemetry = self.observer.telemetry
        if telemetry is not None:
            telemetry.occurrences_skipped(job, skipped.reason, skipped.count)

    # ------------------------------------------------------------------ reports

    def started(self, job: Job, run: Run, started_at: datetime) -> Status:
        """A worker started *run*."""
        s = job.status
        self.observer.run_started(run, started_at)
        fired = s.fired
        if run.kind is RunKind.REGULAR:
            fired = max(fired, run.scheduled_for.timestamp())
        return Status(s.phase, s.due, s.retry, s.trigger, s.run, True, fired, s.planned)

    def finished(self, job: Job, finished: Finished) -> Status:
        """*finished* reports the job's attempt: record it and plan what comes next."""
        run, outcome = finished.run, finished.outcome
        s = job.status
        s = Status(s.phase, s.due, s.retry, s.trigger, None, False, s.fired, s.planned)
        if outcome is None:
            if not finished.late:
                return self._settle(job, self._keep_planned(s, run))
            self.misfired(job, 1, run.scheduled_for)
            return self._settle(job, self._occurrence_over(job, s, run))
        self.observer.run_stopped()
        self._record(job, run, finished, outcome)
        if s.phase is Phase.ACTIVE and outcome.is_retryable and job.retry is not None:
            retry = self._retry(job, s, run)
            if retry is not None:
                return s._replace(retry=retry)
        job.runs += 1
        if outcome.is_retryable:
            job.consecutive_failures += 1
        elif outcome is Outcome.SUCCEEDED:
            job.consecutive_failures = 0
        limit = job.quarantine_after
        if limit is not None and job.consecutive_failures >= limit and s.phase is Phase.ACTIVE:
            s = self._pause(job, s)
            job.quarantined = True
            self.observer.quarantined(job)
        return self._settle(job, self._occurrence_over(job, s, run))

    def undelivered(self, job: Job, run: Run) -> Status:
        """*run* never reached a worker (shutdown): keep its occurrence planned."""
        s = job.status._replace(run=None, started=False)
        return self._settle(job, self._keep_planned(s, run))

    def _keep_planned(self, s: Status, run: Run) -> Status:
        """*run* did not start: what it was for stays planned, unless the job stopped."""
        if s.phase.is_final:
            return s
        if run.kind is RunKind.TRIGGER:
            return s._replace(trigger=trio.current_time())  # kept while paused too
        if s.phase is Phase.PAUSED:
            return s  # resume plans from then; a retry is dropped by a pause
        if run.kind is RunKind.REGULAR:
            if s.due is None or run.scheduled_for < s.due:
                return s._replace(due=run.scheduled_for)
            return s
        return s._replace(retry=self._retry_now(run.scheduled_for, run.attempt, run.triggered))

    def _retry_now(self, occurrence: datetime, attempt: int, triggered: bool) -> Retry:
        """A retry due now, on Trio's clock and (what queries show) on the wall clock."""
        return Retry(occurrence, attempt, triggered, trio.current_time(), self.observer.now())

    def _occurrence_over(self, job: Job, s: Status, run: Run) -> Status:
        """The occurrence of *run* is over: plan the job's next regular occurrence."""
        if s.phase is not Phase.ACTIVE:
            return s
        if run.triggered or s.due is not None:
            # Triggers leave the schedule alone, and an update or resume during the run has
            # planned the next occurrence already; the lifetime may have ended meanwhile.
            return self._recheck(job, s)
        known = run.following
        if known is not None and known[0] is job.schedule:
            return self._plan_regular(job, s, known[1])  # asked when it was dispatched
        return self._plan_regular(job, s, self._next_fire(job, s, run.scheduled_for))

    def _retry(self, job: Job, s: Status, run: Run) -> Retry | None:
        assert job.retry is not None
        try:
            delay = checked_delay(job.retry.next_delay(run.attempt))
        except Exception as exc:
            raise StrategyFailed(s, "retry policy", exc) from exc
        if delay is None:
            return None
        self.observer.retry_scheduled(job, run.attempt, delay)
        at = trio.current_time() + delay
        # The wall instant is fixed now: queries show it, the same each time.
        wall = self.observer.now() + timedelta(seconds=delay)
        return Retry(run.scheduled_for, run.attempt + 1, run.triggered, at, wall)

    def _record(self, job: Job, run: Run, finished: Finished, outcome: Outcome) -> None:
        assert finished.started_at is not None
        assert finished.finished_at is not None
        if job.records is None:
            job.records = ({}, deque(maxlen=self.history_size))
        counts, history = job.records
        counts[outcome] = counts.get(outcome, 0) + 1
        entry: Ran = (
            run.run_id,
            run.attempt,
            run.scheduled_for,
            finished.started_at,
            finished.finished_at,
            finished.duration,
            outcome,
            run.triggered,
            finished.error,
        )
        if self.journal is None:
            history.append(entry)  # the record is built if the history is queried
        else:
            record = RunRecord(*entry)
            history.append(record)
            self.journal.ran(job, record)
        self.observer.run_finished(run, finished, outcome)

    # ------------------------------------------------------------------ commands

    def cancelled(self, job: Job) -> Status:
        """``cancel_job``: the lineage ends; an attempt in progress finishes (or is interrupted)."""
        self.observer.cancelled(job)
        return _final(job.status, Phase.CANCELLED)

    def paused(self, job: Job) -> Status:
        """``pause_job``."""
        self.observer.paused(job)
        return self._pause(job, job.status)

    def _pause(self, job: Job, s: Status) -> Status:
        trigger = s.trigger
        run = s.run
        if run is not None and not s.started:
            if run.kind is RunKind.TRIGGER:
                trigger = trio.current_time()  # a trigger asked for before the pause
            elif run.kind is RunKind.RETRY:
                self._occurrence_dropped(job)
            return s._replace(phase=Phase.PAUSED, due=None, retry=None, trigger=trigger, run=None)
        if s.retry is not None:
            self._occurrence_dropped(job)
        return s._replace(phase=Phase.PAUSED, due=None, retry=None, trigger=trigger)

    @staticmethod
    def _occurrence_dropped(job: Job) -> None:
        """A pending retry was dropped: the occurrence it retried is over.

        It counts as run (for ``MaxRuns`` and ``JobDetails.runs``), as when its last attempt
        ends.
        """
        job.runs += 1

    def resumed(self, job: Job, wall_now: datetime) -> Status:
        """``resume_job``: plan from now; a trigger that came while paused runs."""
        job.quarantined = False
        job.consecutive_failures = 0
        self.observer.resumed(job)
        s = job.status._replace(phase=Phase.ACTIVE)
        if s.fired != -math.inf and self._next_fire(job, s, _from_ts(s.fired)) is None:
            # The schedule has nothing after the occurrence that fired last, even if
            # ``first_after`` would map a past instant to "now": a ``Once`` that has run (or
            # runs now) must not run again.
            return self._plan_regular(job, s, None)
        # Planned from now even while an attempt runs: its next run shows at once, and is
        # queued when the attempt is over.
        return self.plan_first(job, s, wall_now)

    def redefined(self, job: Job, changed: tuple[str, ...]) -> Status:
        """A re-added key gave the job a new definition (already set on the job).

        A new schedule is planned from the occurrence that fired last (from when the job
        was added, if none has), so a redeploy neither skips nor repeats an occurrence; a
        paused job stays paused and an attempt in progress is left alone.
        """
        self.observer.updated(job, changed)
        s = job.status
        if s.phase is not Phase.ACTIVE or "schedule" not in changed:
            return self._recheck(job, s) if "lifetime" in changed else s
        s = s._replace(due=None, planned=False)
        if s.fired == -math.inf:
            return self.plan_first(job, s, job.added_at)
        try:
            job.schedule = checked_schedule(job.schedule.anchored(self.observer.now()))
        except Exception as exc:
            raise StrategyFailed(s, "schedule", exc) from exc
        return self._plan_regular(job, s, self._next_fire(job, s, _from_ts(s.fired)))

    def recovered(self, job: Job, taken: Recovered) -> Status:
        """A stored job had taken *taken* when its process stopped: settle that attempt.

        One that had not started keeps its place, as a run that never reached a worker.
        One that had started was cut off: it runs again (``on_crash="rerun"``, at least
        once), or its occurrence is over and recorded as skipped (``"skip"``, at most once).
        """
        s = job.status
        run = self._make_run(
            job, taken.kind, taken.occurrence, attempt=taken.attempt, triggered=taken.triggered
        )
        if not taken.started:
            return self._settle(job, self._keep_planned(s, run))
        if s.phase is Phase.ACTIVE and job.on_crash == "rerun":
            self.observer.log.warning(
                "job %r (%s): attempt %d of the occurrence %s was cut off when the process "
                "stopped; running it again (on_crash='rerun')",
                job.name,
                job.id,
                taken.attempt,
                taken.occurrence.isoformat(),
            )
            retry = self._retry_now(taken.occurrence, taken.attempt, taken.triggered)
            return s._replace(retry=retry)
        self.observer.log.warning(
            "job %r (%s): attempt %d of the occurrence %s was cut off when the process "
            "stopped; not running it again (the job is %s, on_crash=%r)",
            job.name,
            job.id,
            taken.attempt,
            taken.occurrence.isoformat(),
            s.job_state.value,
            job.on_crash,
        )
        self._skipped(job, SkippedRange(taken.occurrence, taken.occurrence, 1, "crashed"))
        job.runs += 1
        return self._settle(job, self._occurrence_over(job, s, run))

    def triggered(self, job: Job) -> Status:
        """``trigger_job``: run once as soon as the job is free; coalesces with a pending one."""
        s = job.status
        if s.trigger is not None:
            return s
        self.observer.metrics.triggers += 1
        now = trio.current_time()
        if s.retry is not None:
            # The retry runs now instead.
            return s._replace(retry=attrs.evolve(s.retry, at=now, wall=self.observer.now()))
        return s._replace(trigger=now)

    def updated(self, job: Job, changed: tuple[str, ...], wall_now: datetime) -> Status:
        """``update_job`` changed *changed* (already set on the job)."""
        self.observer.updated(job, changed)
        s = job.status
        if s.phase is Phase.PAUSED:
            if "schedule" in changed:
                # Anchored now, as for an active job: an ``Interval`` without ``start``
                # counts from the update, and ``resume`` plans its first instant after the
                # resume on that grid.
                try:
                    job.schedule = checked_schedule(job.schedule.anchored(wall_now))
                except Exception as exc:
                    raise StrategyFailed(s, "schedule", exc) from exc
            return s  # planned on resume
        if "schedule" in changed:
            return self._replan(job, s, wall_now)
        if "lifetime" in changed:
            return self._recheck(job, s)
        return s

    def _replan(self, job: Job, s: Status, wall_now: datetime) -> Status:
        """A new schedule: its first occurrence from now replaces what the old one planned.

        Planned at once, also while an attempt runs (the next run shows at once, an
        unanchored ``Interval`` is anchored now); an occurrence of the old schedule that
        waits for a worker is dropped, and so is a pending retry of one.
        """
        run = s.run
        if run is not None and not s.started and run.kind is RunKind.REGULAR:
            run = None
        if s.retry is not None:
            self._occurrence_dropped(job)
        s = s._replace(run=run, retry=None, due=None, planned=False)
        return self.plan_first(job, s, wall_now)
