"""The dispatcher: sleeping until the next run is due, waking early, handing runs over.

It sleeps in a cancel scope whose deadline is the next due instant (converted from the wall
clock to Trio's clock by the coordinator, capped at ``max_sleep``), or parks when a run is
due now.  Any change that makes an earlier run due moves that deadline or unparks it.  It
never polls.  What is due, and what happens to a run that could not be handed over, is the
coordinator's decision (``Planner``); the dispatcher only does the waiting and the sending.
"""

from __future__ import annotations

from typing import Protocol

import attrs
import trio

from ._job import Run

__all__ = ["Dispatcher", "Planner"]


class Planner(Protocol):
    """What the dispatcher asks of the coordinator."""

    def next_dispatch(self) -> tuple[Run | None, float]:
        """A run to hand over now, or the Trio deadline to sleep until."""
        ...

    def undelivered(self, run: Run) -> None:
        """*run* was never handed to a worker (shutdown): keep its occurrence planned."""
        ...


@attrs.define(eq=False)
class Dispatcher:
    """Waits for the next due run and hands it to a worker (internal)."""

    max_sleep: float
    #: The sleep: a deadline for the next due time, a parking lot for "now".
    _sleep_scope: trio.CancelScope | None = None
    _wakeup: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)

    def wake_at(self, deadline: float) -> None:
        """Make the dispatcher wake by *deadline* (Trio time) at the latest."""
        scope = self._sleep_scope
        if scope is None or deadline >= scope.deadline:
            return
        if deadline <= trio.current_time():
            # Due now: unpark it, which is cheaper than a deadline (no Cancelled to raise).
            self._sleep_scope = None
            self._wakeup.unpark_all()
        else:
            scope.deadline = deadline

    def wake_in(self, seconds: float) -> None:
        """Make the dispatcher wake in *seconds* (never later than ``max_sleep``)."""
        self.wake_at(trio.current_time() + min(seconds, self.max_sleep))

    async def run(self, planner: Planner, send: trio.MemorySendChannel[Run]) -> None:
        """Hand due runs to workers, one at a time, sleeping on deadlines in between."""
        while True:
            run, deadline = planner.next_dispatch()
            if run is None:
                with trio.CancelScope(deadline=deadline) as self._sleep_scope:
                    await self._wakeup.park()
                self._sleep_scope = None
                continue
            try:
                # Fast path: a worker is already waiting (or the buffer has room). This loop
                # still checkpoints once every worker is busy, in the blocking send below.
                send.send_nowait(run)
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
