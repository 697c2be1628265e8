"""The public face: ``open_scheduler`` and the ``Scheduler`` handle."""

from __future__ import annotations

import itertools
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar, TypeVarTuple

import trio

from ._control import Control
from ._coordinator import Coordinator
from ._dispatcher import Dispatcher
from ._durable import Journal, check_key, check_on_crash, definition_of
from ._events import Event
from ._exceptions import InvalidArgument, SchedulerClosed, SchedulerNotRunning, StagingFull
from ._functions import Functions
from ._groups import collapse_single_group
from ._health import Heartbeat
from ._job import JobSpec
from ._lifetime import Lifetime
from ._metrics import Metrics
from ._misfire import Coalesce, MisfirePolicy
from ._models import BatchResult, JobId, JobRequest, Refusal
from ._observer import Observer
from ._otel import Telemetry, current_link
from ._planner import Planner
from ._postgres import PostgresStore
from ._queue import IndexedHeapQueue, JobQueue
from ._replica import Replica
from ._retry import RetryPolicy
from ._schedule import Schedule
from ._staging import StagingBuffer
from ._store import JobStore, MemoryStore
from ._submission import (
    Signatures,
    check_instance,
    check_lifetime,
    check_name,
    check_quarantine,
    check_submission,
    default_name,
    listed,
)
from ._table import JobTable
from ._validation import (
    MAX_BUFFER_SIZE,
    MAX_HISTORY_SIZE,
    MAX_RETENTION,
    MAX_WORKERS,
    check_int,
    check_jitter,
    check_optional_seconds,
    check_seconds,
)
from ._wallclock import DatabaseClock, SystemWallClock, WallClock

__all__ = ["Scheduler", "open_scheduler"]

E = TypeVar("E", bound=Event)
Ts = TypeVarTuple("Ts")


#: The scheduler each queue instance serves, so that one queue is never shared by two.  It is
#: process-wide because two schedulers must consult the same record; both sides are weak, so a
#: queue is free again once its scheduler is gone, and it holds no scheduling state.
_QUEUE_OWNERS: weakref.WeakKeyDictionary[JobQueue, weakref.ref[Scheduler]] = (
    weakref.WeakKeyDictionary()
)


def _claim(queue: JobQueue, scheduler: Scheduler) -> None:
    """Record that *queue* serves *scheduler*; refuse a queue another scheduler uses."""
    try:
        owner = _QUEUE_OWNERS.get(queue)
    except TypeError:  # a queue class that cannot be weakly referenced: not tracked
        return
    if owner is not None and owner() not in (None, scheduler):
        raise InvalidArgument(
            "queue: this queue instance already serves another scheduler; "
            "pass a new HeapQueue() or IndexedHeapQueue() to each scheduler"
        )
    _QUEUE_OWNERS[queue] = weakref.ref(scheduler)


