"""Parse a cron expression into the sets of values each field matches.

This is the only module that imports ``croniter``.  croniter expands the plain items of each
field (numbers, names, ranges, steps); before that, the expression is checked here against
the grammar that turnkeeper_trio documents, and normalized where croniter differs from it:
``a-a/s`` and ``max/s`` mean ``{a}`` (croniter 7 reads ``a-a/s`` as ``*/s``); a list that
holds a bare ``*`` is ``*`` (a list is a union), before the field is classified; Sunday at
the end of a day-of-week range is 7 (``SAT-SUN``); and a range whose start is after its end
wraps through the field's maximum, as Quartz reads it (``FRI-MON``, hour ``22-2``, its step
counted across the wrap).  The day-level
extensions are read here, not by croniter, so they mean the same on every croniter release:
``L``, ``LW`` and ``nW`` in the day of month, ``dL`` and ``d#n`` in the day of week, and ``?``
in either (no constraint; it counts as ``*`` for the Vixie day rule).  Iteration and the
day-field rule are not croniter's either: see ``_cron.py``.
"""

from __future__ import annotations

import re

import attrs
from croniter import croniter

from ._exceptions import InvalidSchedule

__all__ = ["CronFields", "canonical_fields", "parse_cron"]

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@attrs.frozen
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_base: int = 0

    def value(self, text: str, expr: str) -> int:
        lowered = text.lower()
        if lowered in self.names:
            return self.names.index(lowered) + self.names_base
        if not text.isdigit():
            raise InvalidSchedule(f"cron {expr!r}: {self.name} value {text!r} is not a number")
        number = int(text)
        if not self.low <= number <= self.high:
            raise InvalidSchedule(
                f"cron {expr!r}: {self.name} value {number} is out of range {self.low}-{self.high}"
            )
        return number


_SECOND = _FieldSpec("second", 0, 59)
_MINUTE = _FieldSpec("minute", 0, 59)
_HOUR = _FieldSpec("hour", 0, 23)
_DAY_OF_MONTH = _FieldSpec("day-of-month", 1, 31)
_MONTH = _FieldSpec("month", 1, 12, _MONTHS, 1)
_DAY_OF_WEEK = _FieldSpec("day-of-week", 0, 7, _DAYS, 0)

_ITEM = re.compile(
    r"""^(?:
        (?P<star>\*)(?:/(?P<star_step>\d+))?
      | (?P<start>[a-z0-9]+)(?:-(?P<end>[a-z0-9]+))?(?:/(?P<step>\d+))?
    )$""",
    re.VERBOSE | re.IGNORECASE,
)
_NTH = re.compile(r"^(?P<day>[a-z0-9]+)#(?P<nth>\d+)$", re.IGNORECASE)
_NEAREST_WEEKDAY = re.compile(r"^(?P<day>\d+)W$", re.IGNORECASE)
_LAST_OF_WEEKDAY = re.compile(r"^(?P<day>[a-z0-9]+)L$", re.IGNORECASE)


