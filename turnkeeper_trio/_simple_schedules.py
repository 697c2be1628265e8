"""Schedules that do not depend on wall-clock fields: ``Interval``, ``Once`` and ``Never``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from ._exceptions import InvalidArgument
from ._schedule import Schedule
from ._validation import MAX_SECONDS, check_aware, type_name

__all__ = ["Interval", "Never", "Once"]


def _elapsed(later: datetime, earlier: datetime) -> timedelta:
    """``later - earlier`` as instants, for any two aware datetimes, near the calendar's ends too.

    Python subtracts datetimes that share a tzinfo by wall time; this never does, and never
    builds a datetime (which could leave the calendar), only a ``timedelta``.
    """
    later_offset, earlier_offset = later.utcoffset(), earlier.utcoffset()
    assert later_offset is not None
    assert earlier_offset is not None
    walls = later.replace(tzinfo=None) - earlier.replace(tzinfo=None)
    return walls - (later_offset - earlier_offset)


def _plus(at: datetime, delta: timedelta) -> datetime | None:
    """The instant *delta* after the aware *at*, in *at*'s zone (or UTC if it cannot say it).

    ``None`` when it would come after the last instant a datetime can hold.
    """
    try:
        instant = at.astimezone(UTC) + delta
    except OverflowError:
        return None
    try:
        return instant.astimezone(at.tzinfo)
    except OverflowError:  # a wall time past year 9999 in a zone east of UTC
        return instant


#: Seconds in each unit a named constructor takes, and its most (100 years, in that unit).
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def _duration(where: str, value: object, unit: str) -> timedelta:
    """*value* (a number of *unit*, or a ``timedelta`` where *unit* is seconds) as a period.

    The message names *where* the value was given and the accepted range in *unit*.
    """
    per = _UNITS[unit]
    most = f"{MAX_SECONDS / per:,.0f} {unit} (100 years)"
    accepted = f"a number of {unit}" + (" or a datetime.timedelta" if per == 1 else "")
    if isinstance(value, timedelta) and per == 1:
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) * per
    else:
        raise TypeError(f"{where} must be {accepted}, got {type_name(value)} {value!r}")
    if not (0 < seconds <= MAX_SECONDS):  # NaN fails too
        accepted_range = (
            f"from 1 microsecond to {most}" if per == 1 else f"more than 0 and at most {most}"
        )
        raise InvalidArgument(f"{where} must be {accepted_range}, got {value!r}")
    period = value if isinstance(value, timedelta) else timedelta(seconds=seconds)
    if not period:  # below datetime's resolution: the grid would not advance
        raise InvalidArgument(f"{where} must be at least 1 microsecond, got {value!r}")
    return period


def _as_timedelta(value: float | timedelta) -> timedelta:
    return _duration("every", value, "seconds")


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
        InvalidArgument: *every* is not from 1 microsecond to 100 years (the named
            constructors: *n* is not above 0 and at most 100 years in their unit).
        TypeError: *every* is not a number or ``timedelta``, or *start* is not a datetime.
    """

    every: timedelta = attrs.field(converter=_as_timedelta)
    start: datetime | None = attrs.field(default=None, kw_only=True, validator=_check_start)

    @classmethod
    def seconds(cls, n: float, *, start: datetime | None = None) -> Interval:
        """Every *n* seconds."""
        return cls(_duration("Interval.seconds(n)", n, "seconds"), start=start)

    @classmethod
    def minutes(cls, n: float, *, start: datetime | None = None) -> Interval:
        """Every *n* minutes."""
        return cls(_duration("Interval.minutes(n)", n, "minutes"), start=start)

    @classmethod
    def hours(cls, n: float, *, start: datetime | None = None) -> Interval:
        """Every *n* hours."""
        return cls(_duration("Interval.hours(n)", n, "hours"), start=start)

    @classmethod
    def days(cls, n: float, *, start: datetime | None = None) -> Interval:
        """Every *n* days of 24 real hours (use ``Cron`` for "same wall time each day")."""
        return cls(_duration("Interval.days(n)", n, "days"), start=start)

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
            return _plus(after, self.every)
        elapsed = _elapsed(after, self.start)
        if elapsed < timedelta(0):
            return self.start
        steps = elapsed // self.every + 1
        try:
            return _plus(self.start, steps * self.every)
        except OverflowError:  # the step count is beyond what a timedelta holds
            return None

    def count_between(self, after: datetime, until: datetime) -> int | None:
        """How many fires lie in ``(after, until]``: exact, in O(1), for an anchored interval."""
        if self.start is None:
            return None
        start = self.start

        def fires_up_to(instant: datetime) -> int:
            elapsed = _elapsed(instant, start)
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
