"""The coordinator: the single owner of the job table and the queue of upcoming runs.

Everything that changes a job happens in one of the synchronous methods below, so each
change is atomic under Trio's cooperative scheduling; the entry points are protected from
``KeyboardInterrupt`` (``enable_ki_protection``, as trio protects its own primitives), so a
Ctrl-C lands between transitions, never in the middle of one.  They are called from three places:

* the coordinator's own tasks (``intake_loop``, ``intake_outcomes``, ``dispatch_loop``);
* the ``Scheduler`` handle's commands (cancel, update, trigger, pause, resume), which apply
  immediately and return;
* a worker, to say that a run has started (so ``RUNNING`` is visible at once).

The dispatcher sleeps in a cancel scope whose deadline is the next due instant (converted
from the wall clock to Trio's clock, capped at ``max_sleep``); any change that makes an
earlier run due moves that deadline.  It never polls.  Regular occurrences wait in the
queue strategy, keyed by wall-clock timestamps; retries and triggers are relative, so they
wait in a small heap keyed by Trio time and are unaffected by wall-clock jumps.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from datetime import UTC, datetime, timedelta

import attrs
import trio
from trio.lowlevel import enable_ki_protection

from . import _events as ev
from ._boundary import (
    BadStrategyValue,
    checked_allows,
    checked_delay,
    checked_fire,
    checked_grace,
    checked_schedule,
)
from ._compat import in_trio_run
from ._dispatcher import Dispatcher
from ._exceptions import JobFinished, JobNotFound
from ._job import Job, JobSpec, Run, RunKind
from ._lifetime import Forever
from ._metrics import MetricsSnapshot
from ._misfire import checked_decision
from ._models import JobDetails, JobId, JobState, JobSummary, Outcome, RunRecord
from ._observer import Observer
from ._outcome import Finished, error_info
from ._queue import JobQueue
from ._staging import StagingBuffer
from ._submission import Signatures
from ._table import JobTable

__all__ = ["Coordinator"]


#: ``update_job`` argument names that differ from the ``Job`` field they set.
_JOB_FIELD = {"async_fn": "fn"}


def _from_ts(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


@attrs.define(eq=False)
class Coordinator:
    """Owns the job table, the queues and the metrics (internal)."""

    owner: object
    queue: JobQueue
    observer: Observer
    dispatcher: Dispatcher
    staging: StagingBuffer
    table: JobTable
    history_size: int
    closing: bool = False
    _soon: list[tuple[float, int, int]] = attrs.field(factory=list)
    _tokens: itertools.count[int] = attrs.field(factory=itertools.count)
    _run_ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))

    def _wall_now(self) -> datetime:
        return self.observer.now()

    def _wake_for_wall(self, due: datetime) -> None:
        """Make the dispatcher wake for the wall-clock instant *due* (or after max_sleep)."""
        self.dispatcher.wake_in(due.timestamp() - self.observer.now().timestamp())

    # ------------------------------------------------------------------ job table

    def _set_state(self, job: Job, state: JobState) -> None:
        old = job.state
        if old is state:
            return
        job.state = state
        if state.is_final:
            self.queue.remove(job.key)
            job.soon_kind = None
            job.trigger_pending = False
            job.next_due = None
        self.table.state_changed(job, old, state)

    # ------------------------------------------------------------------ lifetime

    @enable_ki_protection
    def begin_shutdown(self, *, force: bool) -> None:
        """Stop accepting submissions and changes (idempotent)."""
        if self.closing:
            return
        self.closing = True
        self.staging.close()
        observer = self.observer
        observer.log.info("scheduler shutting down (%s)", "forced" if force else "graceful")
        observer.emit(lambda at: ev.ShutdownStarted(at, force))

    @enable_ki_protection
    def finish_shutdown(self) -> None:
        """The tasks have stopped: keep what never ran planned, take in what was accepted."""
        self.keep_unstarted_planned()
        # Jobs still in the staging buffer were accepted: record them, do not drop them.
        self.ingest_staged_now()
        self.observer.events.end()
        self.observer.log.info("scheduler stopped")

    def subscribe(self, subscription: ev.Subscription[ev.Event]) -> None:
        """Deliver events to *subscription* from now on."""
        self.observer.events.subscribers.append(subscription)

    def rejected(self) -> None:
        """``try_add_job`` found the staging buffer full."""
        self.observer.metrics.staging_rejected += 1

    @enable_ki_protection
    def stage(self, spec: JobSpec) -> None:
        """Accept a submission into the staging buffer (the caller made sure it fits)."""
        self.staging.put(spec)
        self.observer.metrics.jobs_submitted += 1

    async def intake_loop(self) -> None:
        """Take in staged submissions as they arrive, a whole batch per wake-up."""
        while True:
            await self.staging.wait_for_arrivals()
            self.ingest_staged_now()

    @enable_ki_protection
    def ingest(self, spec: JobSpec) -> None:
        """Take a submitted job into the table and plan its first run."""
        job = spec.to_job()
        self.table.add(job)
        self.observer.added(job)
        self._plan_first(job, anchor=spec.submitted_at)

    @enable_ki_protection
    def ingest_staged_now(self) -> None:
        """Take in everything waiting in the staging buffer, without blocking."""
        for spec in self.staging.take_all():
            self.ingest(spec)

    @enable_ki_protection
    def job(self, job_id: object) -> Job:
        """Return the job with *job_id*, taking it in from the staging buffer if needed."""
        job_id = self.table.check_id(job_id)
        job = self.table.get(job_id)
        if job is None and (spec := self.staging.take(job_id.value)) is not None:
            # A command for a job still in the staging buffer: take it in now, so that
            # commands always apply after the submission they refer to.
            self.ingest(spec)
            job = self.table.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id} in this scheduler (finished jobs age out)")
        return job

    def live_job(self, job_id: object, action: str) -> Job:
        """Like ``job``, but refuse jobs that have finished."""
        job = self.job(job_id)
        if not job.is_live:
            raise JobFinished(f"cannot {action} {job.id}: the job is {job.state.value}")
        return job

    # ------------------------------------------------------------------ planning

    def _fail_job(self, job: Job, where: str, exc: Exception) -> None:
        """A user-supplied schedule or policy raised: the job cannot be planned any more."""
        job.error = info = error_info(exc)
        self.observer.failed(job, where, exc, info)
        self._set_state(job, JobState.FAILED)

    def _queue_regular(self, job: Job, due: datetime | None) -> None:
        """Queue *due* as the job's next regular occurrence, or end the lineage."""
        if not job.is_live:
            return  # e.g. its schedule just raised and failed it
        if due is not None and due.timestamp() <= job.last_fired_for:
            due = self._next_fire(job, _from_ts(job.last_fired_for))
            if job.state.is_final:
                return
        if due is None:
            job.next_due = None
            if job.had_occurrence and not job.trigger_pending:
                self._complete(job)
            return
        allowed = self._allowed(job, due)
        if allowed is None:
            return
        if not allowed:
            job.next_due = None
            self._complete(job)
            return
        job.had_occurrence = True
        job.next_due = due
        if job.running is not None:
            job.deferred = True
            return
        self.queue.push(job.key, due.timestamp())
        self._wake_for_wall(due)

    def _allowed(self, job: Job, when: datetime) -> bool | None:
        """Whether the job's lifetime lets an occurrence at *when* run (``None``: it failed).

        Asked before each occurrence is queued, again when it is about to start (runs may
        have been added by triggers, the lifetime replaced, the clock moved), and after each
        occurrence for the one queued next.
        """
        lifetime = job.lifetime
        if type(lifetime) is Forever:  # the common case, decided without a call
            return True
        try:
            return checked_allows(lifetime.allows(runs=job.runs, next_fire=when))
        except Exception as exc:
            self._fail_job(job, "lifetime", exc)
            return None

    def _recheck_queued(self, job: Job) -> None:
        """The lifetime may have ended while an occurrence was queued: drop it if so."""
        due = job.next_due
        if due is None or not job.is_live or job.state is JobState.PAUSED:
            return
        if self._allowed(job, due) is False:
            self.queue.remove(job.key)
            job.next_due = None
            job.deferred = False
            if job.running is None:
                self._complete(job)

    def _next_fire(self, job: Job, after: datetime) -> datetime | None:
        try:
            return checked_fire(job.schedule.next_after(after), after, "schedule.next_after")
        except Exception as exc:
            self._fail_job(job, "schedule", exc)
            return None

    def _plan_first(self, job: Job, anchor: datetime) -> None:
        """Plan the job's first regular occurrence for a schedule given at *anchor*."""
        try:
            job.schedule = checked_schedule(job.schedule.anchored(anchor))
            first = checked_fire(job.schedule.first_after(anchor), None, "schedule.first_after")
        except Exception as exc:
            self._fail_job(job, "schedule", exc)
            return
        self._queue_regular(job, first)

    def _complete(self, job: Job) -> None:
        self.observer.completed(job)
        self._set_state(job, JobState.COMPLETED)

    def _push_soon(self, job: Job, kind: RunKind, deadline: float) -> None:
        token = next(self._tokens)
        job.soon_kind, job.soon_deadline, job.soon_token = kind, deadline, token
        heapq.heappush(self._soon, (deadline, token, job.key))
        self.dispatcher.wake_at(deadline)

    def _release(self, job: Job) -> None:
        """The job's run is over (or never started): queue what waited for it."""
        job.running = None
        if not job.is_live or job.state is JobState.PAUSED:
            return
        if job.deferred and job.next_due is not None:
            job.deferred = False
            self.queue.push(job.key, job.next_due.timestamp())
            self._wake_for_wall(job.next_due)
        if job.is_live and job.soon_kind is None and job.trigger_pending:
            job.trigger_pending = False
            self._push_soon(job, RunKind.TRIGGER, trio.current_time())
        if job.state is JobState.RUNNING:
            self._set_state(job, JobState.SCHEDULED)
        # Nothing planned: the lineage ends if its schedule ran out, or if its lifetime allows
        # no further run (a trigger-only job after its MaxRuns).
        if (
            job.is_live
            and job.next_due is None
            and job.soon_kind is None
            and (job.had_occurrence or self._allowed(job, self._wall_now()) is False)
        ):
            self._complete(job)

    # ------------------------------------------------------------------ dispatch

    def _make_run(self, job: Job, kind: RunKind, scheduled_for: datetime, start_by: float) -> Run:
        run = Run(
            job=job,
            run_id=next(self._run_ids),
            kind=kind,
            triggered=kind is RunKind.TRIGGER or (kind is RunKind.RETRY and job.retry_triggered),
            attempt=job.attempt,
            scheduled_for=scheduled_for,
            fn=job.fn,
            args=job.args,
            timeout=job.timeout,
            start_by=start_by,
        )
        job.running = run
        return run

    def _pop_soon(self, now: float) -> Run | None:
        soon = self._soon
        while soon:
            deadline, token, key = soon[0]
            job = self.table.by_key(key)
            if job is None or job.soon_token != token or job.soon_kind is None:
                heapq.heappop(soon)
                continue
            if deadline > now:
                return None
            heapq.heappop(soon)
            kind = job.soon_kind
            job.soon_kind = None
            if job.running is not None:
                # No overlap: the trigger waits for the run in flight.
                job.trigger_pending = True
                continue
            if kind is RunKind.RETRY:
                assert job.retry_for is not None
                return self._make_run(job, kind, job.retry_for, math.inf)
            wall_now = self._wall_now()
            allowed = self._allowed(job, wall_now)
            if not allowed:
                if allowed is False:
                    self._complete(job)
                continue
            job.attempt = 1
            return self._make_run(job, kind, wall_now, math.inf)
        return None

    def _pop_regular(self, wall_now: datetime) -> Run | None:
        wall = wall_now.timestamp()
        while (front := self.queue.peek()) is not None and front[0] <= wall:
            self.queue.pop()
            job = self.table.by_key(front[1])
            assert job is not None  # a queued job is live, so it is in the table
            due = job.next_due
            assert due is not None
            if job.running is not None or job.soon_kind is RunKind.RETRY:
                # No overlap: the occurrence in progress (an attempt, or a retry waiting for
                # its time) finishes first; this one is queued again when it is over.
                job.deferred = True
                continue
            run_for: datetime | None = due
            if wall > front[0]:
                try:
                    decision = checked_decision(
                        job.misfire.decide(job.schedule, due, wall_now), due
                    )
                except Exception as exc:
                    self._fail_job(job, "misfire policy or schedule", exc)
                    continue
                if decision.skipped:
                    self._count_misfires(job, decision.skipped, due, decision.counted_exactly)
                run_for = decision.run_for
                if run_for is None:
                    job.next_due = None
                    self._queue_regular(job, decision.next_due)
                    continue
            assert run_for is not None  # narrowed above; mypy loses it across the try
            try:
                grace = checked_grace(job.misfire)
            except BadStrategyValue as exc:
                self._fail_job(job, "misfire policy", exc)
                continue
            job.next_due = None
            allowed = self._allowed(job, run_for)
            if not allowed:
                if allowed is False:  # e.g. Until, passed by a forward clock jump
                    self._complete(job)
                continue
            job.attempt = 1
            start_by = run_for.timestamp() + grace if grace is not None else math.inf
            return self._make_run(job, RunKind.REGULAR, run_for, start_by)
        return None

    def _count_misfires(self, job: Job, count: int, due: datetime, exact: bool = True) -> None:
        job.misfires += count
        self.observer.misfired(job, count, due, exact)

    @enable_ki_protection
    def next_dispatch(self) -> tuple[Run | None, float]:
        """Return a run to hand to a worker now, or the Trio deadline to sleep until."""
        now = trio.current_time()
        run = self._pop_soon(now)
        if run is not None:
            return run, now
        wall_now = self.observer.observe_clock()
        run = self._pop_regular(wall_now)
        if run is not None:
            return run, now
        deadline = self._soon[0][0] if self._soon else math.inf
        front = self.queue.peek()
        if front is not None:
            wait = min(front[0] - wall_now.timestamp(), self.dispatcher.max_sleep)
            deadline = min(deadline, now + wait)
        return None, deadline

    @enable_ki_protection
    def undelivered(self, run: Run) -> None:
        """*run* never started: keep its occurrence planned unless the job stopped."""
        job = run.job
        if job.is_live and run.kind is RunKind.TRIGGER:
            job.trigger_pending = True  # kept while paused too: it runs on resume
        elif job.is_live and job.state is not JobState.PAUSED:
            if run.kind is RunKind.REGULAR:
                job.next_due = run.scheduled_for
                job.deferred = True
            else:
                job.attempt, job.retry_for = run.attempt, run.scheduled_for
                self._push_soon(job, RunKind.RETRY, trio.current_time())
        self._release(job)

    @enable_ki_protection
    def keep_unstarted_planned(self) -> None:
        """At the end of a shutdown: runs left in the dispatch buffer stay planned.

        A forced shutdown stops the workers before they take what waits in the buffer; those
        occurrences did not run, so they keep their place (``next_run_at`` is their time).
        """
        for job in self.table:
            run = job.running
            if run is not None and not run.started:
                self.undelivered(run)

    def _abandon(self, job: Job) -> Run | None:
        """Make sure a run of *job* that has not started yet never starts; return it.

        The run is detached from the job at once: whichever worker later receives it drops
        it, and the job is free to plan its next run now instead of when a worker is free.
        """
        run = job.running
        if run is None or run.started:
            return None
        run.abandoned = True
        job.running = None
        if run.send_scope is not None:
            run.send_scope.cancel()
        return run

    @enable_ki_protection
    def run_started(self, run: Run, started_at: datetime) -> None:
        """A worker is starting *run* (called by the worker, synchronously)."""
        run.started = True
        job = run.job
        # Updates apply from the next attempt: one that waited for a worker starts with the
        # job's settings as they are now, not as they were when it was dispatched.
        run.fn, run.args, run.timeout = job.fn, job.args, job.timeout
        if job.state is JobState.SCHEDULED:
            self._set_state(job, JobState.RUNNING)
        if run.kind is RunKind.REGULAR:
            job.last_fired_for = max(job.last_fired_for, run.scheduled_for.timestamp())
        self.observer.run_started(run, started_at)

    @enable_ki_protection
    def run_stopped(self, run: Run) -> None:
        """A worker has finished *run*; its report follows on the outcome channel."""
        self.observer.run_stopped()

    # ------------------------------------------------------------------ outcomes

    async def intake_outcomes(self, receive: trio.MemoryReceiveChannel[Finished]) -> None:
        """Apply workers' reports as they arrive."""
        async for finished in receive:
            self.on_finished(finished)

    @enable_ki_protection
    def drain_outcomes(self, receive: trio.MemoryReceiveChannel[Finished]) -> None:
        """Apply every report already sent, without blocking (used at shutdown)."""
        while True:
            try:
                finished = receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            self.on_finished(finished)

    @enable_ki_protection
    def on_finished(self, finished: Finished) -> None:
        """Record a run's outcome and plan what comes next for its job."""
        run, job, outcome = finished.run, finished.run.job, finished.outcome
        if run.abandoned:
            return  # detached from its job when it was abandoned; nothing to record
        if job.running is not run:  # pragma: no cover - a run always belongs to its job
            raise RuntimeError(f"outcome of {run.run_id} does not match {job.id}'s run in flight")
        if outcome is None:
            if finished.late:
                self._count_misfires(job, 1, run.scheduled_for)
                self._occurrence_over(job, run)
                self._release(job)
            else:
                self.undelivered(run)
            return
        self._record(run, finished, outcome)
        planning = job.is_live and job.state is not JobState.PAUSED
        if planning and outcome.is_retryable and self._plan_retry(job, run):
            job.running = None
            if job.state is JobState.RUNNING:
                self._set_state(job, JobState.SCHEDULED)
            return
        job.runs += 1
        if outcome.is_retryable:
            job.consecutive_failures += 1
        elif outcome is Outcome.SUCCEEDED:
            job.consecutive_failures = 0
        if self._should_quarantine(job):
            self._quarantine(job)
        self._occurrence_over(job, run)
        self._release(job)

    def _should_quarantine(self, job: Job) -> bool:
        limit = job.quarantine_after
        return (
            limit is not None
            and job.consecutive_failures >= limit
            and job.is_live
            and job.state is not JobState.PAUSED
        )

    def _quarantine(self, job: Job) -> None:
        """Pause a job that keeps failing, and say why."""
        self._pause(job)
        job.quarantined = True
        self.observer.quarantined(job)

    def _occurrence_over(self, job: Job, run: Run) -> None:
        """The occurrence of *run* is over: queue the job's next regular occurrence."""
        job.attempt = 1
        job.retry_for = None
        if not job.is_live or job.state is JobState.PAUSED:
            return
        if run.triggered or job.next_due is not None:
            # Triggers leave the schedule alone, and an update or resume during the run has
            # planned the next occurrence already; the lifetime may have ended meanwhile.
            self._recheck_queued(job)
            return
        job.running = None  # so the next occurrence is queued rather than deferred
        self._queue_regular(job, self._next_fire(job, run.scheduled_for))
        job.running = run

    def _record(self, run: Run, finished: Finished, outcome: Outcome) -> None:
        assert finished.started_at is not None
        assert finished.finished_at is not None
        job = run.job
        if job.counts is None:
            job.counts, job.history = {}, deque(maxlen=self.history_size)
        job.counts[outcome] = job.counts.get(outcome, 0) + 1
        assert job.history is not None
        job.history.append(
            RunRecord(
                run_id=run.run_id,
                attempt=run.attempt,
                scheduled_for=run.scheduled_for,
                started_at=finished.started_at,
                finished_at=finished.finished_at,
                duration=finished.duration,
                outcome=outcome,
                triggered=run.triggered,
                error=finished.error,
            )
        )
        self.observer.run_finished(run, finished, outcome)

    def _plan_retry(self, job: Job, run: Run) -> bool:
        if job.retry is None:
            return False
        try:
            delay = checked_delay(job.retry.next_delay(run.attempt))
        except Exception as exc:
            self._fail_job(job, "retry policy", exc)
            return True
        if delay is None:
            return False
        job.attempt = run.attempt + 1
        job.retry_for = run.scheduled_for
        job.retry_triggered = run.triggered
        self.observer.retry_scheduled(job, run.attempt, delay)
        self._push_soon(job, RunKind.RETRY, trio.current_time() + delay)
        return True

    # ------------------------------------------------------------------ commands

    @enable_ki_protection
    def cancel(self, job_id: JobId, *, interrupt: bool) -> None:
        """Cancel the lineage; with *interrupt*, also the attempt in progress."""
        job = self.job(job_id)
        if not job.is_live:
            if interrupt and job.state is JobState.CANCELLED:
                self._interrupt(job)  # a plain cancel first, the interrupt now
            return
        self._abandon(job)
        self.observer.cancelled(job)
        self._set_state(job, JobState.CANCELLED)
        if interrupt:
            self._interrupt(job)

    @enable_ki_protection
    def interrupt(self, job_id: JobId) -> bool:
        """Cancel the attempt in progress, if any; the lineage goes on. Return whether one was."""
        return self._interrupt(self.job(job_id))

    def _interrupt(self, job: Job) -> bool:
        run = job.running
        if run is None or not run.started:
            return False
        run.interrupted = True
        run.scope.cancel()
        return True

    @enable_ki_protection
    def pause(self, job_id: JobId) -> None:
        """Stop planning runs for the job until it is resumed."""
        job = self.live_job(job_id, "pause")
        if job.state is not JobState.PAUSED:
            self._pause(job)
            self.observer.paused(job)

    def _pause(self, job: Job) -> None:
        abandoned = self._abandon(job)
        if abandoned is not None and abandoned.kind is RunKind.TRIGGER:
            job.trigger_pending = True  # a trigger asked for before the pause runs on resume
        self.queue.remove(job.key)
        if job.soon_kind is RunKind.TRIGGER:
            job.trigger_pending = True  # a trigger asked for before the pause runs on resume
        job.soon_kind = None
        job.next_due = None
        job.deferred = False
        job.attempt, job.retry_for = 1, None
        self._set_state(job, JobState.PAUSED)

    @enable_ki_protection
    def resume(self, job_id: JobId) -> None:
        """Plan the job's next run from now; run a trigger that came while it was paused."""
        job = self.live_job(job_id, "resume")
        if job.state is not JobState.PAUSED:
            return
        job.quarantined = False
        job.consecutive_failures = 0
        self.observer.resumed(job)
        self._set_state(
            job, JobState.RUNNING if job.running and job.running.started else JobState.SCHEDULED
        )
        # Planned from now even while an attempt runs: its next run shows at once, and is
        # queued when the attempt is over.
        self._plan_first(job, self._wall_now())
        if job.is_live and job.trigger_pending:
            job.trigger_pending = False
            self._push_soon(job, RunKind.TRIGGER, trio.current_time())

    @enable_ki_protection
    def trigger(self, job_id: JobId) -> None:
        """Run the job once as soon as possible, out of band; coalesces with a pending one."""
        job = self.live_job(job_id, "trigger")
        if job.trigger_pending or job.soon_kind is RunKind.TRIGGER:
            return
        self.observer.metrics.triggers += 1
        if job.soon_kind is RunKind.RETRY:
            self._push_soon(job, RunKind.RETRY, trio.current_time())
        elif job.running is not None or job.state is JobState.PAUSED:
            job.trigger_pending = True
        else:
            self._push_soon(job, RunKind.TRIGGER, trio.current_time())

    @enable_ki_protection
    def update(self, job_id: JobId, changes: dict[str, object], signatures: Signatures) -> None:
        """Apply validated *changes* (by public name); a new schedule replans from now."""
        job = self.live_job(job_id, "update")
        if "async_fn" in changes or "args" in changes:
            fn = changes.get("async_fn", job.fn)
            args = changes.get("args", job.args)
            assert callable(fn)
            assert isinstance(args, tuple)
            signatures.check(fn, args)
        for name, value in changes.items():
            setattr(job, _JOB_FIELD.get(name, name), value)
        self.observer.updated(job, tuple(changes))
        if job.state is JobState.PAUSED:
            return  # planned from scratch on resume
        if "schedule" in changes:
            self._replan(job)
        elif "lifetime" in changes:
            self._recheck_queued(job)

    def _replan(self, job: Job) -> None:
        """A new schedule: its first occurrence from now replaces what the old one planned.

        Planned at once, also while an attempt runs (the next run shows at once, an
        unanchored ``Interval`` is anchored now); an occurrence of the old schedule that
        waits for a worker is dropped, and so is a pending retry of one.
        """
        run = job.running
        if run is not None and not run.started and run.kind is RunKind.REGULAR:
            self._abandon(job)
        if job.soon_kind is RunKind.RETRY and job.running is None:
            job.soon_kind = None
            job.attempt, job.retry_for = 1, None
        job.had_occurrence = False
        self.queue.remove(job.key)
        job.next_due = None
        job.deferred = False
        self._plan_first(job, self._wall_now())

    # ------------------------------------------------------------------ queries

    def next_run_at(self, job: Job) -> datetime | None:
        """When the job runs next: its pending retry or trigger, else its next occurrence."""
        if job.soon_kind is not None:
            if not in_trio_run():  # queried after trio.run has returned
                return None
            delay = max(job.soon_deadline - trio.current_time(), 0.0)
            return self._wall_now() + timedelta(seconds=delay)
        return job.next_due

    @enable_ki_protection
    def details(self, job_id: JobId) -> JobDetails:
        """The frozen details of one job (staged jobs included)."""
        spec = self.staging.get(self.table.check_id(job_id).value)
        if spec is not None:
            return spec.staged_details()
        job = self.job(job_id)
        return job.details(self.next_run_at(job))

    @enable_ki_protection
    def summaries(self) -> list[JobSummary]:
        """Every known job, staged ones last."""
        self.table.forget_finished()
        result = [job.summary(self.next_run_at(job)) for job in self.table]
        result.extend(JobSummary(s.id, s.name, JobState.STAGED, None) for s in self.staging)
        return result

    def snapshot(self) -> MetricsSnapshot:
        """The metrics, with the gauges read now."""
        return self.observer.metrics.snapshot(
            jobs_live=self.table.live + len(self.staging),
            jobs_paused=self.table.paused,
            staging_buffered=len(self.staging),
            stale=self.queue.stale_entries,
        )
