"""``Cron``: standard cron expressions, evaluated in a time zone with the project's DST rule."""

from __future__ import annotations

import calendar
from bisect import bisect_left
from collections.abc import Iterator
from datetime import UTC, datetime, time, tzinfo

import attrs

from ._cron_fields import CronFields, parse_cron
from ._exceptions import InvalidSchedule
from ._schedule import Schedule
from ._validation import check_aware, check_tz
from ._wall import DEFAULT_DST, DST, check_dst, next_instant_after

__all__ = ["Cron"]

#: A valid expression fires at least once in any 400 years (the Gregorian cycle).
_SEARCH_MONTHS = 400 * 12


def _nearest_weekday(day: int, first_weekday: int, length: int) -> int:
    """The Monday-Friday nearest to *day* of a month, never leaving the month (Quartz ``nW``)."""
    weekday = (first_weekday + day - 1) % 7  # Monday = 0
    if weekday == 5:  # Saturday: the Friday before, or Monday the 3rd for the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before at the month's end
        return day + 1 if day < length else day - 2
    return day


def _month_days(fields: CronFields, year: int, month: int) -> tuple[int, ...]:
    """Return the days of *month* that match the day-of-month/day-of-week fields."""
    first_weekday, length = calendar.monthrange(year, month)  # Monday = 0
    special_days = {
        _nearest_weekday(day, first_weekday, length)
        for day in fields.nearest_weekdays
        if day <= length  # like `31`, `31W` fires only in months that have a 31st
    }
    if fields.last_day_of_month:
        special_days.add(length)
    if fields.last_weekday_of_month:
        special_days.add(_nearest_weekday(length, first_weekday, length))
    days = []
    for day in range(1, length + 1):
        dom = day in fields.days_of_month or day in special_days
        cron_weekday = (first_weekday + day) % 7  # (Monday=0 based weekday + 1) % 7, Sunday = 0
        dow = cron_weekday in fields.days_of_week or (
            cron_weekday in fields.last_days_of_week and day > length - 7
        )
        if not dow:
            for weekday, counts in fields.nth_days_of_week:
                if weekday == cron_weekday and (day - 1) // 7 + 1 in counts:
                    dow = True
        if (dom and dow) if fields.days_and else (dom or dow):
            days.append(day)
    return tuple(days)


