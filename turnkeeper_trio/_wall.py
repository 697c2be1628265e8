"""The one rule that turns matching *wall times* in a zone into fire *instants*.

Every wall-clock schedule (``WeekdayTimes`` and ``Cron``) produces the local wall times that
match it, in increasing order, and hands them to ``next_instant_after``, which applies
the project's DST rule:

* fixed-time schedules: a wall time in a spring-forward gap fires once, at the first instant
  after the gap (the transition itself); an ambiguous wall time in a fall-back fold fires once,
  at its first occurrence;
* wildcard schedules: every real instant whose local wall time matches fires; so nothing fires
  in a gap and both passes of a repeated hour fire.

Fixed-time schedules may choose other answers with :class:`DST` (``dst=`` on ``Cron``,
``WeekdayTimes`` and ``RRule``): at a gap, ``"end"`` (the rule above, the default), ``"shift"``
(the wall time moved later by the gap's length: 02:30 in a one-hour gap runs at 03:30) or
``"skip"`` (not at all); at a fold, ``"first"`` (the default), ``"last"`` or ``"both"``.
Wildcard schedules keep their own rule.

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
from typing import Literal

import attrs

from ._exceptions import InvalidSchedule

__all__ = ["DST", "WallSource", "next_instant_after", "resolve_wall", "transition_between"]

GapRule = Literal["end", "shift", "skip"]
FoldRule = Literal["first", "last", "both"]
_GAPS = ("end", "shift", "skip")
_FOLDS = ("first", "last", "both")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise InvalidSchedule(f"DST {name} must be one of {listed}, got {value!r}")


@attrs.frozen
class DST:
    """What a fixed-time schedule does when a DST change removes or repeats its wall time.

    *gap* is for a wall time that does not exist (clocks spring forward over it):
    ``"end"`` runs once at the end of the gap (the default), ``"shift"`` runs the gap's
    length later (02:30 in a one-hour gap runs at 03:30), ``"skip"`` does not run that day.
    *fold* is for a wall time that happens twice (clocks fall back): ``"first"`` runs at
    the first pass (the default), ``"last"`` at the second, ``"both"`` at each.  ``DST()``
    is the project's rule.  Wildcard schedules (``* * * * *``, ``FREQ=MINUTELY``) fire at
    every real instant whose wall time matches, and take no ``dst=``.

    Example:
        ```python
        tk.Cron("30 2 * * *", tz=ZoneInfo("Europe/Paris"), dst=tk.DST(gap="skip", fold="both"))
        ```

    Raises:
        InvalidSchedule: *gap* or *fold* is not one of the names above.
    """

    gap: GapRule = attrs.field(default="end")
    fold: FoldRule = attrs.field(default="first")

    @gap.validator
    def _check_gap(self, _attribute: object, value: object) -> None:
        _check_choice("gap", value, _GAPS)

    @fold.validator
    def _check_fold(self, _attribute: object, value: object) -> None:
        _check_choice("fold", value, _FOLDS)

    @property
    def is_default(self) -> bool:
        """Whether this is the project's rule (``gap="end"``, ``fold="first"``)."""
        return self.gap == "end" and self.fold == "first"


#: The project's rule; shared, since a ``DST`` is a frozen value.
DEFAULT_DST = DST()


def check_dst(value: object, *, wildcard: bool, where: str) -> DST:
    """*value* as a ``DST``; a non-default one on a wildcard schedule is refused."""
    if not isinstance(value, DST):
        raise TypeError(f"dst must be a tk.DST, got {type(value).__name__} {value!r}")
    if wildcard and not value.is_default:
        raise InvalidSchedule(
            f"{where}: dst= applies to fixed-time schedules; this one is a wildcard schedule, "
            "which fires at every real instant whose wall time matches (nothing in a gap, "
            "both passes of a fold)"
        )
    return value


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


def resolve_wall(
    wall: datetime, tz: tzinfo, *, fixed: bool, dst: DST = DEFAULT_DST
) -> list[datetime]:
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
        if not fixed or dst.fold == "both":
            return [first, second]
        return [second] if dst.fold == "last" else [first]
    # A gap: per PEP 495, fold=0 used the offset before the transition, fold=1 the one after.
    if not fixed or dst.gap == "skip":
        return []
    if dst.gap == "shift":
        return [first]  # the wall time read with the offset before: the gap's length later
    return [_transition(tz, second, first)]


def next_instant_after(
    walls_from: WallSource, tz: tzinfo, after: datetime, *, fixed: bool, dst: DST = DEFAULT_DST
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
    if fixed and dst.gap == "shift":
        # A wall time in a gap just before `after` may run the gap's length later, after it.
        offset_earlier = _offset_at(tz, _shifted(after_utc, -_ONE_DAY) or datetime.min)
        lookback = max(lookback, offset_now - offset_earlier)
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
        for instant in resolve_wall(wall, tz, fixed=fixed, dst=dst):
            if instant > after_utc and (best is None or instant < best):
                best = instant
    if best is None:
        return None
    return best.replace(tzinfo=UTC).astimezone(tz)