@attrs.frozen
class CronFields:
    """The expanded fields of a cron expression, ready for fast iteration."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    #: Plain days of month (``?`` and ``*`` give all of 1-31).
    days_of_month: frozenset[int]
    #: ``L``: the last day of the month.
    last_day_of_month: bool
    #: ``LW``: the last weekday (Monday-Friday) of the month.
    last_weekday_of_month: bool
    #: ``nW``: the weekday nearest to day n, within its month (only months that have day n).
    nearest_weekdays: frozenset[int]
    months: frozenset[int]
    #: Days of week matched on every week, 0 = Sunday ... 6 = Saturday.
    days_of_week: frozenset[int]
    #: Days of week matched only on their n-th occurrence in the month (``MON#2``).
    nth_days_of_week: tuple[tuple[int, frozenset[int]], ...]
    #: ``dL``: days of week matched on their last occurrence in the month (``5L``, ``FRIL``).
    last_days_of_week: frozenset[int]
    #: Vixie cron: when either day field starts with ``*`` (or is ``?``), both must match.
    days_and: bool
    #: Wildcard schedules fire on every matching instant (see ``_wall.py``).
    wildcard: bool
    #: The field texts the rules above read (seconds first if given), a list that holds a
    #: bare ``*`` already ``*``.
    texts: tuple[str, ...] = ()


@attrs.define
class _DayExtensions:
    """The day-level items of one expression, read here instead of by croniter."""

    last_day: bool = False
    last_weekday: bool = False
    nearest: set[int] = attrs.Factory(set)
    nth: dict[int, set[int]] = attrs.Factory(dict)
    last_of: set[int] = attrs.Factory(set)


def _day_item(item: str, spec: _FieldSpec, expr: str, ext: _DayExtensions) -> bool:
    """Record *item* if it is a day-level extension of its field; say whether it was."""
    lowered = item.lower()
    if spec is _DAY_OF_MONTH:
        if lowered == "l":
            ext.last_day = True
        elif lowered == "lw":
            ext.last_weekday = True
        elif nearest := _NEAREST_WEEKDAY.match(item):
            ext.nearest.add(spec.value(nearest["day"], expr))
        else:
            return False
        return True
    if spec is _DAY_OF_WEEK:
        if nth := _NTH.match(item):
            day = spec.value(nth["day"], expr) % 7
            count = int(nth["nth"])
            if not 1 <= count <= 5:
                raise InvalidSchedule(
                    f"cron {expr!r}: day-of-week {item!r}: the n in '#n' must be 1-5, got {count}"
                )
            ext.nth.setdefault(day, set()).add(count)
        elif last := _LAST_OF_WEEKDAY.match(item):
            ext.last_of.add(spec.value(last["day"], expr) % 7)
        else:
            return False
        return True
    return False


def _check_item(item: str, spec: _FieldSpec, expr: str) -> str:
    """Validate one plain comma-separated item; return it normalized for croniter."""
    match = _ITEM.match(item)
    if match is None:
        raise InvalidSchedule(
            f"cron {expr!r}: {spec.name} item {item!r} is not valid "
            "(expected *, */s, a, a-b, a-b/s or a/s)"
        )
    step_text = match["star_step"] or match["step"]
    step = int(step_text) if step_text is not None else 1
    if step == 0:
        raise InvalidSchedule(f"cron {expr!r}: {spec.name} step in {item!r} must be >= 1")
    if match["star"]:
        return item
    start = spec.value(match["start"], expr)
    end = spec.value(match["end"], expr) if match["end"] is not None else None
    if spec is _DAY_OF_WEEK and end is not None and end < start:
        if end == 0:
            end = 7  # Sunday ends a range as 7: SAT-SUN, MON-SUN
        elif start == 7:
            start = 0  # Sunday starts a range as 0: 7-2 is SUN-TUE
    if end is not None and end < start:
        return _wrapped(start, end, step, spec)
    if end is None and step_text is not None:
        end = spec.high  # a/s is a-max/s, as in most crons
    if end is None or end == start:
        return str(start)  # a, a-a/s and max/s are {a}; croniter 7 reads a-a/s as */s
    return f"{start}-{end}" + (f"/{step}" if step_text is not None else "")


def _wrapped(start: int, end: int, step: int, spec: _FieldSpec) -> str:
    """A range past the field's maximum and round to *end*, as an explicit list (Quartz).

    The step counts across the wrap: hour ``22-2/2`` is 22, 0 and 2.
    """
    high = 6 if spec is _DAY_OF_WEEK else spec.high  # 7 is Sunday again, which is 0
    size = high - spec.low + 1
    stop = end + size
    values = [spec.low + (i - spec.low) % size for i in range(start, stop + 1, step)]
    return ",".join(str(v) for v in values)


def _check_field(text: str, spec: _FieldSpec, expr: str, ext: _DayExtensions) -> str:
    """Validate one field; return its plain items for croniter (``*`` if it has none).

    A list with a bare ``*`` among its items is ``*``: every item is still checked, but the
    union is the whole field (its day-level extensions add nothing either).
    """
    items = text.split(",")
    if any(not item for item in items):
        raise InvalidSchedule(f"cron {expr!r}: {spec.name} field {text!r} has an empty item")
    if "?" in text:
        if spec not in (_DAY_OF_MONTH, _DAY_OF_WEEK):
            raise InvalidSchedule(
                f"cron {expr!r}: {spec.name} item '?' is not valid: '?' (no constraint) "
                "is for the day-of-month and day-of-week fields"
            )
        if text != "?":
            raise InvalidSchedule(
                f"cron {expr!r}: {spec.name} field {text!r}: '?' must stand alone"
            )
        return "*"
    if "*" in items:
        for item in items:
            if not _day_item(item, spec, expr, _DayExtensions()):
                _check_item(item, spec, expr)
        return "*"
    plain = [
        _check_item(item, spec, expr) for item in items if not _day_item(item, spec, expr, ext)
    ]
    return ",".join(plain)


def _field_text(text: str) -> str:
    """The text the field rules read: ``*`` for a list that holds a bare ``*``."""
    return "*" if "*" in text.split(",") else text


def _extension_text(ext: _DayExtensions) -> str:
    """The one day-level item recorded in *ext*, in numbers (``FRIL`` is ``5L``)."""
    if ext.last_day:
        return "L"
    if ext.last_weekday:
        return "LW"
    if ext.nearest:
        return f"{min(ext.nearest)}W"
    if ext.last_of:
        return f"{min(ext.last_of)}L"
    day, counts = next(iter(ext.nth.items()))
    return f"{day}#{min(counts)}"


def _fields_of(expr: str) -> tuple[list[str], tuple[_FieldSpec, ...]]:
    """The field texts of *expr* (nicknames expanded) and their specs; checks the count."""
    text = expr.strip()
    if text.startswith("@"):
        try:
            text = NICKNAMES[text.lower()]
        except KeyError:
            raise InvalidSchedule(
                f"cron {expr!r}: unknown nickname; expected one of {', '.join(NICKNAMES)}"
            ) from None
    parts = text.split()
    if len(parts) == 5:
        return parts, (_MINUTE, _HOUR, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK)
    if len(parts) == 6:
        return parts, (_SECOND, _MINUTE, _HOUR, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK)
    raise InvalidSchedule(
        f"cron {expr!r}: expected 5 fields (minute hour day-of-month month day-of-week) "
        f"or 6 with seconds first, got {len(parts)}"
    )


def canonical_fields(expr: str) -> tuple[str, ...]:
    """The fields of a valid *expr* in the plainest standard form that means the same.

    Nicknames expanded, names as numbers, a list holding ``*`` as ``*``, ``a/s`` as
    ``a-max/s``, ``a-a/s`` and ``max/s`` as ``a``, wrapping ranges as explicit lists: what
    a reader of standard cron syntax (such as a describer) cannot misread.  Seconds first
    when given.
    """
    parse_cron(expr)  # the same checks, the same errors
    parts, specs = _fields_of(expr)
    texts = []
    for part, spec in zip(parts, specs, strict=True):
        items = part.split(",")
        if "*" in items or part == "?":
            texts.append("*" if "*" in items else "?")
            continue
        canonical = []
        for item in items:
            ext = _DayExtensions()
            if _day_item(item, spec, expr, ext):
                canonical.append(_extension_text(ext))
            else:
                canonical.append(_check_item(item, spec, expr))
        texts.append(",".join(canonical))
    return tuple(texts)


def parse_cron(expr: str) -> CronFields:
    """Validate and expand *expr*; raise ``InvalidSchedule`` naming the field at fault."""
    if not isinstance(expr, str):
        raise TypeError(f"expr must be a cron expression string, got {type(expr).__name__}")
    if not expr.isascii():
        raise InvalidSchedule(f"cron {expr!r}: only ASCII characters are allowed")
    parts, specs = _fields_of(expr)
    ext = _DayExtensions()
    normalized = [
        _check_field(part, spec, expr, ext) for part, spec in zip(parts, specs, strict=True)
    ]
    # A day field made only of extensions has no plain days for croniter to expand.
    dom_plain, dow_plain_text = normalized[-3], normalized[-1]
    normalized[-3] = dom_plain or "*"
    normalized[-1] = dow_plain_text or "*"
    # croniter's own 6-field form has the seconds last, in every version the range allows
    # (``second_at_beginning=`` is newer than croniter 2.0); it lists the fields that way too.
    if len(normalized) == 6:
        normalized = [*normalized[1:], normalized[0]]
    try:
        expanded, _nth = croniter.expand(" ".join(normalized))
    except ValueError as exc:  # croniter's own errors are ValueError subclasses
        raise InvalidSchedule(f"cron {expr!r}: {exc}") from None
    expanded = [[0], *expanded] if len(parts) == 5 else [expanded[5], *expanded[:5]]

    def values(index: int, spec: _FieldSpec) -> tuple[int, ...]:
        field = expanded[index]
        if field == ["*"]:
            high = 6 if spec is _DAY_OF_WEEK else spec.high  # 7 is Sunday again
            return tuple(range(spec.low, high + 1))
        return tuple(sorted({int(v) for v in field}))

    texts = tuple(_field_text(part) for part in parts)
    dom_text, dow_text = texts[-3], texts[-1]
    return CronFields(
        seconds=values(0, _SECOND),
        minutes=values(1, _MINUTE),
        hours=values(2, _HOUR),
        days_of_month=frozenset(values(3, _DAY_OF_MONTH)) if dom_plain else frozenset(),
        last_day_of_month=ext.last_day,
        last_weekday_of_month=ext.last_weekday,
        nearest_weekdays=frozenset(ext.nearest),
        months=frozenset(values(4, _MONTH)),
        days_of_week=(
            frozenset(v % 7 for v in values(5, _DAY_OF_WEEK)) if dow_plain_text else frozenset()
        ),
        nth_days_of_week=tuple(sorted((day, frozenset(n)) for day, n in ext.nth.items())),
        last_days_of_week=frozenset(ext.last_of),
        days_and=dom_text[0] in "*?" or dow_text[0] in "*?",
        # Fixed-time unless the seconds (if given), minute or hour field starts with '*'.
        wildcard=any(field.startswith("*") for field in texts[:-3]),
        texts=texts,
    )