class Scheduler(Control):
    """A handle on a running scheduler: submit jobs, control them, and observe.

    Most code gets one from ``open_scheduler``.  To run a scheduler in a nursery you
    already own, build it directly and start it:

    ```python
    scheduler = tk.Scheduler(max_workers=4)
    await nursery.start(scheduler.run)
    ...
    await scheduler.shutdown_graceful()
    ```

    Mutating calls are ``async`` and return once the change is applied; queries
    (``get_job_details``, ``list_all_jobs``, ``get_metrics_snapshot``) never block,
    so they are plain methods, like ``statistics()`` in Trio.  The arguments are described in
    ``open_scheduler``.

    Example:
        ```python
        async with trio.open_nursery() as nursery:
            scheduler = tk.Scheduler(max_workers=4)
            await nursery.start(scheduler.run)
            await scheduler.add_job(tk.Interval(30), poll)
            ...
            await scheduler.shutdown_graceful(timeout=10)
        ```
    """

    def __init__(
        self,
        *,
        max_workers: int,
        queue: JobQueue | None = None,
        staging_buffer_size: int = 128,
        dispatch_buffer_size: int = 0,
        wall_clock: WallClock | None = None,
        history_size: int = 20,
        finished_job_retention: int = 1000,
        finished_job_max_age: float = 86400.0,
        misfire: MisfirePolicy | None = None,
        max_sleep: float = 60.0,
        clock_jump_threshold: float = 1.0,
        late_threshold: float = 1.0,
        stall_threshold: float = 10.0,
        store: JobStore | None = None,
        functions: Iterable[Callable[..., Awaitable[object]]] = (),
        otel: bool = False,
    ) -> None:
        self._max_workers = check_int("max_workers", max_workers, minimum=1, maximum=MAX_WORKERS)
        self._heartbeat = Heartbeat(check_seconds("stall_threshold", stall_threshold))
        check_int("staging_buffer_size", staging_buffer_size, minimum=1, maximum=MAX_BUFFER_SIZE)
        check_int("dispatch_buffer_size", dispatch_buffer_size, minimum=0, maximum=MAX_BUFFER_SIZE)
        check_int("history_size", history_size, minimum=0, maximum=MAX_HISTORY_SIZE)
        check_int(
            "finished_job_retention", finished_job_retention, minimum=0, maximum=MAX_RETENTION
        )
        if queue is None:
            queue = IndexedHeapQueue()
        check_instance("queue", queue, JobQueue, "IndexedHeapQueue()")
        _claim(queue, self)
        if wall_clock is None:
            wall_clock = SystemWallClock()
        if not isinstance(wall_clock, WallClock):
            raise TypeError(f"wall_clock must have a now() method, got {wall_clock!r}")
        if store is None:
            store = MemoryStore()
        check_instance("store", store, JobStore, "SQLiteStore(path) or MemoryStore()")
        if isinstance(store, PostgresStore):
            # The database's clock decides: the replica's clock, corrected by the offset
            # measured at every round trip, only sizes the sleeps.
            store.bind(wall_clock.now)
            wall_clock = DatabaseClock(wall_clock, store)
        if misfire is None:
            misfire = Coalesce()
        check_instance("misfire", misfire, MisfirePolicy, "Coalesce()")
        self._wall_clock = wall_clock
        self._default_misfire = misfire
        self._job_ids = itertools.count(1)
        self._signatures = Signatures()
        #: Argument types ``add_job`` has checked already (``check_submission``).
        self._checked_types: set[tuple[str, type]] = set()
        observer = Observer(
            wall_clock=wall_clock,
            metrics=Metrics(workers_max=self._max_workers),
            log=logging.getLogger("turnkeeper_trio"),
            jump_threshold=check_seconds("clock_jump_threshold", clock_jump_threshold),
            late_threshold=check_seconds("late_threshold", late_threshold, allow_zero=True),
        )
        self._coordinator = Coordinator(
            owner=self,
            queue=queue,
            observer=observer,
            dispatcher=Dispatcher(max_sleep=check_seconds("max_sleep", max_sleep)),
            staging=StagingBuffer(staging_buffer_size),
            table=JobTable(
                owner=self,
                retention=finished_job_retention,
                retention_age=check_seconds("finished_job_max_age", finished_job_max_age),
            ),
            planner=Planner(observer, history_size),
        )
        self._store = store
        self._durable = store.durable
        if not isinstance(otel, bool):
            raise TypeError(f"otel must be True or False, got {otel!r}")
        if otel:
            observer.telemetry = Telemetry(self.get_metrics_snapshot)
        registry = Functions(listed(functions, "functions", "async functions"))  # type: ignore[arg-type]
        if store.durable:
            journal = Journal(store, history_size, wall_clock.now, registry, log=observer.log)
            journal.on_failure = lambda: self._request_shutdown(force=True)
            journal.on_refused = self._coordinator.write_refused
            self._coordinator.journal = self._coordinator.planner.journal = journal
        if isinstance(store, PostgresStore):
            journal.on_written = self._coordinator.written
            journal.retry_for = store.lease_ttl
            self._coordinator.replica = Replica(
                store,
                self._coordinator,
                new_id=self._stored_id,
                signatures=self._signatures,
                max_sleep=max_sleep,
                log=observer.log,
            )
        super().__init__(self._max_workers, dispatch_buffer_size)

    def _new_id(self, key: str | None) -> JobId:
        """A new job number, with *key* (or a generated one, for a durable store)."""
        if key is None and self._durable:
            key = f"~{uuid.uuid4().hex}"
        return JobId(next(self._job_ids), scheduler=self, key=key)

    def _numbered(self, spec: JobSpec) -> JobSpec:
        """Give an accepted submission its id: a known key's, else the next number.

        Called only once nothing can refuse the submission any more (it fits in the
        buffer, the scheduler runs), so a refused call never uses up a number.
        """
        key = spec.id._key
        known = None if key is None else self._coordinator.keys.get(key)
        spec.id = known if known is not None else self._new_id(key)
        return spec

    def _numbering(self, specs: list[JobSpec | None]) -> Iterator[JobSpec | None]:
        """``_numbered`` for a batch, one at a time, as the coordinator takes each in."""
        for spec in specs:
            yield None if spec is None else self._numbered(spec)

    def __repr__(self) -> str:
        state = "closed" if self._done.is_set() else "closing" if self.closing else "open"
        return (
            f"<Scheduler {state} workers={self._max_workers} "
            f"jobs={len(self._coordinator.table)} queue={self._coordinator.queue!r}>"
        )

    @property
    def store(self) -> JobStore:
        """The store the scheduler keeps its jobs in (a ``MemoryStore`` unless one was given).

        Example:
            ```python
            if isinstance(scheduler.store, tk.PostgresStore):
                replicas = await scheduler.store.replicas()
            ```
        """
        return self._store

    @property
    def wall_clock(self) -> WallClock:
        """The wall clock the scheduler decides by (with ``PostgresStore``, the database's).

        Example:
            ```python
            now = scheduler.wall_clock.now()      # aware, as every instant the scheduler gives
            ```
        """
        return self._wall_clock

    # ------------------------------------------------------------------ submitting

    def _spec(
        self,
        schedule: Schedule,
        async_fn: Callable[..., Awaitable[object]],
        args: tuple[Any, ...],
        name: str | None,
        retry: RetryPolicy | None,
        timeout: float | timedelta | None,
        lifetime: Lifetime | None,
        misfire: MisfirePolicy | None,
        quarantine_after: int | None,
        key: str | None,
        on_crash: str,
        jitter: float | timedelta | None = None,
    ) -> JobSpec:
        lifetime, misfire = check_submission(
            schedule,
            async_fn,
            retry,
            lifetime,
            self._default_misfire if misfire is None else misfire,
            self._checked_types,
        )
        if self.closing:
            raise SchedulerClosed("the scheduler is shutting down; it accepts no new jobs")
        self._signatures.check(async_fn, args)
        now = self._wall_clock.now()
        check_lifetime(lifetime, now)
        if key is not None:
            key = check_key(key)
        if on_crash != "rerun":
            on_crash = check_on_crash(on_crash)
        name = default_name(async_fn) if name is None else check_name(name)
        seconds = None if timeout is None else check_optional_seconds("timeout", timeout)
        if quarantine_after is not None:
            quarantine_after = check_quarantine(quarantine_after)
        spread = 0.0 if jitter is None else check_jitter(jitter)
        link = None if self._coordinator.observer.telemetry is None else current_link()
        definition = None
        if self._durable:
            definition = definition_of(
                self._store.codecs,
                self._coordinator.functions(),
                name=name,
                fn=async_fn,
                args=args,
                schedule=schedule,
                retry=retry,
                timeout=seconds,
                lifetime=lifetime,
                misfire=misfire,
                quarantine_after=quarantine_after,
                on_crash=on_crash,
                added_at=now,
                jitter=spread,
            )
        return JobSpec(
            id=JobId(0, scheduler=self, key=key),  # numbered once accepted (``_numbered``)
            name=name,
            schedule=schedule,
            fn=async_fn,
            args=args,
            retry=retry,
            timeout=seconds,
            lifetime=lifetime,
            misfire=misfire,
            quarantine_after=quarantine_after,
            submitted_at=now,
            on_crash=on_crash,
            definition=definition,
            jitter=spread,
            link=link,
        )

    def _request_spec(self, item: JobRequest) -> JobSpec:
        """*item* checked exactly as ``add_job`` checks its arguments."""
        return self._spec(
            item.schedule,
            item.async_fn,
            item.args,
            item.name,
            item.retry,
            item.timeout,
            item.lifetime,
            item.misfire,
            item.quarantine_after,
            item.key,
            item.on_crash,
            item.jitter,
        )

    async def add_job(
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
    ) -> JobId:
        r"""Submit a job, waiting for room in the staging buffer; return its id.

        Args:
            schedule: when it runs: ``WeekdayTimes``, ``Cron``, ``Interval``, ``Once``,
                ``Never`` or your own ``abc.Schedule``.
            async_fn: an async function; its return value ``False`` means failure, anything
                else success, and raising an ``Exception`` means error.
            *args: positional arguments for *async_fn* (use ``functools.partial`` for
                keyword arguments).
            name: for logs and queries: 1 to 200 characters, not only whitespace, without
                NUL (``\x00``) or lone surrogates (``\ud800``-``\udfff``), which no
                database can store (one rule for every store).  ``None`` (default): the
                function's qualified name (``"poll"``, ``"Feeds.refresh"``), cut to 200.
            retry: ``ExponentialBackoff``, ``FixedDelay`` or ``None`` (no retries).
            timeout: seconds (or ``timedelta``) per attempt; ``None`` means no limit.
            lifetime: ``Forever()`` (default), ``MaxRuns(n)`` or ``Until(when)``.
            misfire: what to do with late runs; defaults to the scheduler's (``Coalesce()``).
            quarantine_after: pause the job after this many failed occurrences in a row
                (an occurrence fails when its last attempt fails, errors or times out);
                ``resume_job`` lifts the quarantine.  ``None`` (default): never.
            key: the job's stable identity in its store (1-200 printable characters, not
                starting with ``~``).  Adding a key the scheduler knows *attaches* to that
                job and returns its id: its state, counts and history are kept, and a
                changed definition replaces the stored one (see "Durable jobs").
                Without a key, a unique one is generated.
            on_crash: what a restart does with an attempt of this job that a crash cut
                off (durable stores): ``"rerun"`` (default: run it again, at least once)
                or ``"skip"`` (at most once: the attempt is written as started before
                the job's code runs, and never started again).
            jitter: seconds (or ``timedelta``) to spread the job's starts over: each
                occurrence starts at its instant plus an offset in ``[0, jitter)``, never
                at or past the next occurrence.  The offset is a function of the job's key
                and the occurrence, so replicas, restarts and previews agree;
                ``scheduled_for`` and ``occurrence_id`` stay the occurrence's instant,
                ``next_run_at`` shows the jittered start, and lateness (and so the misfire
                grace) counts from it.  Retries and triggers are not jittered.

        Example:
            ```python
            job = await s.add_job(tk.Cron("*/5 * * * *"), refresh, "eu-west",
                                  retry=tk.FixedDelay(3, 10), timeout=60)
            ```

        Raises:
            TypeError: an argument has the wrong type (a sync function, say).
            InvalidArgument: an argument is out of range.
            SchedulerClosed: the scheduler is shutting down.
            StoreError: a durable store could not write the job (the scheduler stops).

        With a durable store, ``add_job`` returns once the job is written.
        """
        spec = self._spec(
            schedule,
            async_fn,
            args,
            name,
            retry,
            timeout,
            lifetime,
            misfire,
            quarantine_after,
            key,
            on_crash,
            jitter,
        )
        if not self._started:
            # Nothing would ever make room in the buffer: refuse rather than hang.
            raise SchedulerNotRunning(
                "add_job: the scheduler has not been started, so nothing would take the job "
                "in; use 'async with open_scheduler(...)' or 'await nursery.start(scheduler.run)' "
                "first (try_add_job may fill the buffer before the start)"
            )
        coordinator = self._coordinator
        await trio.lowlevel.checkpoint_if_cancelled()
        await coordinator.staging.wait_for_room()
        if self.closing:
            raise SchedulerClosed("the scheduler is shutting down; it accepts no new jobs")
        job_id = coordinator.stage(self._numbered(spec))
        await self._accepted((job_id,))
        return job_id

    async def _accepted(self, ids: tuple[JobId | None, ...]) -> None:
        """The jobs *ids* were accepted: yield once, or (durable) return once written.

        From here on the call must not raise ``Cancelled``, or the caller would think the
        jobs were refused.
        """
        coordinator = self._coordinator
        journal = coordinator.journal
        if journal is None:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        coordinator.ingest_staged_now()
        await journal.wait_saved()  # durable before it returns
        replica = coordinator.replica
        if replica is not None:
            for job_id in ids:
                if job_id is not None:
                    await replica.settled(job_id.key)

    async def add_jobs(self, jobs: Iterable[JobRequest]) -> BatchResult:
        """Submit many jobs in one call: one Trio checkpoint for the whole batch.

        Each request is checked as ``add_job`` checks its arguments, and accepted or
        refused on its own (a refused one is reported with the error ``add_job`` would have
        raised; the others are added).  The batch waits for room in the staging buffer as
        ``add_job`` does, then is taken in at once, after the submissions already staged,
        so the jobs are planned when the call returns.  With a durable store it returns
        once they are all written.

        Args:
            jobs: ``JobRequest``s (any iterable; it is read once, before anything is added).

        Returns:
            A ``BatchResult``: the id of each request in order (``None`` where refused) and
            the refusals.

        Raises:
            TypeError: *jobs* is not an iterable.
            SchedulerClosed: the scheduler is shutting down (nothing was added).
            SchedulerNotRunning: the scheduler has not been started (nothing was added).
            StoreError: a durable store could not write the jobs (the scheduler stops).

        Example:
            ```python
            result = await s.add_jobs(tk.JobRequest(tk.Once(at), remind, user) for user, at in due)
            result.raise_for_refused()
            ```
        """
        items = listed(jobs, "jobs", "JobRequest")
        specs: list[JobSpec | None] = []
        refused: list[Refusal] = []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, JobRequest):
                    raise TypeError(f"jobs[{index}] must be a JobRequest, got {item!r}")
                specs.append(self._request_spec(item))
            except (TypeError, ValueError) as exc:  # what add_job raises for bad arguments
                specs.append(None)
                refused.append(Refusal(index, exc))
        if not self._started:
            raise SchedulerNotRunning(
                "add_jobs: the scheduler has not been started, so nothing would take the jobs "
                "in; use 'async with open_scheduler(...)' or 'await nursery.start(scheduler.run)' "
                "first"
            )
        coordinator = self._coordinator
        await trio.lowlevel.checkpoint_if_cancelled()
        await coordinator.staging.wait_for_room()
        if self.closing:
            raise SchedulerClosed("the scheduler is shutting down; it accepts no new jobs")
        ids = coordinator.take_in(self._numbering(specs))
        await self._accepted(ids)
        return BatchResult(ids, tuple(refused))

    def try_add_job(
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
    ) -> JobId:
        """Like ``add_job``, but never waits: raise ``StagingFull`` if the buffer is full.

        With a durable store it returns before the job is written (it cannot wait); use
        ``add_job`` where the job must be durable when the call returns.

        Raises:
            StagingFull: the staging buffer is full (counted in ``staging_rejected``).

        Example:
            ```python
            try:
                job = s.try_add_job(tk.Once(when), send, order_id)
            except tk.StagingFull:
                return 503   # tell the client to come back later
            ```
        """
        spec = self._spec(
            schedule,
            async_fn,
            args,
            name,
            retry,
            timeout,
            lifetime,
            misfire,
            quarantine_after,
            key,
            on_crash,
            jitter,
        )
        coordinator = self._coordinator
        if coordinator.staging.full:
            coordinator.rejected()
            raise StagingFull(
                "the staging buffer is full; retry later, use add_job() to wait for room, "
                "or raise staging_buffer_size"
            )
        return coordinator.stage(self._numbered(spec))


