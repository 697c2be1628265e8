"""Exclusion calendars: days on which a schedule's occurrences do not exist.

A calendar answers one question, ``reason(day) -> str | None``: why *day* (a
``datetime.date``) is excluded, or ``None`` when it is not.  ``schedule.excluding(calendar)``
(see ``_combinators``) drops every occurrence whose day a calendar excludes.  Which zone
decides "the day" of an instant: the calendar's ``tz=`` when given, else the schedule's zone
(``Cron``, ``WeekdayTimes`` and ``RRule`` have one), else UTC.  Calendars compose with ``|``.
Pure values: no clock, no trio; public holidays come from the optional ``holidays`` package,
imported only when a ``Holidays`` calendar is built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import date, datetime, tzinfo
from typing import Any

import attrs

from ._exceptions import InvalidArgument
from ._validation import check_tz, type_name

__all__ = ["Calendar", "CalendarUnion", "Dates", "Holidays", "Weekdays", "YearlyDates"]

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _check_optional_tz(_instance: object, _attribute: object, value: Any) -> None:
    if value is not None:
        check_tz("tz", value)


class Calendar(ABC):
    """Base class of exclusion calendars: days on which a schedule does not fire.

    Subclasses implement ``reason``.  ``a | b`` excludes the days either excludes.

    Example:
        ```python
        class PayrollFreeze(tk.Calendar):
            def reason(self, day: date) -> str | None:
                return "payroll freeze" if day.day >= 28 else None

        tk.Cron("0 9 * * *").excluding(PayrollFreeze())
        ```
    """

    __slots__ = ()

    #: The zone that decides an instant's day; ``None``: the schedule's zone (or UTC).
    tz: tzinfo | None = None

    @abstractmethod
    def reason(self, day: date) -> str | None:
        """Why *day* is excluded (``"Christmas Day (FR)"``), or ``None`` if it is not."""

    def reason_at(self, instant: datetime, default_tz: tzinfo) -> str | None:
        """Why the day of the aware *instant* is excluded, read in ``tz`` or *default_tz*."""
        found = self._decision(instant, default_tz)
        return None if found is None else found[0]

    def _decision(self, instant: datetime, default_tz: tzinfo) -> tuple[str, tzinfo] | None:
        """The reason and the zone whose day was excluded, or ``None``."""
        zone = self.tz or default_tz
        found = self.reason(instant.astimezone(zone).date())
        return None if found is None else (found, zone)

    def excludes_every_weekday(self) -> bool:
        """Whether every day is excluded whatever the date (checked when a schedule is built)."""
        return False

    def __or__(self, other: object) -> CalendarUnion:
        if not isinstance(other, Calendar):
            return NotImplemented
        mine = self.calendars if isinstance(self, CalendarUnion) else (self,)
        theirs = other.calendars if isinstance(other, CalendarUnion) else (other,)
        return CalendarUnion((*mine, *theirs))


def _union_members(value: Iterable[Calendar]) -> tuple[Calendar, ...]:
    members = tuple(value)
    if not members:
        raise InvalidArgument("calendars must not be empty")
    for index, member in enumerate(members):
        if not isinstance(member, Calendar):
            raise TypeError(
                f"calendars[{index}] must be a calendar (tk.Dates, tk.Weekdays, ...), "
                f"got {type_name(member)}"
            )
    return members


@attrs.frozen
class CalendarUnion(Calendar):
    """The days any of *calendars* excludes; what ``a | b`` builds.

    The reason given is the first member's that excludes the day.

    Example:
        ```python
        tk.Weekdays("sat", "sun") | tk.YearlyDates(["12-25"])
        ```
    """

    calendars: tuple[Calendar, ...] = attrs.field(converter=_union_members)

    def reason(self, day: date) -> str | None:
        """The first member's reason for *day*, or ``None``."""
        for calendar in self.calendars:
            found = calendar.reason(day)
            if found is not None:
                return found
        return None

    def _decision(self, instant: datetime, default_tz: tzinfo) -> tuple[str, tzinfo] | None:
        for calendar in self.calendars:  # each member reads the day in its own zone
            found = calendar._decision(instant, default_tz)
            if found is not None:
                return found
        return None

    def excludes_every_weekday(self) -> bool:
        """Whether the members' weekdays, together, are all seven."""
        days: set[int] = set()
        for calendar in self.calendars:
            if calendar.excludes_every_weekday():
                return True
            if isinstance(calendar, Weekdays) and calendar.tz is None:
                days.update(calendar.days)
        return len(days) == 7


def _date(value: object, index: int) -> date:
    if isinstance(value, datetime):
        raise InvalidArgument(f"dates[{index}] must be a date, not a datetime: {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidArgument(
                f"dates[{index}]: {value!r} is not an ISO date 'YYYY-MM-DD'"
            ) from None
    raise TypeError(f"dates[{index}] must be a date or 'YYYY-MM-DD', got {type_name(value)}")


