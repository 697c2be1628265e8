"""Typed events and subscriptions: watch what the scheduler does, without slowing it down.

Every subscriber gets its own bounded buffer.  The coordinator never waits for a subscriber:
an event that does not fit is dropped and counted (``Subscription.dropped`` and the
``events_dropped`` metric).  With no subscriber, no event object is even built.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Generic, TypeVar

import attrs
import trio

from ._models import ErrorInfo, JobId, Outcome
from ._validation import check_int

__all__ = [
    "ClockJumped",
    "Event",
    "EventHub",
    "JobAdded",
    "JobCancelled",
    "JobCompleted",
    "JobEvent",
    "JobFailed",
    "JobPaused",
    "JobResumed",
    "JobUpdated",
    "Misfired",
    "RetryScheduled",
    "RunFinished",
    "RunStarted",
    "ShutdownStarted",
    "Subscription",
]


@attrs.frozen
class Event:
    """Base class of every event: ``at`` is the scheduler's wall-clock time of the event.

    Example:
        ```python
        with s.subscribe() as events:          # every event type
            async for event in events:
                print(type(event).__name__, event.at)
        ```
    """

    at: datetime


@attrs.frozen
class JobEvent(Event):
    """Base class of the events about one job: its ``job_id`` and its ``name``.

    Example:
        ```python
        with s.subscribe() as events:
            async for event in events:
                if isinstance(event, tk.JobEvent):
                    print(event.name, type(event).__name__)
        ```
    """

    job_id: JobId
    name: str


@attrs.frozen
class JobAdded(JobEvent):
    """A job was taken in by the coordinator.

    Example:
        ```python
        async for event in s.subscribe(tk.JobAdded):
            print(f"{event.name} added as {event.job_id}")
        ```
    """


@attrs.frozen
class JobUpdated(JobEvent):
    """``update_job`` changed the fields named in ``changed``.

    Example:
        ```python
        async for event in s.subscribe(tk.JobUpdated):
            print(f"{event.job_id} changed: {', '.join(event.changed)}")
        ```
    """

    changed: tuple[str, ...]


@attrs.frozen
class JobCancelled(JobEvent):
    """The job was cancelled.

    Example:
        ```python
        async for event in s.subscribe(tk.JobCancelled):
            forget(event.job_id)
        ```
    """


@attrs.frozen
class JobPaused(JobEvent):
    """The job was paused, by ``pause_job`` or by its quarantine (``quarantined``).

    Example:
        ```python
        async for event in s.subscribe(tk.JobPaused):
            if event.quarantined:
                alert(f"{event.job_id} keeps failing and was paused")
        ```
    """

    quarantined: bool = False


@attrs.frozen
class JobResumed(JobEvent):
    """The job was resumed.

    Example:
        ```python
        async for event in s.subscribe(tk.JobResumed):
            print(f"{event.job_id} resumed")
        ```
    """


@attrs.frozen
class JobCompleted(JobEvent):
    """The job's schedule or lifetime ended its lineage.

    Example:
        ```python
        async for event in s.subscribe(tk.JobCompleted):
            print(f"{event.job_id} has no more runs")
        ```
    """


@attrs.frozen
class JobFailed(JobEvent):
    """The job's own schedule or policy raised; it will not run again.

    Example:
        ```python
        async for event in s.subscribe(tk.JobFailed):
            alert(f"{event.job_id} stopped: {event.error.type}: {event.error.message}")
        ```
    """

    error: ErrorInfo


@attrs.frozen
class RunStarted(JobEvent):
    """An attempt started.

    Example:
        ```python
        async for event in s.subscribe(tk.RunStarted):
            print(f"{event.job_id} run {event.run_id} attempt {event.attempt}")
        ```
    """

    run_id: int
    attempt: int
    scheduled_for: datetime


@attrs.frozen
class RunFinished(JobEvent):
    """An attempt ended, with its outcome.

    Example:
        ```python
        async for event in s.subscribe(tk.RunFinished):
            if event.outcome is not tk.Outcome.SUCCEEDED:
                await page_someone(event)
        ```
    """

    run_id: int
    attempt: int
    scheduled_for: datetime
    outcome: Outcome
    duration: float
    error: ErrorInfo | None


@attrs.frozen
class RetryScheduled(JobEvent):
    """A failed attempt will be retried after ``delay`` seconds.

    Example:
        ```python
        async for event in s.subscribe(tk.RetryScheduled):
            print(f"{event.job_id}: attempt {event.attempt} in {event.delay:.1f} s")
        ```
    """

    attempt: int
    delay: float


@attrs.frozen
class Misfired(JobEvent):
    """``count`` occurrences from ``due`` on were skipped or coalesced.

    ``counted_exactly`` is ``False`` when ``count`` is a lower bound: after a long outage, a
    schedule that cannot count its occurrences cheaply (cron, weekday times) is counted one by
    one only up to ``MAX_COUNTED`` (1,000).

    Example:
        ```python
        async for event in s.subscribe(tk.Misfired):
            print(f"{event.job_id} missed {event.count} run(s) from {event.due}")
        ```
    """

    count: int
    due: datetime
    counted_exactly: bool = True


@attrs.frozen
class ClockJumped(Event):
    """The wall clock moved by ``seconds`` relative to Trio's clock.

    Example:
        ```python
        async for event in s.subscribe(tk.ClockJumped):
            log.warning("wall clock moved %+.0f s", event.seconds)
        ```
    """

    seconds: float


@attrs.frozen
class ShutdownStarted(Event):
    """The scheduler began shutting down; the subscription ends when it has stopped.

    Example:
        ```python
        async for event in s.subscribe(tk.ShutdownStarted):
            print("shutting down", "(forced)" if event.forced else "(graceful)")
        ```
    """

    forced: bool


#: The event types a subscription delivers (a stream of ``RunFinished`` is a stream of
#: ``Event``: reading is all a subscriber does).
E = TypeVar("E", bound=Event, covariant=True)


def _check_types(types: tuple[type[Event], ...]) -> tuple[type[Event], ...]:
    for kind in types:
        if not (isinstance(kind, type) and issubclass(kind, Event)):
            raise TypeError(
                f"event types must be Event subclasses such as tk.RunFinished, got {kind!r}"
            )
    return types


@attrs.define(eq=False)
class Subscription(Generic[E]):
    """A stream of events from one scheduler, with its own bounded buffer.

    Get one from ``Scheduler.subscribe()``; iterate it with ``async for``; leave the ``with``
    block (or call ``close``) to stop.  The stream ends by itself once the scheduler has
    stopped and the buffered events have been read.

    Example:
        ```python
        with scheduler.subscribe(tk.RunFinished) as events:
            async for event in events:
                if event.outcome is not tk.Outcome.SUCCEEDED:
                    alert(event)
        ```

    Attributes:
        dropped: events this subscriber missed because its buffer was full.
    """

    types: tuple[type[Event], ...] = attrs.field(converter=_check_types)
    buffer_size: int = attrs.field(default=256)
    dropped: int = attrs.field(default=0, init=False)
    _send: trio.MemorySendChannel[E] = attrs.field(init=False, repr=False)
    _receive: trio.MemoryReceiveChannel[E] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        size = check_int("buffer_size", self.buffer_size, minimum=1)
        self._send, self._receive = trio.open_memory_channel[E](size)

    def wants(self, event: Event) -> bool:
        """Whether this subscription asked for *event*'s type (all types if none given)."""
        return not self.types or isinstance(event, self.types)

    def offer(self, event: Event) -> bool:
        """Deliver *event* without waiting; count it as dropped if the buffer is full.

        The caller checked ``wants``, so *event* is of one of the subscribed types.
        """
        try:
            self._send.send_nowait(event)  # type: ignore[arg-type]  # checked by wants()
        except trio.WouldBlock:
            self.dropped += 1
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return True  # closed by its reader: not a drop
        return True

    def end(self) -> None:
        """End the stream after the buffered events (called at shutdown)."""
        self._send.close()

    def close(self) -> None:
        """Stop receiving events."""
        self._send.close()
        self._receive.close()

    @property
    def closed(self) -> bool:
        """Whether the reader has closed the subscription."""
        return self._receive.statistics().open_receive_channels == 0

    async def receive(self) -> E:
        """Wait for the next event, as from a Trio receive channel.

        Raises:
            trio.EndOfChannel: the scheduler has stopped and every buffered event was read.
            trio.ClosedResourceError: this subscription was closed.

        Example:
            ```python
            with scheduler.subscribe(tk.JobCompleted) as completions:
                await scheduler.add_job(tk.Once(soon), send_invoice)
                done = await completions.receive()
            ```
        """
        return await self._receive.receive()

    def receive_nowait(self) -> E:
        """The next buffered event without waiting, as from a Trio receive channel.

        Raises:
            trio.WouldBlock: no event is buffered now.
            trio.EndOfChannel: the scheduler has stopped and every buffered event was read.
            trio.ClosedResourceError: this subscription was closed.
        """
        return self._receive.receive_nowait()

    def __aiter__(self) -> Subscription[E]:
        return self

    async def __anext__(self) -> E:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise StopAsyncIteration from None

    def __enter__(self) -> Subscription[E]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@attrs.define(eq=False)
class EventHub:
    """The coordinator's list of subscriptions (internal)."""

    subscribers: list[Subscription[Event]] = attrs.field(factory=list)

    def publish(self, event: Event) -> int:
        """Offer *event* to every subscription that wants it; return how many dropped it."""
        dropped = 0
        for subscription in list(self.subscribers):
            if subscription.closed:
                self.subscribers.remove(subscription)
            elif subscription.wants(event) and not subscription.offer(event):
                dropped += 1
        return dropped

    def end(self) -> None:
        """Let every subscription end once its buffered events are read."""
        for subscription in self.subscribers:
            subscription.end()
        self.subscribers.clear()
