"""Workers: run one attempt at a time inside a cancel scope that is its own, and report it."""

from __future__ import annotations

import math
from contextlib import nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING

import attrs
import trio

from ._coordinator import Coordinator
from ._groups import split_job_exception
from ._job import Run
from ._models import ErrorInfo, Outcome, _current_job
from ._outcome import Finished, ReportQueue, Started, error_info
from ._wallclock import WallClock

if TYPE_CHECKING:
    from ._otel import Telemetry
    from ._replica import Replica

__all__ = ["Worker", "running_in"]

#: The scheduler whose worker is running the current task (so shutdown from a job can tell).
running_in: ContextVar[object] = ContextVar("turnkeeper_trio.running_in")


@attrs.define(eq=False)
class Worker:
    """Runs attempts handed over by the dispatcher (internal).

    It tells the coordinator everything through its report channel (a start, then a finish)
    and reads nothing of it but ``closing``; the coordinator applies the reports in order, and
    applies those already sent before any command or query, so a job shows ``RUNNING`` from
    the moment its code runs.
    """

    coordinator: Coordinator
    wall_clock: WallClock
    owner: object
    #: OpenTelemetry (``otel=True``): a span per attempt.  ``None``: nothing is traced.
    telemetry: Telemetry | None = None

    async def serve(self, receive: trio.MemoryReceiveChannel[Run]) -> None:
        """Run attempts until the dispatch channel closes."""
        running_in.set(self.owner)
        report = self.coordinator.reports
        replica = self.coordinator.replica
        # Sync `with`: closing a memory channel needs no checkpoint, so a KeyboardInterrupt
        # leaving a job is never replaced by a Cancelled raised while cleaning up.
        with receive:
            if self.coordinator.journal is None:
                await self._serve_in_memory(receive, report)
                return
            if replica is None:
                async for run in receive:
                    if not run.abandoned:  # else detached already: nobody waits for a report
                        await self._attempt(run, report)
                return
            async for run in receive:
                if run.abandoned:
                    continue
                try:
                    if await self._gate(run, replica):
                        await self._attempt(run, report)
                finally:
                    replica.attempt_over(run)

    async def _serve_in_memory(
        self, receive: trio.MemoryReceiveChannel[Run], report: ReportQueue
    ) -> None:
        """Run attempt after attempt in one cancel scope, until one of them spends it.

        Entering and leaving a cancel scope costs about as much as the rest of a no-op
        attempt's work, so the scope is not made per attempt: it is each attempt's (its
        ``Run.scope``, which ``interrupt`` cancels, and its deadline is the attempt's
        timeout) and, once cancelled, it is left and a fresh one serves the next attempt.
        A late interrupt cannot reach the next attempt: the coordinator applies an attempt's
        report before any command, and interrupts only the attempt it shows running.
        """
        while True:
            with trio.CancelScope() as scope:
                async for run in receive:
                    if run.abandoned:
                        continue  # detached already: nobody waits for a report
                    if await self._attempt(run, report, scope):
                        break  # spent (an interrupt, or a timeout): the next gets a new one
                else:
                    return  # the dispatch channel closed

    async def _gate(self, run: Run, replica: Replica) -> bool:
        """A replicated store: start only once the start is committed under the lease.

        The write is refused (and the run detached) if the lease was lost or a command
        waits for the job; an occurrence that the database's clock has not reached yet
        waits for it.
        """
        journal = self.coordinator.journal
        assert journal is not None
        run.lease_scope = replica.attempt_scope(run)
        journal.started(run.job)
        await journal.wait_saved()
        if run.abandoned or run.refused or run.fenced or run.job.status.run is not run:
            return False
        early = replica.early_by(run)
        if early > 0:
            await trio.sleep(early)
        return True

    async def _attempt(
        self, run: Run, report: ReportQueue, shared: trio.CancelScope | None = None
    ) -> bool:
        """Run one attempt and report it, in the worker's *shared* scope or a scope of its own.

        In *shared* (the in-memory path), the scope's own ``Cancelled`` leaves through here
        (the scope catches it where the worker entered it); without, the attempt's scope is
        entered around the job's code, inside the lease's when there is one.  Returns whether
        the attempt spent its scope (an interrupt, or its timeout).
        """
        if self.coordinator.closing:
            report.put(Finished(run, None))
            return False
        started_at = self.wall_clock.now()
        if run.start_by < math.inf and started_at.timestamp() > run.start_by:
            report.put(Finished(run, None, late=True))
            return False
        # Updates apply from the next attempt: one that waited for a worker starts with the
        # job's settings as they are now, not as they were when it was dispatched.
        job = run.job
        fn, args, timeout = job.fn, job.args, job.timeout
        run.name = job.name
        run.scope = scope = shared if shared is not None else trio.CancelScope()
        report.put(Started(run, started_at))
        token = _current_job.set(run)
        telemetry = self.telemetry
        span = None if telemetry is None else telemetry.start(run, started_at.timestamp())
        failed: BaseException | None = None
        t0 = trio.current_time()
        if timeout is not None:
            scope.deadline = t0 + timeout
        outcome = Outcome.CANCELLED
        error: ErrorInfo | None = None
        result: object = None
        try:
            if shared is not None:  # the common case: nothing to enter or wait for
                result = await fn(*args)
            else:
                journal = self.coordinator.journal
                assert journal is not None  # a scope per attempt only with a durable store
                lease = run.lease_scope
                with lease if lease is not None else nullcontext(), scope:
                    if job.on_crash == "skip":
                        # At most once: the start is written before the job's code runs,
                        # so a crash from here on is never followed by another start of it.
                        self.coordinator.drain_reports()
                        await journal.wait_saved()
                    result = await fn(*args)
            classified = self._classify(run, scope, timeout is not None, result)
            if classified is not Outcome.CANCELLED:
                # A shutdown that cancelled the job, which swallowed it and returned: the
                # attempt is recorded as cancelled, and the Cancelled goes on.
                await trio.lowlevel.checkpoint_if_cancelled()
            outcome = classified
        except Exception as exc:
            outcome, error, failed = Outcome.ERRORED, error_info(exc), exc
        except BaseException as exc:
            # Cancellation from outside (shutdown) is recorded as cancelled and propagates;
            # KeyboardInterrupt and SystemExit are recorded as errors and propagate; the
            # job's own errors that travel with them (a group from the job's nursery) are
            # recorded and go no further.
            failure, propagate = split_job_exception(exc)
            if failure is not None:
                outcome, error = Outcome.ERRORED, error_info(failure)
            elif shared is not None and scope.cancel_called:
                # The shared scope's Cancelled, on its way to the scope: interrupted or
                # timed out, as a scope of the attempt's own would have classified it.
                outcome = self._classify(run, scope, timeout is not None, None)
            if propagate is exc:
                raise
            assert propagate is not None  # an Exception alone was caught above
            raise propagate from None
        finally:
            spent = shared is not None and self._spent(run, scope, timeout is not None)
            if timeout is not None and shared is not None:
                scope.deadline = math.inf  # the next attempt in this scope has its own
            _current_job.reset(token)
            duration = trio.current_time() - t0
            if span is not None:
                assert telemetry is not None
                telemetry.stop(run, span, outcome, error, failed, duration)
            report.put(
                Finished(
                    run,
                    outcome,
                    False,
                    started_at,
                    self.wall_clock.now(),
                    duration,
                    error,
                )
            )
        return spent

    @staticmethod
    def _spent(run: Run, scope: trio.CancelScope, timed: bool) -> bool:
        """Whether the attempt's *scope* is cancelled; *timed*: the attempt had a timeout.

        Only an interrupt (which marks the run first) or the attempt's deadline cancels it,
        so without a timeout the flag says it without asking the scope (a Trio clock read).
        """
        return run.interrupted or (timed and scope.cancel_called)

    @classmethod
    def _classify(cls, run: Run, scope: trio.CancelScope, timed: bool, result: object) -> Outcome:
        """The outcome of an attempt that returned *result*; *timed*: it had a timeout."""
        lease = run.lease_scope
        if lease is not None and lease.cancel_called:
            return Outcome.CANCELLED  # the lease ran out: the outcome is fenced anyway
        if cls._spent(run, scope, timed):
            # Timed out or interrupted, even if the job caught Cancelled and returned.
            return Outcome.CANCELLED if run.interrupted else Outcome.TIMED_OUT
        return Outcome.FAILED if result is False else Outcome.SUCCEEDED
