"""The dispatcher: sleeping until the next run is due, waking early, handing runs over.

It sleeps in a cancel scope whose deadline is the next due instant (converted from the wall
clock to Trio's clock by the coordinator, capped at ``max_sleep``), or parks without one when
nothing is planned.  Any change that makes an earlier run due moves that deadline or unparks it.  It
never polls.  What is due, and what happens to a run that could not be handed over, is the
coordinator's decision (``Planner``); the dispatcher only does the waiting and the sending.
"""

from __future__ import annotations

import math
from typing import Protocol

import attrs
import trio

from ._job import Run

__all__ = ["Dispatcher", "Planner"]


class Planner(Protocol):
    """What the dispatcher asks of the coordinator."""

    def next_dispatch(self, fresh: bool) -> tuple[Run | None, float]:
        """A run to hand over now, or the Trio deadline to sleep until.

        *fresh*: read the clocks again; ``False`` while the dispatcher is handing over a
        batch without yielding, when the readings of the batch's first call still hold.
        """
        ...

    def undelivered(self, run: Run) -> None:
        """*run* was never handed to a worker (shutdown): keep its occurrence planned."""
        ...


@attrs.define(eq=False)
class Dispatcher:
    """Waits for the next due run and hands it to a worker (internal)."""

    max_sleep: float
    #: While it sleeps, the Trio deadline it sleeps until (``inf``: until woken); ``None``
    #: while it is awake.
    _sleep_until: float | None = None
    #: The cancel scope of a sleep with a deadline (a sleep until woken needs none).
    _sleep_scope: trio.CancelScope | None = None
    _wakeup: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)

    @property
    def sleeping(self) -> bool:
        """Whether it sleeps (so a newly due run must wake it); busy, it looks by itself."""
        return self._sleep_until is not None

    def wake_at(self, deadline: float) -> None:
        """Make the dispatcher wake by *deadline* (Trio time) at the latest."""
        until = self._sleep_until
        if until is None or deadline >= until:
            return
        scope = self._sleep_scope
        if scope is None or deadline <= trio.current_time():
            # Due now, or it sleeps without a deadline: unpark it, which is cheaper than a
            # deadline (no Cancelled to raise); it looks again at what is due.
            self._sleep_until = None
            self._wakeup.unpark_all()
        else:
            scope.deadline = self._sleep_until = deadline

    def wake_in(self, seconds: float) -> None:
        """Make the dispatcher wake in *seconds* (never later than ``max_sleep``)."""
        self.wake_at(trio.current_time() + min(seconds, self.max_sleep))

    async def _sleep(self, deadline: float) -> None:
        self._sleep_until = deadline
        try:
            if deadline == math.inf:  # nothing planned: park until woken, no cancel scope
                await self._wakeup.park()
            else:
                with trio.CancelScope(deadline=deadline) as self._sleep_scope:
                    await self._wakeup.park()
        finally:
            self._sleep_until = self._sleep_scope = None

    async def run(self, planner: Planner, send: trio.MemorySendChannel[Run]) -> None:
        """Hand due runs to workers, one at a time, sleeping on deadlines in between."""
        fresh = True
        while True:
            run, deadline = planner.next_dispatch(fresh)
            fresh = True
            if run is None:
                await self._sleep(deadline)
                continue
            try:
                # Fast path: a worker is already waiting (or the buffer has room).  No
                # checkpoint, so the batch's clock readings still hold for the next one.
                # This loop still checkpoints once every worker is busy, in the send below.
                send.send_nowait(run)
                fresh = False
                continue
            except trio.WouldBlock:
                pass
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                # Shutting down (the channel closed, or every worker has left): the run
                # stays planned.
                planner.undelivered(run)
                return
            delivered = False
            try:
                with trio.CancelScope() as scope:
                    run.send_scope = scope
                    await send.send(run)
                    delivered = True
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return  # shutting down; the finally clause keeps the run planned
            finally:
                run.send_scope = None
                if not delivered:
                    # The dispatcher is stopping, or the run was abandoned meanwhile: no
                    # worker took it (the planner ignores a run its job has let go of).
                    planner.undelivered(run)
