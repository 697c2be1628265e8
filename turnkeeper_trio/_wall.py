"""The one rule that turns matching *wall times* in a zone into fire *instants*.

Every wall-clock schedule (``WeekdayTimes`` and ``Cron``) produces the local wall times that
match it, in increasing order, and hands them to ``next_instant_after``, which applies
the project's DST rule:

* fixed-time schedules: a wall time in a spring-forward gap fires once, at the first instant
  after the gap (the transition itself); an ambiguous wall time in a fall-back fold fires once,
  at its first occurrence;
* wildcard schedules: every real instant whose local wall time matches fires; so nothing fires
  in a gap and both passes of a repeated hour fire.

Several wall times resolving to the same instant fire once, because callers ask for the first
instant *strictly* after the previous one.  All comparisons here are between naive UTC values,
never between wall times: Python ignores ``fold`` when comparing datetimes sharing a tzinfo.

At the ends of the calendar (``datetime.min`` and ``datetime.max``) a wall time whose instant
cannot be represented, or an instant whose wall time cannot, does not exist: nothing fires
there, and ``next_instant_after`` answers ``None`` once no representable fire is left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["WallSource", "next_instant_after", "resolve_wall", "transition_between"]

#: Produces the matching wall times >= a naive local start, in increasing order.
WallSource = Callable[[datetime], Iterator[datetime]]

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_ZERO = timedelta(0)
#: Instants this close to the ends of the calendar take their offset from a little inside it
#: (no zone's offset reaches a day, and no zone changes its clocks there).
_EDGE = timedelta(days=2)


def _offset_at(tz: tzinfo, instant: datetime) -> timedelta:
    """Return the UTC offset of *tz* at the naive-UTC *instant*."""
    instant = min(max(instant, datetime.min + _EDGE), datetime.max - _EDGE)
    offset = instant.replace(tzinfo=UTC).astimezone(tz).utcoffset()
    assert offset is not None  # checked when the schedule was built
    return offset


def _shifted(value: datetime, delta: timedelta) -> datetime | None:
    """*value* + *delta*, or ``None`` when that leaves the calendar (years 1 to 9999)."""
    try:
        return value + delta
    except OverflowError:
        return None


def _utc_naive(value: datetime) -> datetime | None:
    """The aware *value* as a naive UTC instant; ``None`` past the end of the calendar.

    An instant before its start (year 1 in a zone east of UTC) is clamped to
    ``datetime.min``: nothing can fire before it anyway.
    """
    offset = value.utcoffset()
    assert offset is not None  # checked by the caller
    shifted = _shifted(value.replace(tzinfo=None), -offset)
    if shifted is None:
        return None if offset < _ZERO else datetime.min
    return shifted


def _transition(tz: tzinfo, before: datetime, after: datetime) -> datetime:
    """Find the transition instant in ``(before, after]`` (naive UTC), to the second.

    ``before`` has the pre-transition offset and ``after`` the post-transition one; zone
    transitions happen on whole seconds, so a bisection on seconds finds the exact instant.
    """
    target = _offset_at(tz, after)
    lo, hi = before, after
    while hi - lo > _ONE_SECOND:
        mid = lo + (hi - lo) // 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            mid = lo + _ONE_SECOND
        if _offset_at(tz, mid) == target:
            hi = mid
        else:
            lo = mid
    return hi


def transition_between(
    tz: tzinfo, start: datetime, end: datetime
) -> tuple[datetime, timedelta, timedelta] | None:
    """The offset change of *tz* in ``(start, end]`` (aware instants), if the offsets differ.

    Returns ``(instant, offset before, offset after)``, the instant aware in UTC.  Meant for
    consecutive fire times, which at most one DST transition separates.
    """
    lo, hi = _utc_naive(start), _utc_naive(end)
    if lo is None or hi is None:
        return None
    before, after = _offset_at(tz, lo), _offset_at(tz, hi)
    if before == after:
        return None
    moment = _transition(tz, lo, hi)
    return moment.replace(tzinfo=UTC), before, _offset_at(tz, moment)


def resolve_wall(wall: datetime, tz: tzinfo, *, fixed: bool) -> list[datetime]:
    """Return the instants (naive UTC, increasing) at which the naive local *wall* fires."""
    offset_first = wall.replace(tzinfo=tz, fold=0).utcoffset()
    offset_second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert offset_first is not None
    assert offset_second is not None
    first = _shifted(wall, -offset_first)
    if offset_first == offset_second:
        return [] if first is None else [first]
    second = _shifted(wall, -offset_second)
    if first is None or second is None:
        return []  # at the end of the calendar: an instant that cannot be represented
    if first < second:  # a fold: the wall time happens twice
        return [first] if fixed else [first, second]
    # A gap: per PEP 495, fold=0 used the offset before the transition, fold=1 the one after.
    return [_transition(tz, second, first)] if fixed else []


def next_instant_after(
    walls_from: WallSource, tz: tzinfo, after: datetime, *, fixed: bool
) -> datetime | None:
    """Return the first fire instant strictly after the aware *after*, in *tz*, or ``None``."""
    after_utc = _utc_naive(after)
    if after_utc is None:
        return None  # after the last representable instant
    offset_now = _offset_at(tz, after_utc)
    offset_later = _offset_at(tz, _shifted(after_utc, _ONE_DAY) or datetime.max)
    # After a fall-back within the next day, instants later than `after` have wall times up to
    # the fold's size *earlier* than `after`'s wall time: start looking that far back.
    lookback = max(offset_now - offset_later, _ZERO)
    max_offset = max(offset_now, offset_later)
    start = _shifted(after_utc, offset_now - lookback)
    if start is None:
        if offset_now - lookback > _ZERO:
            return None  # the wall time is past the end of the calendar: none is left
        start = datetime.min
    best: datetime | None = None
    for wall in walls_from(start):
        # No instant of this wall time (or any later one) can come before `best`.
        earliest = _shifted(wall, -max_offset)
        if best is not None and earliest is not None and earliest > best:
            break
        for instant in resolve_wall(wall, tz, fixed=fixed):
            if instant > after_utc and (best is None or instant < best):
                best = instant
    if best is None:
        return None
    return best.replace(tzinfo=UTC).astimezone(tz)