def _dates(value: object) -> frozenset[date]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"dates must be a list of dates, got {type_name(value)}")
    found = frozenset(_date(item, index) for index, item in enumerate(value))
    if not found:
        raise InvalidArgument("dates must not be empty")
    return found


@attrs.frozen
class Dates(Calendar):
    """Exclude the listed dates (``datetime.date`` or ``"YYYY-MM-DD"``).

    *label* is the reason shown in previews (default ``"listed date"``).

    Example:
        ```python
        tk.Cron("0 9 * * *").excluding(tk.Dates(["2026-12-24", "2026-12-31"], label="closed"))
        ```

    Raises:
        InvalidArgument: the list is empty, or a date is malformed (the message names it).
    """

    dates: frozenset[date] = attrs.field(converter=_dates)
    label: str = attrs.field(default="listed date", kw_only=True)
    tz: tzinfo | None = attrs.field(default=None, kw_only=True, validator=_check_optional_tz)

    def __repr__(self) -> str:
        listed = ", ".join(repr(d.isoformat()) for d in sorted(self.dates))
        return f"Dates([{listed}], label={self.label!r}" + _tz_text(self.tz) + ")"

    def reason(self, day: date) -> str | None:
        """*label* when *day* is listed."""
        return self.label if day in self.dates else None


def _month_day(value: object, index: int) -> tuple[int, int]:
    text = value
    if isinstance(value, tuple | list) and len(value) == 2:
        text = f"{value[0]:02}-{value[1]:02}" if all(type(v) is int for v in value) else value
    if not isinstance(text, str):
        raise TypeError(
            f"days[{index}] must be 'MM-DD' or a (month, day) pair, got {type_name(value)}"
        )
    try:
        month_text, day_text = text.strip().split("-")
        month, day = int(month_text), int(day_text)
        date(2000, month, day)  # a leap year: 02-29 exists
    except ValueError:
        raise InvalidArgument(
            f"days[{index}]: {value!r} is not a day of the year 'MM-DD'"
        ) from None
    return month, day


def _month_days(value: object) -> tuple[tuple[int, int], ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"days must be a list of 'MM-DD' strings, got {type_name(value)}")
    found = tuple(sorted({_month_day(item, index) for index, item in enumerate(value)}))
    if not found:
        raise InvalidArgument("days must not be empty")
    return found


@attrs.frozen
class YearlyDates(Calendar):
    """Exclude the same days every year: ``"MM-DD"`` strings or ``(month, day)`` pairs.

    ``"02-29"`` excludes February 29 in leap years only.  *label* is the reason shown
    (default: ``"yearly MM-DD"``).

    Example:
        ```python
        tk.YearlyDates(["12-25", "01-01"], label="office closed")
        ```

    Raises:
        InvalidArgument: the list is empty, or a day is malformed (the message names it).
    """

    days: tuple[tuple[int, int], ...] = attrs.field(converter=_month_days)
    label: str | None = attrs.field(default=None, kw_only=True)
    tz: tzinfo | None = attrs.field(default=None, kw_only=True, validator=_check_optional_tz)

    def __repr__(self) -> str:
        listed = ", ".join(f"'{m:02}-{d:02}'" for m, d in self.days)
        label = "" if self.label is None else f", label={self.label!r}"
        return f"YearlyDates([{listed}]{label}" + _tz_text(self.tz) + ")"

    def reason(self, day: date) -> str | None:
        """*label* (or ``"yearly MM-DD"``) when *day*'s month and day are listed."""
        if (day.month, day.day) not in self.days:
            return None
        return self.label or f"yearly {day.month:02}-{day.day:02}"


def _weekday(value: object, index: int) -> int:
    if isinstance(value, str):
        key = value.strip().lower()
        for names in (_DAY_NAMES, _FULL_DAY_NAMES):
            if key in names:
                return names.index(key)
        raise InvalidArgument(f"days[{index}]: {value!r} is not one of 'mon'..'sun'")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
        raise InvalidArgument(
            f"days[{index}] must be 0 (Monday)..6 (Sunday) or 'mon'..'sun', got {value!r}"
        )
    return value


