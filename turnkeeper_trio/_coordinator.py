"""The coordinator: the single owner of the job table and the queue of upcoming runs.

A job's lifecycle is one immutable :class:`~turnkeeper_trio._state.Status`; the planner
computes the next one for every event, and :meth:`Coordinator.install` is the one place that
writes it, deriving from it the job's entries in the queue strategy and in the retry/trigger
heap, its visible ``JobState`` and the gauges.  Events arrive from three places:

* the coordinator's own tasks: submissions from the staging buffer, workers' reports from
  the report channel (a worker's only way of telling the coordinator anything), and the
  dispatcher's wake-ups;
* the ``Scheduler`` handle's commands (cancel, update, trigger, pause, resume), which apply
  immediately and return;
* queries, which first apply the reports already sent, so that what they show is current.

Every entry point is synchronous, so each change is atomic under Trio's cooperative
scheduling, and protected from ``KeyboardInterrupt`` (``enable_ki_protection``, as trio
protects its own primitives), so a Ctrl-C lands between transitions, never inside one.
Regular occurrences wait in the queue strategy, keyed by wall-clock timestamps; retries and
triggers are relative, so they wait in a small heap keyed by Trio time and are unaffected by
wall-clock jumps.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

import attrs
import trio
from trio.lowlevel import enable_ki_protection

from . import _events as ev
from ._codec import Codecs, StoredValueError
from ._compat import in_trio_run
from ._dispatcher import Dispatcher
from ._durable import (
    TRIGGER_KEYS_KEPT,
    Journal,
    attach,
    definition_of,
    is_stand_in,
    job_row,
    phase_of,
    restore,
    shown_again,
    unloadable_job,
)
from ._exceptions import JobFinished, JobNotFound, JobNotLoaded
from ._functions import Functions
from ._job import Job, JobSpec, Run
from ._metrics import MetricsSnapshot
from ._models import JobDetails, JobId, JobState, JobSummary
from ._observer import Observer
from ._outcome import Finished, Report, ReportQueue, Started, error_info
from ._planner import Planner, StrategyFailed
from ._planner import _final as final_status
from ._queue import JobQueue
from ._staging import StagingBuffer
from ._state import Phase, Status
from ._store import JobRow, Loaded
from ._submission import Signatures
from ._table import JobTable

if TYPE_CHECKING:
    from ._durable import Recovered
    from ._postgres import Acquired, Changes, Command, Written
    from ._replica import Replica

__all__ = ["Coordinator", "Remote"]


class Remote(Exception):
    """A command names a job another replica holds: it is posted to that replica."""

    def __init__(self, job: Job) -> None:
        super().__init__(job.id)
        self.job = job


P = ParamSpec("P")

#: ``update_job`` argument names that differ from the ``Job`` field they set.
_JOB_FIELD = {"async_fn": "fn"}


@attrs.define(eq=False)
class Coordinator:
    """Owns the job table, the queues and every job's status (internal)."""

    owner: object
    queue: JobQueue
    observer: Observer
    dispatcher: Dispatcher
    staging: StagingBuffer
    table: JobTable
    planner: Planner
    closing: bool = False
    _soon: list[tuple[float, int, int]] = attrs.field(factory=list)
    _tokens: itertools.count[int] = attrs.field(factory=itertools.count)
    #: The live entry of each job in ``_soon``, by job key: (deadline, token).  Kept here,
    #: not on the job, since most jobs never have one.
    _soon_live: dict[int, tuple[float, int]] = attrs.field(factory=dict)
    #: The job whose queue entry ``_pop_regular`` has just taken out.
    _popped: Job | None = None
    #: The clocks as ``next_dispatch`` last read them: (Trio time, wall instant, timestamp).
    _seen: tuple[float, datetime, float] | None = None
    #: The wall timestamp of the queue's front when the dispatcher last went to sleep.
    _slept_for: float = math.inf
    #: Workers' reports, applied in the order they were sent.
    reports: ReportQueue = attrs.field(
        default=attrs.Factory(lambda self: ReportQueue(self.staging.arrived), takes_self=True)
    )
    #: Writes every change behind the transitions, with a durable store only.
    journal: Journal | None = None
    #: The jobs known by key: given to ``add_job``, or (durable stores) every stored one.
    keys: dict[str, JobId] = attrs.field(factory=dict)
    #: Stored jobs this process cannot run (their function does not import).
    unloadable: int = 0
    #: A replicated store: leases, other replicas' changes and commands (``_replica``).
    replica: Replica | None = None
    #: A replicated store: definitions re-added for stored jobs nobody could load, applied
    #: when this replica takes the job over.
    repairs: dict[str, JobSpec] = attrs.field(factory=dict)

    # ------------------------------------------------------------------ the one writer

    def install(self, job: Job, new: Status) -> None:
        """Make *new* the job's status, and bring everything derived from it up to date."""
        old = job.status
        if new is old:
            return
        job.status = new
        taken = old.run
        if taken is not None and new.run is not taken and not old.started:
            # The attempt was taken but never started, and is no longer the job's: whichever
            # worker receives it drops it (the dispatcher stops offering it).
            taken.abandoned = True
            if taken.send_scope is not None:
                taken.send_scope.cancel()
        # Derived inline (this runs a few times for every run): an active job that is free
        # waits in the queue for its occurrence unless a retry waits (``Status.soon_at``),
        # and in the heap for its retry or trigger.
        key = job.id.value
        free = new.phase is Phase.ACTIVE and new.run is None
        was_free = old.phase is Phase.ACTIVE and old.run is None
        queued = old.due if was_free and old.retry is None and job is not self._popped else None
        due = new.due if free and new.retry is None else None
        if due is None:
            if queued is not None:
                self.queue.remove(key)
        elif due is not queued:
            timestamp = due.timestamp()
            if job.extras is not None and job.extras.jitter:
                timestamp += job.offset(due)  # queued for its jittered start
            self.queue.push(key, timestamp)
            # Busy, the dispatcher looks at the queue before it sleeps; asleep, it sleeps no
            # later than the front it saw, so only an earlier occurrence must wake it.
            if timestamp < self._slept_for and self.dispatcher.sleeping:
                self.dispatcher.wake_in(timestamp - self.observer.now().timestamp())
        soon = (new.retry.at if new.retry is not None else new.trigger) if free else None
        entries = self._soon_live
        entry = entries.get(key) if entries else None
        if soon != (entry[0] if entry is not None else None):
            if soon is None:
                del entries[key]  # the heap entry stays behind, stale
            else:
                entries[key] = (soon, token := next(self._tokens))
                heapq.heappush(self._soon, (soon, token, key))
                self.dispatcher.wake_at(soon)
        if new.phase is not old.phase:  # the table counts paused and finished jobs
            self.table.phase_changed(job, old.phase, new.phase)

    def _step(
        self,
        job: Job,
        transition: Callable[Concatenate[Job, P], Status],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Status:
        """Feed one event to the planner and install the status it computes."""
        try:
            new = transition(job, *args, **kwargs)
        except StrategyFailed as failure:
            new = self.planner.failed(job, failure)
        self.install(job, new)
        if self.journal is not None:
            self.journal.changed(job)
        return new

    # ------------------------------------------------------------------ intake

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
        """The tasks have stopped: apply the last reports, keep what never ran planned."""
        self.drain_reports()
        for job in self.table:
            run = job.status.run
            if run is not None and not job.status.started:
                # Left in the dispatch buffer by a forced shutdown: it did not run, so its
                # occurrence keeps its place (``next_run_at`` is its time).
                self._step(job, self.planner.undelivered, run)
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
    def stage(self, spec: JobSpec, *, now: bool = False) -> JobId:
        """Accept a submission into the staging buffer (the caller made sure it fits).

        A key the scheduler knows attaches instead (``attach``): the job keeps its id, and
        its new definition applies at once, or replaces the one still staged.  With *now*
        (``add_jobs``, which took in what was staged first) the job is taken in at once
        instead of waiting in the buffer.  Returns the job's id.
        """
        key = spec.id._key
        if key is not None:
            known = self.keys.get(key)
            if known is not None:
                if self.staging.get(known.value) is not None:
                    self.staging.put(attrs.evolve(spec, id=known))  # replaces it in place
                else:
                    self.ingest(attrs.evolve(spec, id=known, attach=True))
                return known
            self.keys[key] = spec.id
        if now:
            self.ingest(spec)
        else:
            self.staging.put(spec)
        self.observer.metrics.jobs_submitted += 1
        return spec.id

    @enable_ki_protection
    def take_in(self, specs: Iterable[JobSpec | None]) -> tuple[JobId | None, ...]:
        """``add_jobs``: take in a batch at once, after what the staging buffer holds.

        ``None`` entries (items refused by their checks) give ``None``.  Atomic, as every
        entry point here: the batch is in the table, planned, when this returns.
        """
        self.ingest_staged_now()  # earlier submissions first, in the order they came
        return tuple(None if spec is None else self.stage(spec, now=True) for spec in specs)

    async def intake_loop(self) -> None:
        """Apply workers' reports and take in staged submissions, all there is per wake-up.

        Both wake the one parking lot they share, so a report and a submission arriving
        together cost one wake-up of this task.
        """
        staging, pending = self.staging, self.reports.pending
        while True:
            if staging or pending:
                await trio.lowlevel.checkpoint()
            else:
                await staging.arrived.park()
            self.drain_reports()
            self.ingest_staged_now()

    @enable_ki_protection
    def ingest(self, spec: JobSpec) -> None:
        """Take a submitted job into the table and plan its first run (or attach)."""
        if spec.attach:
            self._attach(spec)
            return
        job = spec.to_job()
        self.table.add(job)
        self.observer.added(job)
        self._step(job, self.planner.added, spec.submitted_at)

    def _attach(self, spec: JobSpec) -> None:
        """A key that names a known job was added again: its code's definition wins."""
        job = self.table.get(spec.id)
        if job is None or job.status.phase.is_final:
            return  # finished (and maybe forgotten): re-adding its key changes nothing
        if job.remote is not None:
            assert self.replica is not None
            if job.broken is not None:
                # Nobody can run it as stored; this code can: take it over and repair it.
                self.repairs[job.id.key] = spec
                self.replica.wake()
            elif attach(job, spec):  # another replica holds it: that one applies it
                self.replica.post_later(job, "redefine", {"definition": job.definition})
            return
        if job.broken is not None:
            self._repair(job, spec)
            return
        changed = attach(job, spec)
        if changed:
            self._step(job, self.planner.redefined, changed)

    # ------------------------------------------------------------------ a store's jobs

    @enable_ki_protection
    def write_refused(self, key: str, exc: Exception) -> None:
        """The store refused the row of the job *key* (a value, a constraint, a size).

        That job fails with the reason; every other job keeps running and being written.
        """
        job_id = self.keys.get(key)
        job = None if job_id is None else self.table.get(job_id)
        if job is None or job.status.phase.is_final or job.broken is not None:
            self.observer.log.warning("the store refused to write job key %r: %s", key, exc)
            return
        job.error = info = error_info(exc)
        self.observer.write_refused(job, info)
        self.install(job, final_status(job.status, Phase.FAILED))
        if self.journal is not None:
            self.journal.changed(job)

    @enable_ki_protection
    def load(self, loaded: Loaded, new_id: Callable[[str], JobId], codecs: Codecs) -> None:
        """Take in the jobs a durable store holds, settling attempts a crash cut off."""
        self.planner.first_run_id(loaded.max_run_id + 1)
        wall_now = self.observer.now()
        for row in loaded.jobs:
            # A key ``try_add_job`` staged before the start keeps the id it returned.
            job_id = self.keys.get(row.key) or new_id(row.key)
            self.keys[row.key] = job_id
            staged = self.staging.take(job_id.value)
            try:
                job, status, taken = restore(
                    row,
                    job_id,
                    codecs,
                    self.functions(),
                    loaded,
                    self.planner.history_size,
                    wall_now,
                )
            except (ImportError, StoredValueError) as exc:
                self._load_broken(row, job_id, exc)
                if staged is not None:
                    self.ingest(attrs.evolve(staged, attach=True))
                continue
            self.table.add(job)
            self.install(job, status)
            if taken is not None:
                self._step(job, self.planner.recovered, taken)
            if staged is not None:
                self.ingest(attrs.evolve(staged, attach=True))

    def _load_broken(self, row: JobRow, job_id: JobId, exc: Exception) -> None:
        job = unloadable_job(row, job_id, exc)
        phase = phase_of(row.phase)
        self.table.add(job)
        self.install(job, job.status._replace(phase=phase))
        if phase.is_final:
            return  # it will not run again anyway: shown as it ended, not counted
        self.unloadable += 1
        module = getattr(exc, "name", None) or str(row.definition.get("fn", "?"))
        self.observer.log.warning(
            "stored job %r (key %r) cannot run in this process: %s (module %s); it is kept "
            "as stored, and runs again once code that has it attaches to the key",
            job.name,
            row.key,
            exc,
            module,
            extra={"job_id": str(job_id), "job_key": row.key, "job_name": job.name},
        )

    def _repair(self, job: Job, spec: JobSpec) -> None:
        """A deploy that has the function re-added the key of a job this one could not load."""
        broken = job.broken
        assert broken is not None
        assert spec.definition is not None
        added_at = broken.definition.get("added_at", spec.submitted_at.timestamp())
        definition = {**spec.definition, "added_at": added_at}
        state = broken.state
        # A new schedule replaces the stored (anchored) one, which may be what could not
        # be read; it is then planned from the last fired occurrence, as for any attach.
        rescheduled = broken.definition.get("schedule") != definition["schedule"]
        if rescheduled:
            state = {**state, "schedule": definition["schedule"]}
        row = attrs.evolve(broken, definition=definition, state=state)
        fresh, status, taken = self._restore(row, job.id, Loaded())
        for field in attrs.fields(Job):
            if field.name != "status":
                setattr(job, field.name, getattr(fresh, field.name))
        self.unloadable -= 1
        self.install(job, status._replace(phase=job.status.phase))
        if taken is not None:
            self._step(job, self.planner.recovered, taken)
        if rescheduled:
            self._step(job, self.planner.redefined, ("schedule",))
        elif taken is None and self.journal is not None:
            self.journal.changed(job)

    def _restore(
        self, row: JobRow, job_id: JobId, history: Loaded
    ) -> tuple[Job, Status, Recovered | None]:
        """``restore`` *row* with this scheduler's codecs, history size and wall clock."""
        return restore(
            row,
            job_id,
            self.journal_codecs(),
            self.functions(),
            history,
            self.planner.history_size,
            self.observer.now(),
        )

    def journal_codecs(self) -> Codecs:
        """The codecs of the durable store."""
        assert self.journal is not None
        return self.journal.store.codecs

    def functions(self) -> Functions:
        """The functions the durable store's jobs may run (registered by this process)."""
        assert self.journal is not None
        return self.journal.functions

    def definition(self, job: Job, changes: dict[str, object]) -> dict[str, Any] | None:
        """The stored definition *job* would have with *changes*; ``TypeError`` if none."""
        if self.journal is None:
            return None
        fields: dict[str, Any] = {
            "name": job.name,
            "fn": job.fn,
            "args": job.args,
            "schedule": job.given if job.given is not None else job.schedule,
            "retry": job.retry,
            "timeout": job.timeout,
            "lifetime": job.lifetime,
            "misfire": job.misfire,
            "quarantine_after": job.quarantine_after,
            "jitter": job.jitter,
        }
        for name, value in changes.items():
            fields[_JOB_FIELD.get(name, name)] = value
        if is_stand_in(fields["fn"]) and job.definition is not None:
            fields["fn"] = job.definition["fn"]  # not registered here: kept as stored
        return definition_of(
            self.journal_codecs(),
            self.functions(),
            on_crash=job.on_crash,
            added_at=job.added_at,
            **fields,
        )

    @enable_ki_protection
    def ingest_staged_now(self) -> None:
        """Take in everything waiting in the staging buffer, without blocking."""
        for spec in self.staging.take_all():
            self.ingest(spec)

    @enable_ki_protection
    def job(self, job_id: object) -> Job:
        """Return the job with *job_id*, current with every report and submission."""
        job_id = self.table.check_id(job_id)
        self.drain_reports()
        job = self.table.by_key(job_id.value)
        if job is not None and not job.status.phase.is_final:
            return job  # live: aging finished jobs out cannot change the answer
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
        """Like ``job``, but refuse jobs that have finished or that this process cannot run.

        Raises ``Remote`` for a live job another replica holds (the command goes to it).
        """
        job = self.job(job_id)
        self._check_local(job, action)
        if job.status.phase.is_final:
            raise JobFinished(f"cannot {action} {job.id}: the job is {job.state.value}")
        return job

    @staticmethod
    def _check_local(job: Job, action: str) -> None:
        """Refuse a live job another replica holds (``Remote``) or this one cannot run."""
        extras = job.extras
        if extras is None:
            return  # the common in-memory job
        if extras.remote is not None and not job.status.phase.is_final:
            raise Remote(job)
        if extras.broken is not None:
            raise JobNotLoaded(
                f"cannot {action} {job.id} (key {job.id.key!r}): it cannot run in this process "
                f"({job.error.message if job.error else 'not loaded'})"
            )

    # ------------------------------------------------------------------ reports

    @enable_ki_protection
    def drain_reports(self) -> None:
        """Apply every report already sent, in order, without blocking."""
        pending = self.reports.pending
        while pending:
            self._apply_report(pending.popleft())

    @enable_ki_protection
    def _apply_report(self, report: Report) -> None:
        run = report.run
        job = run.job
        if job.status.run is not run:
            # Detached when it was abandoned, or its lease was lost: nothing to record.
            if run.fenced and isinstance(report, Finished) and report.outcome is not None:
                self._fenced(job.id.key, 1)
            return
        if type(report) is Started:
            # Only ``started`` and ``fired`` change, and nothing is derived from them (the
            # job is busy either way: in neither the queue nor the heap, its phase the
            # same), so the status is set without ``install``; no strategy is asked.
            job.status = self.planner.started(job, run, report.started_at)
            if self.journal is not None:
                self.journal.changed(job)
        else:
            assert isinstance(report, Finished)
            self._step(job, self.planner.finished, report)

    @enable_ki_protection
    def undelivered(self, run: Run) -> None:
        """The dispatcher could not hand *run* to a worker (shutdown): keep it planned."""
        job = run.job
        if job.status.run is run:
            self._step(job, self.planner.undelivered, run)

    # ------------------------------------------------------------------ dispatch

    @enable_ki_protection
    def next_dispatch(self, fresh: bool = True) -> tuple[Run | None, float]:
        """Return a run to hand to a worker now, or the Trio deadline to sleep until.

        Reports already sent are applied first, so that a job whose attempt just ended is
        free, and its next occurrence queued, before anything is chosen.  The clocks are
        read once per batch (*fresh*): the dispatcher hands a batch over without yielding.
        """
        self.drain_reports()
        seen = self._seen
        if fresh or seen is None:
            wall_now = self.observer.observe_clock()
            seen = self._seen = (trio.current_time(), wall_now, wall_now.timestamp())
        now, wall_now, wall = seen
        run = self._pop_soon(now)
        if run is not None:
            return run, now
        run = self._pop_regular(wall_now, wall)
        if run is not None:
            return run, now
        deadline = self._soon[0][0] if self._soon else math.inf
        front = self.queue.peek()
        self._slept_for = math.inf
        if front is not None:
            self._slept_for = front[0]
            wait = min(front[0] - wall, self.dispatcher.max_sleep)
            deadline = min(deadline, now + wait)
        return None, deadline

    def _pop_soon(self, now: float) -> Run | None:
        soon = self._soon
        while soon:
            deadline, token, key = soon[0]
            job = self.table.by_key(key)
            entry = self._soon_live.get(key)
            if entry is None or entry[1] != token:
                heapq.heappop(soon)  # stale: replaced, dropped, or the job is gone
                continue
            if deadline > now:
                return None
            heapq.heappop(soon)
            del self._soon_live[key]
            assert job is not None  # a job with a live entry is live, so in the table
            run = self._step(job, self.planner.soon_due).run
            if run is not None:
                return run
        return None

    def _pop_regular(self, wall_now: datetime, wall: float) -> Run | None:
        queue = self.queue
        while (front := queue.peek()) is not None and front[0] <= wall:
            queue.pop()
            job = self.table.by_key(front[1])
            assert job is not None  # a queued job is live, so it is in the table
            self._popped = job  # its queue entry is gone: install must not remove it again
            offset = 0.0
            if job.extras is not None and job.extras.jitter:
                due = job.status.due
                assert due is not None
                offset = max(front[0] - due.timestamp(), 0.0)
            try:
                run = self._step(
                    job, self.planner.regular_due, wall_now, wall > front[0], offset
                ).run
            finally:
                self._popped = None
            if run is not None:
                return run
        return None

    # ------------------------------------------------------------------ commands

    @enable_ki_protection
    def cancel(self, job_id: JobId, *, interrupt: bool) -> None:
        """Cancel the lineage; with *interrupt*, also the attempt in progress."""
        job = self.job(job_id)
        phase = job.status.phase
        if phase.is_final:
            if interrupt and phase is Phase.CANCELLED:
                self._interrupt(job)  # a plain cancel first, the interrupt now
            return
        self._check_local(job, "cancel")
        self._step(job, self.planner.cancelled)
        if interrupt:
            self._interrupt(job)

    @enable_ki_protection
    def interrupt(self, job_id: JobId) -> bool:
        """Cancel the attempt in progress, if any; the lineage goes on. Return whether one was."""
        job = self.job(job_id)
        if job.remote is not None and not job.status.phase.is_final:
            raise Remote(job)
        return self._interrupt(job)

    @staticmethod
    def _interrupt(job: Job) -> bool:
        run = job.status.run
        if run is None or not job.status.started:
            return False
        run.interrupted = True
        assert run.scope is not None  # made before the start was reported
        run.scope.cancel()
        return True

    @enable_ki_protection
    def pause(self, job_id: JobId) -> None:
        """Stop planning runs for the job until it is resumed."""
        job = self.live_job(job_id, "pause")
        if job.status.phase is not Phase.PAUSED:
            self._step(job, self.planner.paused)

    @enable_ki_protection
    def resume(self, job_id: JobId) -> None:
        """Plan the job's next run from now; run a trigger that came while it was paused."""
        job = self.live_job(job_id, "resume")
        if job.status.phase is Phase.PAUSED:
            self._step(job, self.planner.resumed, self.observer.now())

    @enable_ki_protection
    def trigger(
        self, job_id: JobId, idempotency_key: str | None = None, link: object = None
    ) -> None:
        """Run the job once as soon as possible, out of band; coalesces with a pending one.

        A trigger with an idempotency key the job has seen recently is ignored.
        """
        job = self.live_job(job_id, "trigger")
        if idempotency_key is not None:
            seen = job.trigger_keys
            if seen is not None and idempotency_key in seen:
                return
            if seen is None:
                seen = job.trigger_keys = deque(maxlen=TRIGGER_KEYS_KEPT)
            seen.append(idempotency_key)
        if link is not None:  # OpenTelemetry: the attempt's span links to the trigger's
            job.links = (*job.links[:1], link)
        self._step(job, self.planner.triggered)

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
        definition = self.definition(job, changes)  # refuses what a store cannot keep
        for name, value in changes.items():
            setattr(job, _JOB_FIELD.get(name, name), value)
        if "schedule" in changes and job.given is not None:
            job.given = job.schedule
        if definition is not None:
            job.definition = definition
        if "jitter" in changes:
            self._requeue(job)
        self._step(job, self.planner.updated, tuple(changes), self.observer.now())

    def _requeue(self, job: Job) -> None:
        """Queue the job's waiting occurrence again, at its start with the job's jitter now."""
        s = job.status
        if s.phase is Phase.ACTIVE and s.run is None and s.retry is None and s.due is not None:
            key = job.id.value
            self.queue.remove(key)
            self.queue.push(key, s.due.timestamp() + job.offset(s.due))

    # ------------------------------------------------------------------ queries

    def next_run_at(self, job: Job) -> datetime | None:
        """When the job runs next: its pending retry or trigger, else its next occurrence."""
        remote = job.remote
        if remote is not None:  # as the replica that holds it last wrote it
            at = remote.next_run_at
            return None if at is None else datetime.fromtimestamp(at, UTC)
        s = job.status
        soon = s.soon_at
        if soon is not None:
            retry = s.retry
            if retry is not None and retry.wall is not None:
                return retry.wall  # fixed when it was planned: the same at every query
            if not in_trio_run():  # queried after trio.run has returned
                return None
            delay = max(soon - trio.current_time(), 0.0)
            return self.observer.now() + timedelta(seconds=delay)
        due = s.due
        if due is not None and job.extras is not None and job.extras.jitter:
            return due + timedelta(seconds=job.offset(due))  # its jittered start
        return due

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
        self.drain_reports()
        self.table.forget_finished()
        result = [job.summary(self.next_run_at(job)) for job in self.table]
        result.extend(JobSummary(s.id, s.name, JobState.STAGED, None) for s in self.staging)
        return result

    @enable_ki_protection
    def snapshot(self) -> MetricsSnapshot:
        """The metrics, with the gauges read now.

        A staged job counts in ``staging_buffered`` only, until it is taken in.
        """
        self.drain_reports()
        return self.observer.metrics.snapshot(
            jobs_live=self.table.live,
            jobs_paused=self.table.paused,
            staging_buffered=len(self.staging),
            stale=self.queue.stale_entries,
            unloadable=self.unloadable,
            held=0 if self.replica is None else len(self.replica.store.held),
        )

    # ------------------------------------------------------------------ replicas

    @enable_ki_protection
    def load_remote(self, loaded: Loaded, new_id: Callable[[str], JobId]) -> None:
        """Show every job of a replicated store; those this replica takes leases on run."""
        self.planner.first_run_id(loaded.max_run_id + 1)
        for row in loaded.jobs:
            self._show(row, new_id, loaded)

    def _show(self, row: JobRow, new_id: Callable[[str], JobId], history: Loaded) -> Job:
        """Show *row* as stored: another replica holds it (or nobody does yet)."""
        job_id = self.keys.get(row.key) or new_id(row.key)
        self.keys[row.key] = job_id
        job = self.table.get(job_id)
        phase = phase_of(row.phase)
        remote = None if job is None else job.remote
        if (
            remote is not None
            and job is not None
            and job.broken is None
            and remote.definition == row.definition
            and shown_again(job, row, history)
        ):
            self.install(job, Status(phase=phase))
            return job  # the same definition: only its state changed (the common case)
        counted = job is not None and job.broken is not None and not job.status.phase.is_final
        try:
            fresh, _, _ = self._restore(row, job_id, history)
        except (ImportError, StoredValueError) as exc:
            fresh = unloadable_job(row, job_id, exc)
            if not counted and not phase.is_final:
                self.observer.log.warning(
                    "stored job %r (key %r) cannot run in this process: %s; other replicas run it",
                    fresh.name,
                    row.key,
                    exc,
                    extra={"job_id": str(job_id), "job_key": row.key},
                )
        self.unloadable += (fresh.broken is not None and not phase.is_final) - counted
        fresh.remote = row
        if job is None:
            self.table.add(fresh)
            job = fresh
        else:
            self._replace_fields(job, fresh)
        self.install(job, Status(phase=phase))
        staged = self.staging.take(job_id.value)
        if staged is not None:
            self.ingest(attrs.evolve(staged, attach=True))
        return job

    @staticmethod
    def _replace_fields(job: Job, fresh: Job) -> None:
        for field in attrs.fields(Job):
            if field.name != "status":
                setattr(job, field.name, getattr(fresh, field.name))

    def unrunnable(self) -> list[str]:
        """Keys of the stored jobs this process cannot run (not to be taken over here).

        Those whose function is not registered here or whose row cannot be read, unless a
        re-added key brought a definition that repairs them.
        """
        return [
            key
            for key, job_id in self.keys.items()
            if (job := self.table.get(job_id)) is not None
            and job.broken is not None
            and key not in self.repairs
        ]

    @enable_ki_protection
    def take_over(self, acquired: Acquired, new_id: Callable[[str], JobId]) -> None:
        """This replica took the leases of *acquired*: run those jobs from their stored state."""
        history = Loaded(runs=acquired.runs, skips=acquired.skips)
        for row in acquired.jobs:
            job_id = self.keys.get(row.key) or new_id(row.key)
            self.keys[row.key] = job_id
            try:
                fresh, status, taken = self._restore(row, job_id, history)
            except (ImportError, StoredValueError):
                shown = self._show(row, new_id, history)
                spec = self.repairs.pop(row.key, None)
                if spec is None:
                    assert self.replica is not None
                    self.replica.store.forget((row.key,))  # lapses: a replica that can run it
                    continue
                shown.remote = None
                self._repair(shown, spec)
                continue
            job = self.table.get(job_id)
            if job is None:
                self.table.add(fresh)
                job = fresh
            else:
                self._replace_fields(job, fresh)
                self.install(job, Status(phase=job.status.phase))
            job.remote = None
            self.install(job, status)
            if taken is not None:
                self._step(job, self.planner.recovered, taken)
            assert self.replica is not None
            for command in self.replica.take_outbox(row.key):
                self.replica.apply(self, job, command)  # not posted yet: applied here
        self.apply_commands(acquired.commands)

    @enable_ki_protection
    def lose(self, keys: frozenset[str] | set[str], *, release: bool = False) -> None:
        """The leases of *keys* are gone: show those jobs, do not run them here.

        With *release*, this replica gives them back: their state as it is now is still
        written (the caller waits for that, then releases the leases).
        """
        if not keys:
            return
        journal = self.journal
        assert journal is not None
        codecs = journal.store.codecs
        for key in keys:
            job_id = self.keys.get(key)
            job = None if job_id is None else self.table.get(job_id)
            if job is None or job.remote is not None:
                continue
            s = job.status
            run = s.run
            if run is not None and s.started:
                run.fenced = True
                if run.lease_scope is not None:
                    run.lease_scope.cancel()
            row = job_row(job, codecs, self.observer.now().timestamp(), trio.current_time())
            if release:
                journal.snapshot(job, row)
            else:
                journal.forget(job)
            job.remote = row
            self.install(job, Status(phase=s.phase))
        assert self.replica is not None
        self.replica.refresh_soon()

    @enable_ki_protection
    def refresh(self, changes: Changes, new_id: Callable[[str], JobId]) -> bool:
        """Show what other replicas changed; return whether a job waits for a holder."""
        assert self.replica is not None
        held = self.replica.store.held
        history = Loaded(runs=changes.runs, skips=changes.skips)
        orphans = False
        for row, _owner, live in changes.jobs:
            if row.key in held:
                continue
            job_id = self.keys.get(row.key)
            job = None if job_id is None else self.table.get(job_id)
            if job is not None and job.remote is None:
                continue  # held here until a moment ago: the lease loop settles it
            self._show(row, new_id, history)
            if not live and not phase_of(row.phase).is_final:
                orphans = True
        self.apply_commands(changes.commands)
        return orphans

    @enable_ki_protection
    def written(self, written: Written) -> None:
        """What a fenced write found: lost leases, refused starts, commands to apply."""
        assert self.replica is not None
        self.replica.db_now = written.db_now
        if written.fenced_runs:
            self._fenced(", ".join(sorted(written.lost)), written.fenced_runs)
        self.lose(written.lost)
        for key in written.refused:
            job = self.table.get(self.keys[key])
            run = None if job is None else job.status.run
            if job is not None and run is not None and not job.status.started:
                run.refused = True
                self._step(job, self.planner.undelivered, run)
        self.apply_commands(written.commands)

    def _fenced(self, keys: str, count: int) -> None:
        self.observer.metrics.attempts_fenced += count
        self.observer.log.warning(
            "%d attempt outcome(s) of %s not recorded: this replica lost the lease (the "
            "attempt was cancelled here; another replica holds the job now)",
            count,
            keys,
        )

    @enable_ki_protection
    def apply_commands(self, commands: tuple[Command, ...]) -> None:
        """Apply commands other replicas posted for jobs held here, in order."""
        assert self.replica is not None
        for command in commands:
            if command.id in self.replica.applied:
                continue
            job_id = self.keys.get(command.key)
            job = None if job_id is None else self.table.get(job_id)
            if job is None or job.remote is not None:
                continue
            self.replica.applied.add(command.id)
            try:
                self.replica.apply(self, job, command)
            except Exception as exc:  # a command for a job that ended meanwhile, say
                self.observer.log.info(
                    "command %s for job %r not applied: %s", command.kind, job.name, exc
                )
            assert self.journal is not None
            self.journal.applied(job, command.id)
