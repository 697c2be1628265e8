"""The running side of a scheduler: its task tree, and how it shuts down.

``Scheduler`` inherits this: its public methods submit and control jobs, this part runs the
coordinator's tasks and the workers in one nursery (``run``, for ``nursery.start``) and stops
them (``shutdown_graceful``, ``shutdown_force``, ``wait_stopped``).  Graceful-then-forced is
one deadline on the workers' cancel scope, as in hypercorn's trio backend.
"""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from typing import TYPE_CHECKING

import trio

from ._coordinator import Coordinator
from ._groups import collapse_single_group
from ._health import Heartbeat
from ._job import Run
from ._models import JobId
from ._store import JobStore
from ._validation import check_optional_seconds
from ._wallclock import WallClock
from ._worker import Worker, running_in

if TYPE_CHECKING:
    from ._scheduler import Scheduler

__all__ = ["Runtime"]


class Runtime:
    """The task tree and shutdown of a scheduler (the base of ``Scheduler``; internal)."""

    _coordinator: Coordinator
    _wall_clock: WallClock
    _store: JobStore
    _job_ids: itertools.count[int]
    _heartbeat: Heartbeat

    def _stored_id(self, key: str) -> JobId:
        """A job number for a job a store brought back, which keeps its stored key."""
        return JobId(next(self._job_ids), scheduler=self, key=key)

    def __init__(self, max_workers: int, dispatch_buffer_size: int) -> None:
        self._max_workers = max_workers
        self._dispatch_send, self._dispatch_receive = trio.open_memory_channel[Run](
            dispatch_buffer_size
        )
        self._started = False
        self._force = False
        self._grace_deadline = math.inf
        self._workers_scope: trio.CancelScope | None = None
        self._shutdown_requested = trio.Event()
        self._done = trio.Event()

    @property
    def closing(self) -> bool:
        """Whether shutdown has begun (mutating calls then raise ``SchedulerClosed``).

        Example:
            ```python
            if not s.closing:
                await s.add_job(tk.Once(when), send)
            ```
        """
        return self._coordinator.closing

    @property
    def stopped(self) -> bool:
        """Whether the scheduler has stopped (``run`` has returned or is about to).

        Example:
            ```python
            state = "stopped" if s.stopped else "closing" if s.closing else "running"
            ```
        """
        return self._done.is_set()

    # ------------------------------------------------------------------ lifetime

    async def run(
        self, *, task_status: trio.TaskStatus[Scheduler] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the coordinator and the workers until shutdown; for ``nursery.start``.

        Returns once a shutdown (graceful or forced) has finished.  Cancelling the task that
        runs it is a forced shutdown.

        Raises:
            RuntimeError: the scheduler was already started.

        Example:
            ```python
            scheduler = tk.Scheduler(max_workers=4)
            await nursery.start(scheduler.run)
            ```
        """
        if self._started:
            raise RuntimeError("this Scheduler has already been started; make a new one")
        self._started = True
        coordinator = self._coordinator
        store, journal, replica = self._store, coordinator.journal, coordinator.replica
        opened = False
        try:
            if journal is not None:
                # Before anything runs: a store that cannot be opened fails the start.
                loaded = await store.open(coordinator.planner.history_size)
                opened = True
                if replica is None:
                    coordinator.load(loaded, self._stored_id, store.codecs)
                else:
                    coordinator.load_remote(loaded, self._stored_id)
                    await replica.start()
            with collapse_single_group():
                async with trio.open_nursery() as system:
                    if journal is not None:
                        system.start_soon(journal.run, name="turnkeeper-store-writer")
                    if replica is not None:
                        system.start_soon(replica.leases, name="turnkeeper-leases")
                        system.start_soon(replica.listen, name="turnkeeper-listen")
                        system.start_soon(replica.refresh, name="turnkeeper-refresh")
                    system.start_soon(coordinator.intake_loop, name="turnkeeper-intake")
                    system.start_soon(self._heartbeat.run, name="turnkeeper-heartbeat")
                    workers_done = trio.Event()
                    await system.start(self._run_workers, workers_done)
                    dispatcher = trio.CancelScope()
                    dispatcher_done = trio.Event()
                    system.start_soon(
                        self._dispatch, dispatcher, dispatcher_done, name="turnkeeper-dispatcher"
                    )
                    task_status.started(self)  # type: ignore[arg-type]  # a Scheduler
                    await self._shutdown_requested.wait()
                    # Stop dispatching; workers finish what they run, then leave.
                    dispatcher.cancel()
                    await dispatcher_done.wait()
                    self._dispatch_send.close()
                    await workers_done.wait()
                    system.cancel_scope.cancel()
            if journal is not None:
                journal.raise_unreported()  # a write failed: that is why it stopped
        finally:
            coordinator.begin_shutdown(force=True)  # a no-op if it began already
            coordinator.finish_shutdown()
            try:
                if journal is not None and opened:
                    # What the last transitions changed is written before the store closes.
                    with trio.CancelScope(shield=True):
                        try:
                            await journal.flush()
                            if replica is not None:
                                await replica.stop()
                        finally:
                            await store.close()
            finally:
                self._done.set()

    async def _dispatch(self, scope: trio.CancelScope, done: trio.Event) -> None:
        try:
            with scope:
                await self._coordinator.dispatcher.run(self._coordinator, self._dispatch_send)
        finally:
            done.set()

    async def _run_workers(
        self, done: trio.Event, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        worker = Worker(
            self._coordinator, self._wall_clock, self, self._coordinator.observer.telemetry
        )
        try:
            with collapse_single_group():
                async with trio.open_nursery() as nursery:
                    self._workers_scope = nursery.cancel_scope
                    self._apply_shutdown_deadline()
                    with self._dispatch_receive:
                        for index in range(self._max_workers):
                            nursery.start_soon(
                                worker.serve,
                                self._dispatch_receive.clone(),
                                name=f"turnkeeper-worker-{index}",
                            )
                    task_status.started()
        finally:
            done.set()

    def _apply_shutdown_deadline(self) -> None:
        scope = self._workers_scope
        if scope is None:
            return
        if self._force:
            scope.cancel()
        else:
            scope.deadline = min(scope.deadline, self._grace_deadline)

    def _request_shutdown(self, *, force: bool, timeout: float | None = None) -> None:
        coordinator = self._coordinator
        coordinator.begin_shutdown(force=force)
        if force:
            self._force = True
        elif timeout is not None:
            self._grace_deadline = min(self._grace_deadline, trio.current_time() + timeout)
        self._apply_shutdown_deadline()
        self._shutdown_requested.set()
        if not self._started:
            self._started = True  # a scheduler that never ran has nothing to drain
            coordinator.finish_shutdown()
            self._done.set()

    async def _wait_stopped(self) -> None:
        if running_in.get(None) is self:
            # Called from one of our own jobs: it cannot wait for itself to finish.
            await trio.lowlevel.checkpoint()
            return
        await self._done.wait()

    async def wait_stopped(self) -> None:
        """Wait until the scheduler has shut down, whoever asked for it.

        Use it as the body of a service that a job, a signal handler or another task may stop:

        ```python
        async with tk.open_scheduler(max_workers=4) as s:
            await s.add_job(...)
            await s.wait_stopped()
        ```

        Called from inside one of this scheduler's own jobs, it returns once a shutdown has
        *begun*: the job is part of what a graceful shutdown waits for, so waiting for the end
        would never return.

        Example:
            ```python
            async with tk.open_scheduler(max_workers=4) as s:
                await s.add_job(tk.Cron("*/5 * * * *"), poll)
                await s.wait_stopped()   # until a job, a signal handler, ... shuts it down
            ```
        """
        if running_in.get(None) is self:
            await self._shutdown_requested.wait()
            return
        await self._done.wait()

    async def shutdown_graceful(self, timeout: float | timedelta | None = None) -> None:
        """Stop accepting and dispatching, let running jobs finish, then return.

        Args:
            timeout: seconds (or ``timedelta``) to wait for running jobs; what is still
                running then is cancelled (and recorded as cancelled). ``None``: wait.

        Idempotent; a later call may shorten the timeout.  Called from inside one of this
        scheduler's jobs, it starts the shutdown and returns at once.

        Example:
            ```python
            await s.shutdown_graceful(timeout=30)   # running jobs get 30 s to finish
            ```
        """
        seconds = check_optional_seconds("timeout", timeout, allow_zero=True)
        self._request_shutdown(force=False, timeout=seconds)
        await self._wait_stopped()

    async def shutdown_force(self, timeout: float | timedelta | None = None) -> None:
        """Cancel running jobs now and wait for them to unwind.

        Args:
            timeout: the most seconds to wait for jobs to unwind; ``None``: wait.

        Idempotent; it also cuts short a graceful shutdown in progress.

        Example:
            ```python
            await s.shutdown_force(timeout=5)   # cancel running jobs; wait 5 s at most
            ```
        """
        seconds = check_optional_seconds("timeout", timeout, allow_zero=True)
        self._request_shutdown(force=True)
        with trio.move_on_after(math.inf if seconds is None else seconds):
            await self._wait_stopped()
