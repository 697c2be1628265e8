"""Schedules built from schedules: ``Excluding`` (with a calendar), ``AnyOf`` and ``Between``.

``schedule.excluding(calendar)``, ``a | b`` and ``schedule.between(start, end)`` build these
(methods of the ``Schedule`` base class, so custom schedules have them too).  Pure values:
no clock, no trio.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

import attrs

from ._calendars import Calendar
from ._exceptions import InvalidSchedule
from ._schedule import Schedule
from ._validation import check_aware, type_name
from ._wall import transition_between

__all__ = ["AnyOf", "Between", "Excluded", "Excluding"]

#: An exclusion search gives up after this many excluded days in a row, or this many years.
MAX_EXCLUDED_DAYS = 40_000
MAX_EXCLUDED_SPAN = timedelta(days=100 * 366)
_ONE_MICROSECOND = timedelta(microseconds=1)
#: Where the check at construction starts looking: a fixed instant, never the clock.
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


def _check_schedule(where: str, value: object) -> Schedule:
    if not isinstance(value, Schedule):
        raise TypeError(
            f"{where} must be a schedule (tk.Cron, tk.Interval, ...), got {type_name(value)}"
        )
    return value


def _schedule_zone(schedule: Schedule) -> tzinfo:
    """The zone whose days a calendar reads for *schedule*: its ``tz``, else UTC."""
    tz = getattr(schedule, "tz", None)
    return tz if isinstance(tz, tzinfo) else UTC


def _end_of_day(instant: datetime, tz: tzinfo) -> datetime | None:
    """The last microsecond (aware, UTC) of *instant*'s day in *tz*; ``None`` past year 9999."""
    try:
        next_day = instant.astimezone(tz).date() + timedelta(days=1)
        midnight = datetime.combine(next_day, datetime.min.time())
        readings = sorted(midnight.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
        start = readings[0]
        if start.astimezone(tz).date() < next_day:  # midnight is in a gap: the day starts
            found = transition_between(tz, readings[0], readings[1])  # when the gap ends
            start = readings[1] if found is None else found[0]
        return start - _ONE_MICROSECOND
    except OverflowError:
        return None


@attrs.frozen
class Excluded:
    """An occurrence that an exclusion calendar removed, with the calendar's reason.

    Example:
        ```python
        >>> schedule.excluded_between(christmas_eve, new_year)[0]
        Excluded(at=datetime(2026, 12, 25, 9, 0, tzinfo=...), reason='Christmas Day (FR)')
        ```
    """

    #: The instant the inner schedule would have fired at (the first one of that day).
    at: datetime
    #: Why its day is excluded: ``"Christmas Day (FR)"``.
    reason: str


@attrs.frozen
class Excluding(Schedule):
    """*schedule* without its occurrences on the days *calendar* excludes.

    What ``schedule.excluding(calendar)`` builds.  Excluded occurrences do not exist: they
    are not run, nor counted as missed.  The day of an occurrence is read in the calendar's
    ``tz`` when it has one, else in the schedule's zone (``Cron``, ``WeekdayTimes`` and
    ``RRule`` have one), else in UTC (``Interval``, ``Once``).  The search for the next
    occurrence skips a whole excluded day at a time and gives up after 100 years of
    excluded days, raising ``InvalidSchedule``.

    Example:
        ```python
        Cron("0 9 * * MON-FRI", tz=PARIS).excluding(tk.Holidays("FR") | tk.Dates(["2026-12-24"]))
        ```

    Raises:
        InvalidSchedule: the calendar excludes every occurrence (checked when built, from
            2000-01-01, and again when a search gives up).
        TypeError: *schedule* is not a schedule or *calendar* not a calendar.
    """

    schedule: Schedule
    calendar: Calendar

    def __attrs_post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        if not isinstance(self.calendar, Calendar):
            raise TypeError(
                "calendar must be a calendar (tk.Dates, tk.YearlyDates, tk.Weekdays, "
                f"tk.Holidays), got {type_name(self.calendar)}"
            )
        if self.calendar.excludes_every_weekday():
            raise InvalidSchedule(
                f"{self.calendar!r} excludes every day of the week: the schedule excludes "
                "every occurrence"
            )
        probe = self.schedule.anchored(_PROBE)
        self._search(probe, probe.first_after(_PROBE), _PROBE)  # raises if all are excluded

    @property
    def zone(self) -> tzinfo:
        """The zone whose days the calendar reads, unless the calendar has its own ``tz``."""
        return _schedule_zone(self.schedule)

    def _candidates(
        self, inner: Schedule, first: datetime | None
    ) -> Iterator[tuple[datetime, str | None]]:
        """Inner occurrences from *first* on, one per excluded day, with the exclusion reason."""
        zone = self.zone
        candidate = first
        while candidate is not None:
            decision = self.calendar._decision(candidate, zone)
            if decision is None:
                yield candidate, None
                candidate = inner.next_after(candidate)
            else:
                yield candidate, decision[0]
                end = _end_of_day(candidate, decision[1])
                candidate = None if end is None else inner.next_after(end)

    def _search(self, inner: Schedule, first: datetime | None, after: datetime) -> datetime | None:
        limit = after.astimezone(UTC) + MAX_EXCLUDED_SPAN if after.year < 9800 else None
        for days, (candidate, reason) in enumerate(self._candidates(inner, first)):
            if reason is None:
                return candidate
            too_far = limit is not None and candidate.astimezone(UTC) > limit
            if days >= MAX_EXCLUDED_DAYS or too_far:
                raise InvalidSchedule(
                    f"{self!r}: the schedule excludes every occurrence (no occurrence on a day "
                    f"not excluded within 100 years after {after.isoformat()})"
                )
        return None

    def anchored(self, now: datetime) -> Schedule:
        """Anchor the inner schedule (an ``Interval`` without ``start``) at *now*."""
        inner = self.schedule.anchored(now)
        return self if inner is self.schedule else attrs.evolve(self, schedule=inner)

    def first_after(self, now: datetime) -> datetime | None:
        """The inner schedule's first fire at *now*, or its next one not excluded."""
        return self._search(self.schedule, self.schedule.first_after(now), now)

    def next_after(self, after: datetime) -> datetime | None:
        """The first inner occurrence strictly after *after* whose day is not excluded."""
        check_aware("after", after)
        return self._search(self.schedule, self.schedule.next_after(after), after)

    def excluded_between(self, after: datetime, until: datetime) -> list[Excluded]:
        """The excluded days' first occurrences in ``(after, until]``, with the reasons.

        For previews: "2026-12-25 excluded: Christmas Day (FR)".

        Example:
            ```python
            for item in schedule.excluded_between(now, now + timedelta(days=30)):
                print(item.at.date(), "excluded:", item.reason)
            ```
        """
        check_aware("after", after)
        check_aware("until", until)
        found: list[Excluded] = []
        inner = self.schedule.anchored(after)
        for candidate, reason in self._candidates(inner, inner.first_after(after)):
            if candidate.timestamp() > until.timestamp() or len(found) >= MAX_EXCLUDED_DAYS:
                break
            if reason is not None:
                found.append(Excluded(candidate, reason))
        return found


def _members(value: tuple[Schedule, ...]) -> tuple[Schedule, ...]:
    if not value:
        raise InvalidSchedule("AnyOf(*schedules): give at least one schedule")
    flat: list[Schedule] = []
    for index, item in enumerate(value):
        _check_schedule(f"schedules[{index}]", item)
        flat.extend(item.schedules if isinstance(item, AnyOf) else (item,))
    return tuple(flat)


def _earliest(found: list[datetime | None]) -> datetime | None:
    best: datetime | None = None
    for at in found:
        if at is not None and (best is None or at.timestamp() < best.timestamp()):
            best = at
    return best


@attrs.frozen(init=False)
class AnyOf(Schedule):
    """Fire at every instant any of *schedules* fires; once where several coincide.

    What ``a | b`` builds; nested unions are flattened.

    Example:
        ```python
        tk.Cron("0 9 * * MON-FRI", tz=PARIS) | tk.Cron("0 12 * * SAT", tz=PARIS)
        tk.AnyOf(tk.Cron("0 9 * * *"), tk.RRule("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18"))
        ```

    Raises:
        InvalidSchedule: no schedule is given.
        TypeError: one is not a schedule (the message names it).
    """

    schedules: tuple[Schedule, ...]

    def __init__(self, *schedules: Schedule) -> None:
        self.__attrs_init__(_members(schedules))

    def __repr__(self) -> str:
        return "AnyOf(" + ", ".join(repr(s) for s in self.schedules) + ")"

    def anchored(self, now: datetime) -> Schedule:
        """Anchor every member at *now*."""
        members = tuple(s.anchored(now) for s in self.schedules)
        if all(a is b for a, b in zip(members, self.schedules, strict=True)):
            return self
        return AnyOf(*members)

    def first_after(self, now: datetime) -> datetime | None:
        """The earliest of the members' first fires."""
        return _earliest([s.first_after(now) for s in self.schedules])

    def next_after(self, after: datetime) -> datetime | None:
        """The earliest of the members' next fires strictly after *after*."""
        check_aware("after", after)
        return _earliest([s.next_after(after) for s in self.schedules])


def _check_window(_instance: object, attribute: attrs.Attribute[datetime], value: object) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{attribute.name} must be an aware datetime, got {type_name(value)}")
    check_aware(attribute.name, value)


@attrs.frozen
class Between(Schedule):
    """*schedule* limited to the window ``[start, end]`` (aware datetimes, ``start < end``).

    What ``schedule.between(start, end)`` builds: occurrences before *start* or after *end*
    do not exist; after *end* the schedule ends (``next_after`` answers ``None``).

    Example:
        ```python
        tk.Cron("*/10 * * * *").between(launch, launch + timedelta(days=7))
        ```

    Raises:
        InvalidArgument: *start* or *end* is naive.
        InvalidSchedule: *start* is not before *end*.
    """

    schedule: Schedule
    start: datetime = attrs.field(validator=_check_window)
    end: datetime = attrs.field(validator=_check_window)

    def __attrs_post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        if self.start.timestamp() >= self.end.timestamp():
            raise InvalidSchedule(
                f"between(start, end): start ({self.start.isoformat()}) must be before end "
                f"({self.end.isoformat()})"
            )

    def _within(self, inner: Schedule, candidate: datetime | None) -> datetime | None:
        if candidate is not None and candidate.timestamp() < self.start.timestamp():
            candidate = inner.next_after(self.start.astimezone(UTC) - _ONE_MICROSECOND)
        if candidate is None or candidate.timestamp() > self.end.timestamp():
            return None
        return candidate

    def anchored(self, now: datetime) -> Schedule:
        """Anchor the inner schedule (an ``Interval`` without ``start``) at *now*."""
        inner = self.schedule.anchored(now)
        return self if inner is self.schedule else attrs.evolve(self, schedule=inner)

    def first_after(self, now: datetime) -> datetime | None:
        """The inner schedule's first fire at *now*, moved into the window (or ``None``)."""
        return self._within(self.schedule, self.schedule.first_after(now))

    def next_after(self, after: datetime) -> datetime | None:
        """The inner schedule's next fire strictly after *after* within the window."""
        check_aware("after", after)
        return self._within(self.schedule, self.schedule.next_after(after))
