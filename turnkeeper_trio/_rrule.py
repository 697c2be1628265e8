"""``RRule``: RFC 5545 recurrence rules, through ``python-dateutil``, with the project's DST rule.

dateutil's ``rrule`` iterates naive *wall times* in the schedule's zone, from an anchor
(``dtstart``); ``_wall.next_instant_after`` turns them into instants, as for ``Cron``.  So
that ``next_after`` does not walk every occurrence since the anchor, a rule without
``COUNT`` is re-anchored a whole number of periods (``INTERVAL`` x ``FREQ``) before the
question, which leaves its occurrences unchanged.  Pure: no clock, no trio.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import attrs
from dateutil import rrule as _du

from ._exceptions import InvalidSchedule
from ._schedule import Schedule
from ._validation import check_aware, check_tz, type_name
from ._wall import DEFAULT_DST, DST, check_dst, next_instant_after

__all__ = ["RRule"]

#: The anchor of a rule given no ``dtstart``: fixed, so a rule never depends on the clock.
DEFAULT_ANCHOR = datetime(2000, 1, 1)
#: A rule must have an occurrence within this many years of its anchor.
_SEARCH_YEARS = 100
_SUB_DAILY = {"HOURLY", "MINUTELY", "SECONDLY"}
_STEP_SECONDS = {"WEEKLY": 604800, "DAILY": 86400, "HOURLY": 3600, "MINUTELY": 60, "SECONDLY": 1}
_UNTIL_UTC = re.compile(r"^(\d{8}T\d{6})Z$")


def _parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in text.split(";"):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidSchedule(f"rrule {text!r}: {item!r} is not NAME=VALUE")
        parts[name.strip().upper()] = value.strip()
    return parts


def _until_local(value: str, tz: tzinfo) -> str:
    """A UTC ``UNTIL`` (``...Z``) as the zone's wall time; a floating one is kept as is."""
    match = _UNTIL_UTC.match(value.upper())
    if match is None:
        return value
    try:
        instant = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        return instant.astimezone(tz).strftime("%Y%m%dT%H%M%S")
    except (ValueError, OverflowError):
        raise InvalidSchedule(f"rrule UNTIL={value!r} is not a date and time") from None


