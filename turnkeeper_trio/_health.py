"""``Scheduler.health``: is the scheduler alive (its event loop makes progress) and ready?

Liveness is measured by a heartbeat: a task in the scheduler's own nursery that wakes every
``stall_threshold / 2`` seconds of Trio's clock and records when it did.  A probe is served
by the same event loop, so it never runs *during* a stall; it runs after one, and sees it in
either of two ways, whichever task the loop runs first once it is free again:

* the probe runs first: the last heartbeat is older than ``stall_threshold``;
* the heartbeat runs first: it finds the gap since its previous beat longer than
  ``stall_threshold`` and records it; the scheduler then reports not live for
  ``stall_threshold`` seconds after the stall ended, so the probes that follow see it.

The heartbeat starts with the first ``health()`` call: a scheduler nobody probes has no
extra wake-ups (and tests on an autojump clock keep their exact timing).

Readiness: started and not shutting down, no failed store write, and with ``PostgresStore``
the leases renewed (the replica's lease deadline, on Trio's clock, has not passed: renewals
failed for about ``lease_ttl`` seconds otherwise).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import attrs
import trio

if TYPE_CHECKING:
    from ._scheduler import Scheduler

__all__ = ["Health", "Heartbeat", "health_of"]


@attrs.frozen
class Health:
    """The scheduler's health, as ``Scheduler.health()`` found it.

    Attributes:
        live: the scheduler is running and its event loop makes progress (no stall longer
            than ``stall_threshold`` seconds, now or in the last ``stall_threshold``
            seconds).  A process whose scheduler is not live should be restarted.
        ready: it is live, started, not shutting down, and its store works (no failed
            write; with ``PostgresStore``, the leases are renewed).  A replica that is not
            ready should get no traffic.
        reasons: why not, one sentence each (empty when live and ready).  For logs and
            people: the ``/healthz`` and ``/readyz`` endpoints never show them.

    Example:
        ```python
        health = scheduler.health()
        if not health.ready:
            log.warning("not ready: %s", "; ".join(health.reasons))
        ```
    """

    live: bool
    ready: bool
    reasons: tuple[str, ...] = ()


@attrs.define(eq=False)
class Heartbeat:
    """The liveness heartbeat of one scheduler (internal; see the module's docstring)."""

    #: Seconds without a heartbeat that count as a stalled event loop.
    threshold: float
    #: Trio time of the latest beat (``None`` until the heartbeat is armed).
    last: float | None = None
    #: The latest stall the heartbeat itself saw: (its length, when it ended).
    stall: tuple[float, float] | None = None
    _armed: trio.Event = attrs.field(factory=trio.Event)

    def arm(self) -> None:
        """Start beating (from the first ``health()`` call on)."""
        if not self._armed.is_set():
            self.last = trio.current_time()
            self._armed.set()

    async def run(self) -> None:
        """The heartbeat task: one beat every ``threshold / 2`` seconds once armed."""
        await self._armed.wait()
        period = self.threshold / 2
        while True:
            last = self.last
            assert last is not None
            await trio.sleep_until(last + period)
            now = trio.current_time()
            if now - last > self.threshold:
                self.stall = (now - last, now)
            self.last = now

    def problem(self, now: float) -> str | None:
        """Why the loop is not live at Trio time *now*, or ``None``."""
        if self.last is None:
            return None
        gap = now - self.last
        if gap > self.threshold:
            return (
                f"the event loop was blocked: no heartbeat for {gap:.1f} s "
                f"(stall_threshold {self.threshold:g} s)"
            )
        if self.stall is not None and now - self.stall[1] <= self.threshold:
            length, ended = self.stall
            return (
                f"the event loop was blocked for {length:.1f} s, {now - ended:.1f} s ago "
                f"(stall_threshold {self.threshold:g} s)"
            )
        return None


def health_of(scheduler: Scheduler, now: float | None = None) -> Health:
    """``Scheduler.health`` (see there); *now* is Trio time (by default, the current)."""
    coordinator = scheduler._coordinator
    if not scheduler._started:
        return Health(False, False, ("the scheduler has not been started",))
    if scheduler.stopped:
        return Health(False, False, ("the scheduler has stopped",))
    heartbeat = scheduler._heartbeat
    heartbeat.arm()
    if now is None:
        now = trio.current_time()
    reasons: list[str] = []
    stalled = heartbeat.problem(now)
    if stalled is not None:
        reasons.append(stalled)
    if scheduler.closing:
        reasons.append("the scheduler is shutting down")
    journal = coordinator.journal
    if journal is not None and journal._failure is not None:
        reasons.append(f"{scheduler.store.describe()}: a write failed")
    replica = coordinator.replica
    if replica is not None and now >= replica.lease_deadline:
        lapsed = now - replica.lease_deadline
        since = "" if math.isinf(lapsed) else f" (for {lapsed:.1f} s)"
        reasons.append(
            f"{scheduler.store.describe()}: the leases are not renewed{since}: the database "
            "cannot be reached"
        )
    return Health(live=stalled is None, ready=not reasons, reasons=tuple(reasons))
