"""Schedules that do not depend on wall-clock fields: ``Interval``, ``Once`` and ``Never``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from ._exceptions import InvalidArgument
from ._schedule import Schedule
from ._validation import check_aware, check_seconds

__all__ = ["Interval", "Never", "Once"]


def _as_timedelta(value: float | timedelta) -> timedelta:
    every = timedelta(seconds=check_seconds("every", value))
    if not every:  # below datetime's resolution: the grid would not advance
        raise InvalidArgument(f"every must be at least 1 microsecond, got {value!r}")
    return every


def _check_start(_instance: object, _attribute: object, value: datetime | None) -> None:
    if value is not None:
        check_aware("start", value)


@attrs.frozen
class Interval(Schedule):
    """Fire every *every* (seconds or ``timedelta``) of real elapsed time, without drift.

    Fires at ``start + k * every`` for whole ``k >= 0``, measured as instants, so DST never
    stretches or shrinks an interval.  Without ``start`` the anchor is the moment the schedule
    is given to the scheduler (``add_job`` or ``update_job``), so the first run is one
    ``every`` later.  A late run does not shift the grid.

    Example:
        ```python
        Interval(30)                           # every 30 s, first run 30 s after add_job
        Interval.minutes(5, start=midnight)    # on the 5-minute grid from midnight
        ```

    Raises:
        InvalidArgument: *every* is not from 1 microsecond to 100 years.
        TypeError: *every* is not a number or ``timedelta``, or *start* is not a datetime.
    """

    every: timedelta = attrs.field(converter=_as_timedelta)
    start: datetime | None = attrs.field(default=None, kw_only=True, validator=_check_start)

    @classmethod
    def seconds(cls, n: float, *, start: datetime | None = None) -> Interval:
        """Every *n* seconds."""
        return cls(timedelta(seconds=check_seconds("n", n)), start=start)

    @classmethod
    def minutes(cls, n: float, *, start: datetime | None = None) -> Interval:
        """Every *n* minutes."""
        return cls(timedelta(minutes=check_seconds("n", n)), start=start)

    @classmethod
    def hours(cls, n: float, *, start: datetime | None = None) -> Interval:
        """Every *n* hours."""
        return cls(timedelta(hours=check_seconds("n", n)), start=start)

    @classmethod
    def days(cls, n: float, *, start: datetime | None = None) -> Interval:
        """Every *n* days of 24 real hours (use ``Cron`` for "same wall time each day")."""
        return cls(timedelta(days=check_seconds("n", n)), start=start)

    def anchored(self, now: datetime) -> Interval:
        """Bind an interval without ``start`` to *now*; one with ``start`` is returned as is."""
        if self.start is not None:
            return self
        start = check_aware("now", now)
        if type(self) is not Interval:
            return attrs.evolve(self, start=start)  # a subclass keeps its type and fields
        # A copy with the anchor set, rather than ``evolve``, which would build and check
        # ``every`` again: this runs for every ``add_job`` of an unanchored interval.
        anchored = object.__new__(Interval)
        object.__setattr__(anchored, "every", self.every)
        object.__setattr__(anchored, "start", start)
        return anchored

    def next_after(self, after: datetime) -> datetime | None:
        """Return the first ``start + k * every`` strictly after *after*.

        An interval not yet bound to a start counts from *after* itself.
        """
        check_aware("after", after)
        if self.start is None:
            return after + self.every
        start = self.start.astimezone(UTC)
        elapsed = after.astimezone(UTC) - start
        if elapsed < timedelta(0):
            return self.start
        steps = elapsed // self.every + 1
        return (start + steps * self.every).astimezone(self.start.tzinfo)

    def count_between(self, after: datetime, until: datetime) -> int | None:
        """How many fires lie in ``(after, until]``: exact, in O(1), for an anchored interval."""
        if self.start is None:
            return None
        start = self.start.astimezone(UTC)

        def fires_up_to(instant: datetime) -> int:
            elapsed = instant.astimezone(UTC) - start
            return 0 if elapsed < timedelta(0) else elapsed // self.every + 1

        return max(fires_up_to(until) - fires_up_to(after), 0)


def _check_at(_instance: object, _attribute: object, value: datetime) -> None:
    check_aware("at", value)


@attrs.frozen
class Once(Schedule):
    """Fire once, at the aware datetime *at*; if *at* is already past, as soon as possible.

    Example:
        ```python
        Once(datetime.now(UTC) + timedelta(hours=1))
        ```

    Raises:
        InvalidArgument: *at* is naive.
    """

    at: datetime = attrs.field(validator=_check_at)

    def next_after(self, after: datetime) -> datetime | None:
        """Return *at* if it is strictly after *after*, else ``None``."""
        check_aware("after", after)
        # Compare instants: datetimes sharing a tzinfo compare by wall time, ignoring fold.
        return self.at if self.at.timestamp() > after.timestamp() else None

    def first_after(self, now: datetime) -> datetime | None:
        """Return *at*, or *now* if *at* is already past: a one-time job always runs once.

        A past ``Once`` is due the moment it is given to the scheduler, so it is not counted
        as late (nor skipped by a misfire ``grace``) for the time before it was added.
        """
        return self.at if self.at.timestamp() > now.timestamp() else now


@attrs.frozen
class Never(Schedule):
    """Never fire by itself: the job runs only when you call ``trigger_job``.

    Example:
        ```python
        job = await scheduler.add_job(Never(), rebuild_index)
        ...
        await scheduler.trigger_job(job)
        ```
    """

    def next_after(self, after: datetime) -> datetime | None:
        """Return ``None``: there is no next fire."""
        check_aware("after", after)
        return None
