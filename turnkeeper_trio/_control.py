"""The handle's commands and queries: what ``Scheduler`` lets users do to jobs and see of them.

``Scheduler`` inherits this (and, through it, the task tree and shutdown of ``Runtime``);
``_scheduler.py`` keeps construction and submission.  Every command is one Trio checkpoint
that applies its change before yielding; queries never block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

import trio

from ._apply import ApplyResult, apply_requests
from ._coordinator import Coordinator, Remote
from ._durable import check_key, is_stand_in
from ._events import Event, Subscription
from ._exceptions import JobFinished, JobNotLoaded, SchedulerClosed
from ._health import Health, health_of
from ._lifetime import Lifetime
from ._metrics import MetricsSnapshot
from ._misfire import MisfirePolicy
from ._models import BatchResult, JobDetails, JobId, JobRequest, JobState, JobSummary, Refusal
from ._otel import current_link
from ._retry import RetryPolicy
from ._runtime import Runtime
from ._schedule import Schedule
from ._submission import UNSET, Signatures, Unset, check_lifetime, listed, validate_changes

if TYPE_CHECKING:
    from ._scheduler import Scheduler

__all__ = ["Control"]

E = TypeVar("E", bound=Event)


class Control(Runtime):
    """Commands and queries of a scheduler (the base of ``Scheduler``; internal)."""

    _signatures: Signatures

    # ------------------------------------------------------------------ commands

    async def _applied(self) -> None:
        """The command was applied: with a durable store, return once it is written."""
        journal = self._coordinator.journal
        if journal is None:
            await trio.lowlevel.cancel_shielded_checkpoint()
        else:
            await journal.wait_saved()

    async def _post(self, remote: Remote, kind: str, payload: dict[str, Any]) -> None:
        """Another replica holds the job: post the command; return once it is applied."""
        replica = self._coordinator.replica
        assert replica is not None
        await replica.command(remote.job, kind, payload)

    async def _command(self) -> Coordinator:
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.closing:
            raise SchedulerClosed("the scheduler is shutting down; jobs can no longer change")
        return self._coordinator

    async def cancel_job(self, job_id: JobId, *, interrupt: bool = False) -> None:
        """Cancel the job lineage: it will not run again.  Idempotent.

        Args:
            job_id: the id ``add_job`` returned.
            interrupt: also cancel an attempt in progress (it sees ``trio.Cancelled`` and is
                recorded as cancelled); otherwise a running attempt finishes first.

        Raises:
            JobNotFound: no such job.

        Example:
            ```python
            await s.cancel_job(job)                    # no more runs; a running one finishes
            await s.cancel_job(job, interrupt=True)     # ... or is cancelled now
            ```
        """
        try:
            (await self._command()).cancel(job_id, interrupt=bool(interrupt))
        except Remote as remote:
            with contextlib.suppress(JobFinished):  # it ended meanwhile: idempotent
                await self._post(remote, "cancel", {"interrupt": bool(interrupt)})
            return
        await self._applied()

    async def cancel_jobs(
        self, job_ids: Iterable[JobId], *, interrupt: bool = False
    ) -> BatchResult:
        """Cancel many job lineages in one call: one Trio checkpoint for the whole batch.

        Each id is cancelled as ``cancel_job`` would cancel it (idempotent: a finished job
        is left as it is), or refused on its own with the error ``cancel_job`` would have
        raised (``JobNotFound``, ``TypeError``, ...); the others are cancelled.

        Args:
            job_ids: the ids ``add_job`` returned (any iterable, read once).
            interrupt: also cancel the attempts in progress.

        Returns:
            A ``BatchResult``: each id in order (``None`` where refused) and the refusals.

        Raises:
            TypeError: *job_ids* is not an iterable.
            SchedulerClosed: the scheduler is shutting down (nothing was cancelled).

        Example:
            ```python
            result = await s.cancel_jobs(ids_of_the_tenant)
            print(len(result.accepted), "cancelled;", len(result.refused), "not found")
            ```
        """
        items = listed(job_ids, "job_ids", "JobId")
        coordinator = await self._command()
        interrupt = bool(interrupt)
        ids: list[JobId | None] = []
        refused: list[Refusal] = []
        remote: list[tuple[int, Remote]] = []
        for index, job_id in enumerate(items):
            try:
                coordinator.cancel(job_id, interrupt=interrupt)  # type: ignore[arg-type]
            except Remote as elsewhere:  # held by another replica: posted below
                remote.append((index, elsewhere))
                ids.append(elsewhere.job.id)
            except (TypeError, ValueError, LookupError, JobNotLoaded) as exc:
                ids.append(None)
                refused.append(Refusal(index, exc))
            else:
                ids.append(job_id)  # type: ignore[arg-type]  # cancel checked it
        for index, posted in remote:
            try:
                await self._post(posted, "cancel", {"interrupt": interrupt})
            except JobFinished:
                pass  # it ended on its replica meanwhile: left as it is, as a local one
            except (LookupError, JobNotLoaded) as exc:
                ids[index] = None
                refused.append(Refusal(index, exc))
        await self._applied()
        refused.sort(key=lambda refusal: refusal.index)
        return BatchResult(tuple(ids), tuple(refused))

    async def interrupt_job(self, job_id: JobId) -> bool:
        """Cancel the attempt in progress, if any; the lineage goes on to its next run.

        The interrupted attempt is recorded as cancelled and is not retried.

        Returns:
            Whether an attempt was running.

        Raises:
            JobNotFound: no such job.

        Example:
            ```python
            if await s.interrupt_job(job):
                print("the running attempt was cancelled; the schedule goes on")
            ```
        """
        try:
            interrupted = (await self._command()).interrupt(job_id)
        except Remote as remote:
            running = remote.job.state is JobState.RUNNING
            await self._post(remote, "interrupt", {})
            return running
        await self._applied()
        return interrupted

    async def update_job(
        self,
        job_id: JobId,
        *,
        schedule: Schedule | Unset = UNSET,
        async_fn: Callable[..., Awaitable[object]] | Unset = UNSET,
        args: tuple[Any, ...] | Unset = UNSET,
        name: str | Unset = UNSET,
        retry: RetryPolicy | Unset | None = UNSET,
        timeout: float | timedelta | Unset | None = UNSET,
        lifetime: Lifetime | Unset = UNSET,
        misfire: MisfirePolicy | Unset = UNSET,
        quarantine_after: int | Unset | None = UNSET,
        jitter: float | timedelta | Unset | None = UNSET,
    ) -> None:
        """Change a live job; only the arguments given change.

        A new schedule recomputes the next run from now (an ``Interval`` without ``start``
        is re-anchored now); the other changes apply from the next attempt.  An attempt in
        progress finishes with its old settings.  On a paused job a new schedule is
        anchored at the update too, and ``resume_job`` plans its first instant after the
        resume.  *name* follows ``add_job``'s rule (1 to 200 characters, not only
        whitespace, no NUL or lone surrogates).  A new *jitter* (``None`` for none) applies
        from the next occurrence planned, the one waiting included.

        Raises:
            JobNotFound: no such job.  JobFinished: the job has completed or was cancelled.
            TypeError, InvalidArgument: as for ``add_job``.

        Example:
            ```python
            await s.update_job(job, schedule=tk.Interval.minutes(1), timeout=20)
            ```
        """
        changes = validate_changes(
            schedule=schedule,
            async_fn=async_fn,
            args=args,
            name=name,
            retry=retry,
            timeout=timeout,
            lifetime=lifetime,
            misfire=misfire,
            quarantine_after=quarantine_after,
            jitter=jitter,
        )
        if "lifetime" in changes:
            check_lifetime(changes["lifetime"], self._wall_clock.now())
        coordinator = await self._command()
        try:
            coordinator.update(job_id, changes, self._signatures)
        except Remote as remote:
            job = remote.job
            fn = changes.get("async_fn", job.fn)
            if ("async_fn" in changes or "args" in changes) and not is_stand_in(fn):
                # (A function this replica has not registered is checked by its holder.)
                assert callable(fn)
                self._signatures.check(fn, changes.get("args", job.args))  # type: ignore[arg-type]
            definition = coordinator.definition(job, changes)
            await self._post(remote, "update", {"definition": definition, "changed": [*changes]})
            return
        await self._applied()

    async def trigger_job(self, job_id: JobId, *, idempotency_key: str | None = None) -> None:
        """Run the job once as soon as possible, outside its schedule.

        The regular schedule is unchanged.  It never overlaps a running attempt of the same
        job (it runs right after), and triggers that arrive while one is pending coalesce.
        A trigger while a retry waits for its delay runs that retry now instead (one attempt,
        not two).  A trigger on a paused job runs when the job is resumed.

        Args:
            job_id: the id ``add_job`` returned.
            idempotency_key: a short string naming this request (a request id from the
                client, say): a trigger with a key the job has seen among its last 100 is
                ignored, so a retried command cannot run the job twice.  Durable stores
                keep the keys across restarts.

        Raises:
            JobNotFound: no such job.  JobFinished: the job has completed or was cancelled.

        Example:
            ```python
            await s.trigger_job(job)   # run once now, outside the schedule
            await s.trigger_job(job, idempotency_key=request_id)   # once per request
            ```
        """
        key = check_key(idempotency_key, "idempotency_key")
        coordinator = self._coordinator
        link = None if coordinator.observer.telemetry is None else current_link()
        try:
            (await self._command()).trigger(job_id, key, link)
        except Remote as remote:
            await self._post(remote, "trigger", {"idempotency_key": key})
            return
        await self._applied()

    async def pause_job(self, job_id: JobId) -> None:
        """Stop running the job until ``resume_job``; a running attempt finishes.

        Occurrences that fall while paused are skipped (not misfires); a pending retry is
        dropped.  Idempotent.

        Example:
            ```python
            await s.pause_job(job)     # no runs until resume_job
            ```
        """
        try:
            (await self._command()).pause(job_id)
        except Remote as remote:
            await self._post(remote, "pause", {})
            return
        await self._applied()

    async def resume_job(self, job_id: JobId) -> None:
        """Resume a paused job: its next run is computed from now.  Idempotent.

        The next run is the schedule's first instant after the resume; an ``Interval``
        keeps its grid (anchored when the job was added, or by the last ``update_job``
        that gave a schedule, even while paused).

        Example:
            ```python
            await s.resume_job(job)    # next run planned from now
            ```
        """
        try:
            (await self._command()).resume(job_id)
        except Remote as remote:
            await self._post(remote, "resume", {})
            return
        await self._applied()

    # ------------------------------------------------------------------ queries

    @overload
    def subscribe(self, *, buffer_size: int = 256) -> Subscription[Event]: ...

    @overload
    def subscribe(self, *types: type[E], buffer_size: int = 256) -> Subscription[E]: ...

    def subscribe(self, *types: type[Event], buffer_size: int = 256) -> Subscription[Any]:
        """Subscribe to the scheduler's events, optionally only to some *types*.

        Each subscription has its own buffer of *buffer_size* events; when it is full, new
        events for it are dropped and counted (``Subscription.dropped``, and
        ``events_dropped`` in the metrics) so that a slow reader never slows the scheduler.
        The stream ends once the scheduler has stopped.

        Example:
            ```python
            with scheduler.subscribe(tk.RunFinished, tk.Misfired) as events:
                async for event in events:
                    print(event)
            ```

        Raises:
            TypeError: a type is not an ``Event`` subclass.
            SchedulerClosed: the scheduler has stopped.
        """
        subscription: Subscription[Any] = Subscription(types, buffer_size)
        if self._done.is_set():
            raise SchedulerClosed("the scheduler has stopped; there will be no more events")
        self._coordinator.subscribe(subscription)
        return subscription

    def get_job_details(self, job_id: JobId) -> JobDetails:
        """Return everything known about one job.  Works after shutdown too.

        Raises:
            JobNotFound: no such job (or it has aged out of the finished-job retention).

        Example:
            ```python
            details = s.get_job_details(job)
            print(details.state.value, details.next_run_at)
            ```
        """
        return self._coordinator.details(job_id)

    def list_all_jobs(self) -> list[JobSummary]:
        """Return a summary of every known job (live, and finished ones still retained).

        Example:
            ```python
            for summary in s.list_all_jobs():
                print(summary.name, summary.state.value, summary.next_run_at)
            ```
        """
        return self._coordinator.summaries()

    def get_metrics_snapshot(self) -> MetricsSnapshot:
        """Return the current metrics.  O(1); works after shutdown too.

        Example:
            ```python
            m = s.get_metrics_snapshot()
            print(m.runs_started, m.runs_errored, m.misfires)
            ```
        """
        return self._coordinator.snapshot()

    def health(self) -> Health:
        """Whether the scheduler is live (its event loop makes progress) and ready.

        A query (it never blocks).  *Live*: started, not stopped, and no stall of the
        event loop longer than ``stall_threshold`` seconds (``open_scheduler``), now or in
        the last ``stall_threshold`` seconds; the heartbeat that measures it starts with the
        first call.  *Ready*: live, not shutting down, no failed store write and, with
        ``PostgresStore``, the leases renewed.  ``Dashboard`` serves both as ``/healthz``
        and ``/readyz``.

        Example:
            ```python
            health = s.health()
            print(health.live, health.ready, health.reasons)
            ```
        """
        return health_of(cast("Scheduler", self))

    async def apply(self, requests: Iterable[JobRequest], *, prune: bool = False) -> ApplyResult:
        """Make the keyed jobs what *requests* describe: a declarative upsert.

        Keys no job has are added; a key whose job has another definition is replaced (its
        state, counts and history kept, as ``add_job`` with a known key does); an unchanged
        one is left alone.  With *prune*, every live job with a key the requests do not
        name is cancelled, also one added at run time or by another replica, so prune only
        where the requests list every keyed job; jobs added without a key are never
        cancelled.  Safe on every replica at once: each key is stored once.  Every function
        is registered, so jobs stored by other replicas run here.

        Args:
            requests: ``JobRequest``s, each with a ``key`` (``load_schedules`` gives them).
            prune: cancel the keyed jobs the requests do not name.

        Returns:
            An ``ApplyResult``: the keys added, changed, unchanged, finished and cancelled.

        Raises:
            ExceptionGroup: of the errors ``add_job`` would raise (``TypeError``,
                ``InvalidArgument``), one per bad request (a note names its index and key),
                or for a request without a key or a key given twice; nothing was changed.
            SchedulerClosed: the scheduler is shutting down.
            SchedulerNotRunning: the scheduler has not been started.

        Example:
            ```python
            result = await s.apply(tk.load_schedules("schedules.toml"), prune=True)
            print(result.added, result.changed, result.cancelled)
            ```
        """
        return await apply_requests(cast("Scheduler", self), requests, prune=prune)