@attrs.frozen
class Cron(Schedule):
    """Fire when the wall clock in *tz* matches the cron expression *expr*.

    Accepts 5 fields (``minute hour day-of-month month day-of-week``) or 6 with seconds
    first; names (``JAN``, ``mon``), ``7`` for Sunday, ``*``, ``a``, ``a-b``, ``a-b/s``,
    ``*/s``, ``a/s`` (``a-max/s``), lists, and the nicknames ``@yearly @annually @monthly
    @weekly @daily @midnight @hourly``.  A list is a union: one that holds a bare ``*`` is
    ``*``, for the DST and day rules too.  A range whose start is after its end wraps
    through the field's maximum (``FRI-MON``, hour ``22-2``), and Sunday ends a range as 7
    (``SAT-SUN``).  Day of month also takes ``L`` (the last day), ``LW``
    (the last weekday) and ``nW`` (the weekday nearest to day n, within the month); day of
    week takes ``dL`` (the last ``d`` of the month: ``5L``, ``FRIL``) and ``d#n`` (the n-th);
    ``?`` in either day field means no constraint.  Day fields follow Vixie cron: if either
    starts with ``*`` or is ``?``, both must match; otherwise either may.  See the docs for
    the full table and the DST behaviour; *dst* (a :class:`DST`) chooses what a fixed-time
    expression does at a gap or a fold.

    Example:
        ```python
        Cron("0 9 * * MON-FRI", tz=ZoneInfo("Europe/Paris"))   # weekdays at 09:00 Paris time
        Cron("*/15 * * * *")                                   # every 15 minutes, UTC
        Cron("30 2 * * *", tz=PARIS, dst=DST(gap="skip"))      # not at all on spring-forward day
        ```

    Raises:
        InvalidSchedule: the expression is malformed or can never fire; the message names
            the field at fault.
    """

    expr: str
    tz: tzinfo = attrs.field(default=UTC, kw_only=True)
    dst: DST = attrs.field(default=DEFAULT_DST, kw_only=True)
    _fields: CronFields = attrs.field(init=False, eq=False, repr=False)
    _days_cache: dict[tuple[int, int], tuple[int, ...]] = attrs.field(
        init=False, eq=False, repr=False, factory=dict
    )

    @tz.validator
    def _check_tz(self, _attribute: object, value: object) -> None:
        check_tz("tz", value)

    @_fields.default
    def _parse(self) -> CronFields:
        return parse_cron(self.expr)

    def __attrs_post_init__(self) -> None:
        check_dst(self.dst, wildcard=self._fields.wildcard, where=f"cron {self.expr!r}")
        if next(self._walls_from(datetime(2000, 1, 1)), None) is None:
            raise InvalidSchedule(f"cron {self.expr!r}: the expression can never fire")

    def __repr__(self) -> str:
        dst = "" if self.dst.is_default else f", dst={self.dst!r}"
        return f"Cron(expr={self.expr!r}, tz={self.tz!r}{dst})"

    @property
    def is_wildcard(self) -> bool:
        """Whether the schedule fires on every matching instant (see the DST rules).

        True when the seconds (if given), minute or hour field starts with ``*``; such
        schedules skip wall times in a DST gap and fire in both passes of a repeated hour.
        Other (fixed-time) expressions fire once per matching wall time.
        """
        return self._fields.wildcard

    def _days(self, year: int, month: int) -> tuple[int, ...]:
        key = (year, month)
        days = self._days_cache.get(key)
        if days is None:
            if len(self._days_cache) > 1024:  # bound the memory of a long-lived schedule
                self._days_cache.clear()
            days = self._days_cache[key] = _month_days(self._fields, year, month)
        return days

    def _times_from(self, start: time | None) -> Iterator[time]:
        """Yield the matching times of day >= *start* (all of them if ``None``)."""
        fields = self._fields
        hours, minutes, seconds = fields.hours, fields.minutes, fields.seconds
        if start is None:
            for hour in hours:
                for minute in minutes:
                    for second in seconds:
                        yield time(hour, minute, second)
            return
        for hour in hours[bisect_left(hours, start.hour) :]:
            same_hour = hour == start.hour
            first_minute = bisect_left(minutes, start.minute) if same_hour else 0
            for minute in minutes[first_minute:]:
                same_minute = same_hour and minute == start.minute
                first_second = bisect_left(seconds, start.second) if same_minute else 0
                for second in seconds[first_second:]:
                    if same_minute and second == start.second and start.microsecond:
                        continue
                    yield time(hour, minute, second)

    def _walls_from(self, start: datetime) -> Iterator[datetime]:
        year, month = start.year, start.month
        months = self._fields.months
        first = True
        for _ in range(_SEARCH_MONTHS):
            if month in months:
                for day in self._days(year, month):
                    if first and day < start.day:
                        continue
                    date_ = start.date().replace(year=year, month=month, day=day)
                    from_time = start.time() if first and day == start.day else None
                    for at in self._times_from(from_time):
                        yield datetime.combine(date_, at)
                    first = False
            first = False
            month += 1
            if month == 13:
                if year == 9999:
                    return
                year, month = year + 1, 1

    def next_after(self, after: datetime) -> datetime | None:
        """Return the first instant strictly after *after* whose wall time in *tz* matches.

        ``None`` when none is left before the end of the calendar (year 9999, in UTC and in
        *tz*).
        """
        check_aware("after", after)
        return next_instant_after(
            self._walls_from, self.tz, after, fixed=not self.is_wildcard, dst=self.dst
        )
