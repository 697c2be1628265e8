"""``WeekdayTimes``: fire at listed weekday + wall-time pairs in a time zone."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import attrs

from ._exceptions import InvalidSchedule
from ._schedule import Schedule
from ._validation import check_aware, check_tz, type_name
from ._wall import DEFAULT_DST, DST, check_dst, next_instant_after

__all__ = ["WeekdayTimes"]

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ONE_DAY = timedelta(days=1)


def _weekday(value: object, index: int) -> int:
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _DAY_NAMES:
            return _DAY_NAMES.index(key)
        if key in _FULL_DAY_NAMES:
            return _FULL_DAY_NAMES.index(key)
        raise InvalidSchedule(
            f"times[{index}]: weekday {value!r} is not one of 'mon'..'sun' or 'monday'..'sunday'"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSchedule(
            f"times[{index}]: weekday must be 0 (Monday)..6 (Sunday) or 'mon'..'sun', "
            f"got {type_name(value)} {value!r}"
        )
    if not 0 <= value <= 6:
        raise InvalidSchedule(
            f"times[{index}]: weekday must be 0 (Monday)..6 (Sunday), got {value}"
        )
    return value


def _time(value: object, where: str) -> time:
    """*value* as a naive wall time; *where* names it in messages (``times[0]``, ``at[1]``)."""
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value.strip())
        except ValueError:
            raise InvalidSchedule(f"{where}: time {value!r} is not 'HH:MM' or 'HH:MM:SS'") from None
    if not isinstance(value, time):
        raise InvalidSchedule(
            f"{where}: time must be a datetime.time or 'HH:MM', got {type_name(value)}"
        )
    if value.tzinfo is not None:
        raise InvalidSchedule(
            f"{where}: time {value} must be a naive wall time; give the zone as tz="
        )
    return value


def _times_at(constructor: str, at: tuple[object, ...]) -> tuple[time, ...]:
    """Check the wall times given to a named constructor, naming it and ``at`` in messages."""
    if not at:
        raise InvalidSchedule(
            f"WeekdayTimes.{constructor}(*at): give at least one wall time, e.g. '09:00'"
        )
    return tuple(_time(t, f"WeekdayTimes.{constructor}: at[{i}]") for i, t in enumerate(at))


#: What ``WeekdayTimes`` accepts: ``(weekday, time)`` pairs, by number or by name.
WeekdayTimeSpec = Iterable[tuple[int | str, time | str]]


def _normalize(spec: WeekdayTimeSpec) -> tuple[tuple[int, time], ...]:
    times: object = spec  # checked at run time: callers may not use a type checker
    if isinstance(times, str | bytes) or not isinstance(times, Iterable):
        raise InvalidSchedule(
            f"times must be a list of (weekday, time) pairs, got {type_name(times)}"
        )
    pairs: set[tuple[int, time]] = set()
    for index, item in enumerate(times):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise InvalidSchedule(f"times[{index}] must be a (weekday, time) pair, got {item!r}")
        pairs.add((_weekday(item[0], index), _time(item[1], f"times[{index}]")))
    if not pairs:
        raise InvalidSchedule("times must not be empty: a WeekdayTimes with no times never fires")
    return tuple(sorted(pairs))


@attrs.frozen
class WeekdayTimes(Schedule):
    """Fire at each listed weekday + wall time, in the time zone *tz*.

    Weekdays are ``0`` (Monday) to ``6`` (Sunday) or names (``"mon"``, ``"Tuesday"``); times
    are ``datetime.time`` values or ``"HH:MM[:SS]"`` strings.  Duplicates collapse.  Wall times
    that fall into a DST gap fire once at the end of the gap; wall times repeated by a
    fall-back fire once, at their first occurrence (*dst*, a :class:`DST`, chooses otherwise).

    Example:
        ```python
        WeekdayTimes([("mon", "09:00"), ("fri", time(17, 30))], tz=ZoneInfo("Europe/Paris"))
        ```

    Raises:
        InvalidSchedule: the list is empty or an entry is malformed.
        TypeError: *tz* is not a ``tzinfo``.
    """

    times: tuple[tuple[int, time], ...] = attrs.field(converter=_normalize)
    tz: tzinfo = attrs.field(default=UTC, kw_only=True)
    dst: DST = attrs.field(default=DEFAULT_DST, kw_only=True)
    _by_weekday: tuple[tuple[time, ...], ...] = attrs.field(init=False, eq=False, repr=False)

    @tz.validator
    def _check_tz(self, _attribute: object, value: object) -> None:
        check_tz("tz", value)

    @dst.validator
    def _check_dst(self, _attribute: object, value: object) -> None:
        check_dst(value, wildcard=False, where="WeekdayTimes")

    @_by_weekday.default
    def _group(self) -> tuple[tuple[time, ...], ...]:
        return tuple(tuple(sorted(t for wd, t in self.times if wd == day)) for day in range(7))

    def __repr__(self) -> str:
        listed = ", ".join(f"({_DAY_NAMES[day]!r}, {at.isoformat()!r})" for day, at in self.times)
        dst = "" if self.dst.is_default else f", dst={self.dst!r}"
        return f"WeekdayTimes([{listed}], tz={self.tz!r}{dst})"

    @classmethod
    def every_day(cls, *at: time | str, tz: tzinfo = UTC, dst: DST = DEFAULT_DST) -> WeekdayTimes:
        """Fire every day at each of the wall times *at*.

        Example:
            ```python
            WeekdayTimes.every_day("08:00", "20:00", tz=ZoneInfo("Asia/Kolkata"))
            ```

        Raises:
            InvalidSchedule: no time is given, or one is malformed (the message names it).
        """
        times = _times_at("every_day", at)
        return cls([(day, t) for day in range(7) for t in times], tz=tz, dst=dst)

    @classmethod
    def weekdays(cls, *at: time | str, tz: tzinfo = UTC, dst: DST = DEFAULT_DST) -> WeekdayTimes:
        """Fire Monday to Friday at each of the wall times *at*.

        Raises:
            InvalidSchedule: no time is given, or one is malformed (the message names it).
        """
        times = _times_at("weekdays", at)
        return cls([(day, t) for day in range(5) for t in times], tz=tz, dst=dst)

    def _walls_from(self, start: datetime) -> Iterator[datetime]:
        day: date = start.date()
        first = True
        for _ in itertools.count():
            for at in self._by_weekday[day.weekday()]:
                wall = datetime.combine(day, at)
                if first and wall < start:
                    continue
                yield wall
            first = False
            if day == date.max:
                return
            day += _ONE_DAY

    def next_after(self, after: datetime) -> datetime | None:
        """Return the first listed weekday + wall time strictly after *after*, as an instant."""
        check_aware("after", after)
        return next_instant_after(self._walls_from, self.tz, after, fixed=True, dst=self.dst)