@attrs.frozen(init=False)
class Weekdays(Calendar):
    """Exclude the given days of the week, by name (``"sat"``, ``"Sunday"``) or 0=Monday..6.

    Example:
        ```python
        tk.Interval.hours(1).excluding(tk.Weekdays("sat", "sun"))   # weekdays only, in UTC
        ```

    Raises:
        InvalidArgument: no day is given, or one is not a weekday (the message names it).
    """

    days: frozenset[int]
    tz: tzinfo | None

    def __init__(self, *days: int | str, tz: tzinfo | None = None) -> None:
        given: tuple[object, ...] = days
        if len(given) == 1 and isinstance(given[0], frozenset | set | list | tuple):
            given = tuple(given[0])  # a collection, as the codec gives it back
        if not given:
            raise InvalidArgument("Weekdays(*days): give at least one day, e.g. 'sat'")
        _check_optional_tz(None, None, tz)
        found = frozenset(_weekday(day, index) for index, day in enumerate(given))
        self.__attrs_init__(found, tz)

    def __repr__(self) -> str:
        listed = ", ".join(repr(_DAY_NAMES[d]) for d in sorted(self.days))
        return f"Weekdays({listed}" + _tz_text(self.tz) + ")"

    def reason(self, day: date) -> str | None:
        """The day's name (``"Saturday"``) when it is excluded."""
        weekday = day.weekday()
        return _FULL_DAY_NAMES[weekday].capitalize() if weekday in self.days else None

    def excludes_every_weekday(self) -> bool:
        """Whether all seven days are listed."""
        return len(self.days) == 7


def _tz_text(tz: tzinfo | None) -> str:
    return "" if tz is None else f", tz={tz!r}"


def _holiday_table(country: str, subdiv: str | None, language: str) -> Mapping[date, str]:
    try:
        import holidays
    except ImportError:
        raise InvalidArgument(
            "Holidays needs the optional 'holidays' package: install the 'holidays' extra "
            "(pip install -e '.[holidays]' in a clone of turnkeeper_trio), or pip install "
            "holidays"
        ) from None
    try:
        table: Any = holidays.country_holidays(country, subdiv=subdiv, language=language)
    except NotImplementedError as exc:
        raise InvalidArgument(f"Holidays({country!r}, subdiv={subdiv!r}): {exc}") from None
    supported = getattr(table, "supported_languages", ())
    if supported and language not in supported and language != "en_US":
        raise InvalidArgument(
            f"Holidays({country!r}): language {language!r} is not one of the names' "
            f"languages for this country ({', '.join(sorted(supported))})"
        )
    return table  # type: ignore[no-any-return]


@attrs.frozen
class Holidays(Calendar):
    """Exclude the public holidays of a country (ISO code), or of one of its subdivisions.

    Uses the ``holidays`` package, in the optional extra ``holidays``
    (``pip install -e '.[holidays]'`` in a clone); the dates are those of the installed
    version of that package.  The reason is the holiday's name and the place:
    ``"Christmas Day (FR)"``.  Names are in English (``language="en_US"``) whatever the
    process's locale, so that previews and logs read the same everywhere; give
    ``language="fr"`` (any language the package has for the country) for local names.

    Example:
        ```python
        tk.Cron("0 9 * * MON-FRI", tz=PARIS).excluding(tk.Holidays("FR"))
        tk.Cron("0 9 * * *", tz=NEW_YORK).excluding(tk.Holidays("US", subdiv="NY"))
        ```

    Raises:
        InvalidArgument: the package is missing, or it does not know the country or the
            subdivision.
    """

    country: str = attrs.field()
    subdiv: str | None = attrs.field(default=None)
    tz: tzinfo | None = attrs.field(default=None, kw_only=True, validator=_check_optional_tz)
    language: str = attrs.field(default="en_US", kw_only=True)
    _table: Mapping[date, str] = attrs.field(init=False, eq=False, repr=False, hash=False)

    @language.validator
    def _check_language(self, _attribute: object, value: object) -> None:
        if not isinstance(value, str):
            raise TypeError(f"language must be a language code such as 'fr', got {value!r}")

    @country.validator
    def _check_country(self, _attribute: object, value: object) -> None:
        if not isinstance(value, str):
            raise TypeError(f"country must be an ISO country code, got {type_name(value)}")

    @_table.default
    def _load(self) -> Mapping[date, str]:
        if not isinstance(self.language, str):  # checked first: the table needs it
            raise TypeError(f"language must be a language code such as 'fr', got {self.language!r}")
        return _holiday_table(self.country, self.subdiv, self.language)

    def __repr__(self) -> str:
        subdiv = "" if self.subdiv is None else f", subdiv={self.subdiv!r}"
        language = "" if self.language == "en_US" else f", language={self.language!r}"
        return f"Holidays({self.country!r}{subdiv}{language}" + _tz_text(self.tz) + ")"

    def reason(self, day: date) -> str | None:
        """The holiday's name and place (``"Christmas Day (FR)"``), or ``None``."""
        name = self._table.get(day)
        if name is None:
            return None
        place = self.country if self.subdiv is None else f"{self.country}-{self.subdiv}"
        return f"{name} ({place})"
