"""The schedule protocol: a frozen value that answers "when is the next fire after *t*?"."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING

from ._exceptions import InvalidArgument
from ._validation import check_aware, check_int

if TYPE_CHECKING:
    from ._calendars import Calendar

__all__ = ["MAX_PREVIEW", "Schedule"]

#: The most fire times one ``preview`` lists: enough for any screen, small enough to answer
#: at once for every schedule (a larger ``count`` is refused, naming ``count``).
MAX_PREVIEW = 10_000


class Schedule(ABC):
    """Base class of every schedule, built in or your own.

    A schedule is a pure value: it holds no clock and no state, so the same question always
    gets the same answer, and it can be tested without a scheduler.  Subclasses implement
    ``next_after``; the two hooks below have defaults that suit most schedules.

    Example:
        ```python
        class EveryFullMoon(tk.abc.Schedule):
            def next_after(self, after: datetime) -> datetime | None:
                return moon_table.first_after(after)
        ```
    """

    __slots__ = ()

    @abstractmethod
    def next_after(self, after: datetime) -> datetime | None:
        """Return the first fire instant strictly after *after*, or ``None`` if there is none.

        Args:
            after: an aware datetime. Instants are compared as instants, never as wall times.

        Returns:
            An aware datetime, or ``None`` when the schedule will never fire again.
        """

    def anchored(self, now: datetime) -> Schedule:
        """Return the schedule to use for a job given to the scheduler at *now*.

        Schedules that are relative to the moment they are submitted (an ``Interval``
        without ``start``) return a copy bound to *now*; every other schedule returns itself.
        """
        return self

    def first_after(self, now: datetime) -> datetime | None:
        """Return the first fire instant for a job given to the scheduler at *now*.

        Defaults to ``next_after``. ``Once`` overrides it so that a one-time job whose
        instant is already past runs as soon as possible instead of never.
        """
        return self.next_after(now)

    def count_between(self, after: datetime, until: datetime) -> int | None:
        """How many fire instants lie in ``(after, until]``, if the schedule can say cheaply.

        The misfire policies use it to count what a long outage missed without stepping
        through every occurrence.  The default, ``None``, means "step with
        ``next_after``" (bounded: past ``MAX_COUNTED`` the count is a lower bound).
        """
        return None

    def preview(self, after: datetime, count: int = 5) -> list[datetime]:
        """List the next *count* fire instants after *after*, to answer "when will this run?".

        Fewer come back when the schedule ends (or reaches the end of the calendar, year
        9999) first.  *count* is from 0 to ``MAX_PREVIEW`` (10,000).

        Example:
            ```python
            >>> Cron("0 9 * * MON-FRI", tz=ZoneInfo("Europe/Paris")).preview(now, 3)
            [datetime(2026, 3, 27, 9, 0, tzinfo=...), ...]
            ```
        """
        check_aware("after", after)
        check_int("count", count, minimum=0)
        if count > MAX_PREVIEW:
            raise InvalidArgument(f"count must be from 0 to {MAX_PREVIEW}, got {count}")
        fires: list[datetime] = []
        current = self.anchored(after)
        nxt = current.first_after(after)
        while nxt is not None and len(fires) < count:
            fires.append(nxt)
            nxt = current.next_after(nxt)
        return fires

    def excluding(self, calendar: Calendar) -> Schedule:
        """This schedule without its occurrences on the days *calendar* excludes.

        The day is read in the calendar's ``tz`` if it has one, else in this schedule's zone,
        else in UTC.  See ``tk.Excluding``.

        Example:
            ```python
            Cron("0 9 * * *", tz=PARIS).excluding(tk.Weekdays("sat", "sun") | tk.Holidays("FR"))
            ```

        Raises:
            InvalidSchedule: the calendar excludes every occurrence.
        """
        from ._combinators import Excluding

        return Excluding(self, calendar)

    def between(self, start: datetime, end: datetime) -> Schedule:
        """This schedule limited to the window ``[start, end]`` (aware datetimes).

        Example:
            ```python
            Cron("*/10 * * * *").between(launch, launch + timedelta(days=7))
            ```

        Raises:
            InvalidArgument: *start* or *end* is naive.
            InvalidSchedule: *start* is not before *end*.
        """
        from ._combinators import Between

        return Between(self, start, end)

    def __or__(self, other: object) -> Schedule:
        """``a | b``: fire whenever either fires, once where both do (``tk.AnyOf``)."""
        if not isinstance(other, Schedule):
            return NotImplemented
        from ._combinators import AnyOf

        return AnyOf(self, other)