def _shift_anchor(anchor: datetime, freq: str, interval: int, start: datetime) -> datetime:
    """The latest ``anchor + k * interval periods`` (k >= 0) at least a period before *start*.

    Months and years are shifted only when the anchor's day exists in every month (<= 28).
    """
    if start <= anchor:
        return anchor
    if freq in ("YEARLY", "MONTHLY"):
        if anchor.day > 28:
            return anchor
        months = (start.year - anchor.year) * 12 + start.month - anchor.month
        step = interval * (12 if freq == "YEARLY" else 1)
        k = months // step - 1
        if k <= 0:
            return anchor
        total = anchor.month - 1 + k * step
        return anchor.replace(year=anchor.year + total // 12, month=total % 12 + 1)
    step_seconds = _STEP_SECONDS[freq] * interval
    k = int((start - anchor).total_seconds() // step_seconds) - 1
    return anchor + timedelta(seconds=k * step_seconds) if k > 0 else anchor


def _check_dtstart(_instance: object, _attribute: object, value: Any) -> None:
    if value is not None:
        if not isinstance(value, datetime):
            raise TypeError(f"dtstart must be an aware datetime, got {type_name(value)}")
        check_aware("dtstart", value)


@attrs.frozen
class RRule(Schedule):
    """Fire at the occurrences of an RFC 5545 recurrence rule, as wall times in *tz*.

    *rule* is one ``RRULE`` value (``"FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18"``, an ``RRULE:``
    prefix allowed), read by ``dateutil.rrule``.  *dtstart* (aware; read as a wall time in
    *tz*) anchors it: it gives the fields the rule leaves out (the time of day, the weekday
    of ``FREQ=WEEKLY``) and where ``INTERVAL`` and ``COUNT`` count from.  Without it the
    anchor is 2000-01-01 00:00 in *tz*, so a rule never depends on the clock; ``COUNT``
    then needs ``dtstart``.  ``UNTIL`` is a wall time in *tz*, or in UTC when it ends with
    ``Z``.  Wall times resolve to instants by the project's DST rule (or *dst*): rules of
    ``FREQ=HOURLY``, ``MINUTELY`` or ``SECONDLY`` without ``BYHOUR`` are wildcard
    schedules (every real instant whose wall time matches), all others fixed-time.

    Example:
        ```python
        tk.RRule("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18", tz=ZoneInfo("Europe/Paris"))
        tk.RRule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", dtstart=first_monday_9am)
        ```

    Raises:
        InvalidSchedule: the rule is malformed, has ``COUNT`` without *dtstart*, or has no
            occurrence within 100 years of its anchor.
        TypeError: *tz* is not a ``tzinfo`` or *dtstart* not a datetime.
    """

    rule: str = attrs.field()
    tz: tzinfo = attrs.field(default=UTC, kw_only=True)
    dtstart: datetime | None = attrs.field(default=None, kw_only=True, validator=_check_dtstart)
    dst: DST = attrs.field(default=DEFAULT_DST, kw_only=True)
    _rrule: Any = attrs.field(init=False, eq=False, repr=False)
    _freq: str = attrs.field(init=False, eq=False, repr=False)
    _wildcard: bool = attrs.field(init=False, eq=False, repr=False)
    _shiftable: bool = attrs.field(init=False, eq=False, repr=False)
    _interval: int = attrs.field(init=False, eq=False, repr=False)
    _cache: dict[datetime, Any] = attrs.field(init=False, eq=False, repr=False, factory=dict)

    @rule.validator
    def _check_rule(self, _attribute: object, value: object) -> None:
        if not isinstance(value, str):
            raise TypeError(f"rule must be an RRULE string, got {type_name(value)}")

    @tz.validator
    def _check_tz(self, _attribute: object, value: object) -> None:
        check_tz("tz", value)

    def __attrs_post_init__(self) -> None:
        text = self.rule.strip()
        if text.upper().startswith("RRULE:"):
            text = text[6:]
        if any(mark in text for mark in ("\n", "\r", ":")):
            raise InvalidSchedule(
                f"rrule {self.rule!r}: give one RRULE value (FREQ=...;...), and the anchor "
                "as dtstart="
            )
        parts = _parts(text)
        if "COUNT" in parts and self.dtstart is None:
            raise InvalidSchedule(
                f"rrule {self.rule!r}: COUNT needs dtstart= (which occurrences it counts "
                "depends on the anchor)"
            )
        if "UNTIL" in parts:
            parts["UNTIL"] = _until_local(parts["UNTIL"], self.tz)
        anchor = DEFAULT_ANCHOR
        if self.dtstart is not None:
            anchor = self.dtstart.astimezone(self.tz).replace(tzinfo=None)
        try:
            parsed = _du.rrulestr(
                ";".join(f"{k}={v}" for k, v in parts.items()),
                dtstart=anchor,
                cache="COUNT" in parts,
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise InvalidSchedule(f"rrule {self.rule!r}: {exc}") from None
        if not isinstance(parsed, _du.rrule):
            raise InvalidSchedule(f"rrule {self.rule!r}: give one RRULE value")
        freq = parts.get("FREQ", "").upper()
        set_ = object.__setattr__
        set_(self, "_rrule", parsed)
        set_(self, "_freq", freq)
        set_(self, "_wildcard", freq in _SUB_DAILY and "BYHOUR" not in parts)
        set_(self, "_shiftable", "COUNT" not in parts)
        set_(self, "_interval", int(parsed._interval))
        check_dst(self.dst, wildcard=self._wildcard, where=f"rrule {self.rule!r}")
        self._check_fires(parsed, anchor)

    def _check_fires(self, parsed: Any, anchor: datetime) -> None:
        try:
            horizon = anchor + timedelta(days=_SEARCH_YEARS * 366)
        except OverflowError:
            horizon = datetime.max
        until = horizon if parsed._until is None else min(parsed._until, horizon)
        probe = parsed
        if self._freq in _SUB_DAILY:
            # The days first: a sub-daily rule whose days never come would take dateutil
            # a long while to rule out minute by minute.
            probe = parsed.replace(
                freq=_du.DAILY,
                interval=1,
                count=None,
                until=until,
                byhour=None,
                byminute=None,
                bysecond=None,
                bysetpos=None,
            )
            if next(iter(probe), None) is None:
                self._never()
        if next(iter(parsed.replace(count=None, until=until)), None) is None:
            self._never()

    def _never(self) -> None:
        raise InvalidSchedule(
            f"rrule {self.rule!r}: the rule has no occurrence within {_SEARCH_YEARS} years "
            "of its anchor"
        )

    def __repr__(self) -> str:
        extra = "" if self.dtstart is None else f", dtstart={self.dtstart!r}"
        extra += "" if self.dst.is_default else f", dst={self.dst!r}"
        return f"RRule({self.rule!r}, tz={self.tz!r}{extra})"

    @property
    def is_wildcard(self) -> bool:
        """Whether the rule is a wildcard schedule (``FREQ=HOURLY`` or finer, no ``BYHOUR``)."""
        return self._wildcard

    def _walls_from(self, start: datetime) -> Iterator[datetime]:
        parsed = self._rrule
        if self._shiftable:
            anchor = parsed._dtstart
            shifted = _shift_anchor(anchor, self._freq, self._interval, start)
            if shifted != anchor:
                cached = self._cache.get(shifted)
                if cached is None:
                    if len(self._cache) > 64:  # bound the memory of a long-lived schedule
                        self._cache.clear()
                    cached = self._cache[shifted] = parsed.replace(dtstart=shifted)
                parsed = cached
        walls: Iterator[datetime] = parsed.xafter(start, inc=True)
        return walls

    def next_after(self, after: datetime) -> datetime | None:
        """Return the first occurrence strictly after *after*, as an instant.

        ``None`` once the rule has ended (``UNTIL``, ``COUNT``) or reaches year 9999.
        """
        check_aware("after", after)
        return next_instant_after(
            self._walls_from, self.tz, after, fixed=not self._wildcard, dst=self.dst
        )