@asynccontextmanager
async def open_scheduler(
    *,
    max_workers: int,
    queue: JobQueue | None = None,
    staging_buffer_size: int = 128,
    dispatch_buffer_size: int = 0,
    wall_clock: WallClock | None = None,
    history_size: int = 20,
    finished_job_retention: int = 1000,
    finished_job_max_age: float = 86400.0,
    misfire: MisfirePolicy | None = None,
    max_sleep: float = 60.0,
    clock_jump_threshold: float = 1.0,
    late_threshold: float = 1.0,
    stall_threshold: float = 10.0,
    shutdown_timeout: float | timedelta | None = None,
    store: JobStore | None = None,
    functions: Iterable[Callable[..., Awaitable[object]]] = (),
    otel: bool = False,
) -> AsyncIterator[Scheduler]:
    """Run a scheduler for the duration of an ``async with`` block.

    The block is the scheduler's lifetime: leaving it normally is a graceful shutdown
    (running jobs finish, within *shutdown_timeout* if given); leaving it by an exception
    or cancellation is a forced shutdown, and your exception comes out as itself.

    Args:
        max_workers: how many attempts may run at once (1 to 10,000: each worker is a
            Trio task, made when the scheduler starts).
        queue: the queue strategy, ``IndexedHeapQueue()`` (default) or ``HeapQueue()``;
            an instance serves one scheduler.
        staging_buffer_size: submissions that may wait for the coordinator (1 to
            1,000,000).
        dispatch_buffer_size: runs that may wait for a free worker (0 to 1,000,000; 0 hands
            each run straight to an idle worker).
        wall_clock: where schedules read "now"; ``SystemWallClock()`` by default,
            ``testing.MockWallClock`` in tests.
        history_size: attempts remembered per job in ``JobDetails.last_runs`` (0 to
            1,000,000).
        finished_job_retention: finished (completed, cancelled, failed) jobs kept queryable
            before the oldest are dropped (0 to 10,000,000).
        finished_job_max_age: seconds a finished job stays queryable (one day by default).
        misfire: the default misfire policy for jobs (``Coalesce()``).
        max_sleep: the longest the coordinator sleeps without re-reading the wall clock.
        clock_jump_threshold: seconds of disagreement between the wall clock and Trio's clock
            that count as a clock jump.
        late_threshold: a run starting more than this many seconds after it was due counts
            in ``runs_late`` and triggers a (rate-limited) overload warning.
        stall_threshold: seconds the event loop may be blocked before ``health()`` says
            the scheduler is not live (see "Operations").
        shutdown_timeout: for the graceful shutdown at the end of the block.
        store: where jobs live: ``MemoryStore()`` (default: nothing survives the process)
            or ``SQLiteStore(path)`` (jobs survive restarts and crashes; see "Durable
            jobs").  A store that cannot be opened raises ``StoreError`` here, before the
            block's body runs.
        functions: async functions that stored jobs may run although this life of the
            process has not passed them to ``add_job``: those of jobs added at run time by
            another replica or by an earlier life (a durable store only; every function given
            to ``add_job``, ``add_jobs`` or ``update_job`` is registered by that call).  A
            stored job naming any other function is shown but never run: a database row
            never chooses the code that runs, and no module is imported because a row names
            it.  ``TypeError`` names an entry that is not a storable async function.
        otel: trace every attempt and report the metrics through OpenTelemetry (the
            ``otel`` extra, ``opentelemetry-api``); nothing is exported until the
            application configures an OpenTelemetry SDK.  Off by default, and then free.
            See "Observability".

    Example:
        ```python
        async with tk.open_scheduler(max_workers=4) as s:
            await s.add_job(tk.Cron("0 9 * * MON-FRI", tz=paris), send_report, "ops@example.com")
            await trio.sleep_forever()
        ```

    Raises:
        TypeError: an argument has the wrong type.
        InvalidArgument: an argument is out of its range (the message names it and the
            range), raised by ``Scheduler(...)``, or on entering ``open_scheduler(...)``,
            before anything starts.
        StoreError: the store cannot be opened (before the block's body runs).
    """
    scheduler = Scheduler(
        max_workers=max_workers,
        queue=queue,
        staging_buffer_size=staging_buffer_size,
        dispatch_buffer_size=dispatch_buffer_size,
        wall_clock=wall_clock,
        history_size=history_size,
        finished_job_retention=finished_job_retention,
        finished_job_max_age=finished_job_max_age,
        misfire=misfire,
        max_sleep=max_sleep,
        clock_jump_threshold=clock_jump_threshold,
        late_threshold=late_threshold,
        stall_threshold=stall_threshold,
        store=store,
        functions=functions,
        otel=otel,
    )
    grace = check_optional_seconds("shutdown_timeout", shutdown_timeout, allow_zero=True)
    with collapse_single_group():
        async with trio.open_nursery() as nursery:
            await nursery.start(scheduler.run)
            try:
                yield scheduler
            except BaseException:
                scheduler._request_shutdown(force=True)
                raise
            await scheduler.shutdown_graceful(grace)
