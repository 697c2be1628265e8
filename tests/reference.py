"""A deliberately simple, independent reference evaluator for wall-clock schedules.

It walks real instants minute by minute and applies the DESIGN rules literally; it shares
no code with the library (and never calls croniter), so the property tests compare two
independent readings of the same specification.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

MINUTE = timedelta(minutes=1)
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

WallMatcher = Callable[[datetime], bool]


def _value(text: str, names: list[str], base: int) -> int:
    return names.index(text.lower()) + base if text.lower() in names else int(text)


def _field(text: str, low: int, high: int, names: list[str] = [], base: int = 0) -> set[int]:  # noqa: B006
    values: set[int] = set()
    days = names is DAYS
    for item in text.split(","):
        step = 1
        if "/" in item:
            item, step_text = item.split("/")
            step = int(step_text)
        if item == "*":
            start, end = low, high
        elif "-" in item:
            a, b = item.split("-")
            start, end = _value(a, names, base), _value(b, names, base)
            if days and start > end and end == 0:
                end = 7  # Sunday at the end of a range: SAT-SUN is 6-7
            if days and start > end and start == 7:
                start = 0  # and at its start: 7-2 is SUN-TUE
            if start > end:
                # Wraps (Quartz): up to the field's top, on from its bottom; one step count.
                top = 6 if days else high
                cycle = [*range(start, top + 1), *range(low, end + 1)]
                values.update(cycle[::step])
                continue
        else:
            start = _value(item, names, base)
            end = high if step != 1 else start
        values.update(range(start, end + 1, step))
    return values


def _union(text: str) -> str:
    """A list is a union: one that holds a bare ``*`` is the whole field, ``*``."""
    return "*" if "*" in text.split(",") else text


def _weekdays(year: int, month: int) -> list[int]:
    """The days of the month that fall on Monday-Friday."""
    length = calendar.monthrange(year, month)[1]
    return [day for day in range(1, length + 1) if calendar.weekday(year, month, day) < 5]


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    """The Monday-Friday of the month closest to *day* (None if the month has no *day*)."""
    if day > calendar.monthrange(year, month)[1]:
        return None
    return min(_weekdays(year, month), key=lambda d: abs(d - day))


@dataclass(frozen=True)
class CronReference:
    """A literal reading of a 5- or 6-field cron expression, independent of the library."""

    matches: WallMatcher
    wildcard: bool
    #: The second values, for walking instants within each minute.
    seconds: tuple[int, ...]
    #: Whether a date matches the day-of-month, day-of-week and month fields.
    day_matches: WallMatcher


def cron_reference(expr: str) -> CronReference:
    """Read *expr* (5 fields, or 6 with seconds first) the way the docs describe it."""
    fields = [_union(field) for field in expr.split()]
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, dom, month, dow = fields
    seconds = _field(second, 0, 59)
    minutes = _field(minute, 0, 59)
    hours = _field(hour, 0, 23)
    months = _field(month, 1, 12, MONTHS, 1)
    dom_items = [] if dom == "?" else dom.split(",")
    dow_items = [] if dow == "?" else dow.split(",")
    last_day = any(x.upper() == "L" for x in dom_items)
    last_weekday = any(x.upper() == "LW" for x in dom_items)
    nearest = {int(x[:-1]) for x in dom_items if x.upper().endswith("W") and x.upper() != "LW"}
    plain_dom = [x for x in dom_items if not x.upper().endswith(("L", "W"))]
    doms = set(range(1, 32)) if dom == "?" else _field(",".join(plain_dom) or "0-0", 1, 31) - {0}
    nth: dict[int, set[int]] = {}
    last_of: set[int] = set()
    dows: set[int] = set(range(7)) if dow == "?" else set()
    for item in dow_items:
        if "#" in item:
            day, count = item.split("#")
            nth.setdefault(_value(day, DAYS, 0) % 7, set()).add(int(count))
        elif item.upper().endswith("L"):
            last_of.add(_value(item[:-1], DAYS, 0) % 7)
        else:
            dows |= {d % 7 for d in _field(item, 0, 7, DAYS, 0)}
    day_and = dom[0] in "*?" or dow[0] in "*?"

    def day_matches(wall: datetime) -> bool:
        y, m, d = wall.year, wall.month, wall.day
        length = calendar.monthrange(y, m)[1]
        dom_ok = (
            d in doms
            or (last_day and d == length)
            or (last_weekday and d == _weekdays(y, m)[-1])
            or d in {_nearest_weekday(y, m, n) for n in nearest}
        )
        cron_dow = (wall.weekday() + 1) % 7
        dow_ok = (
            cron_dow in dows
            or ((d - 1) // 7 + 1) in nth.get(cron_dow, set())
            or (cron_dow in last_of and d + 7 > length)
        )
        if wall.month not in months:
            return False
        return (dom_ok and dow_ok) if day_and else (dom_ok or dow_ok)

    def matches(wall: datetime) -> bool:
        if wall.second not in seconds or wall.minute not in minutes:
            return False
        if wall.hour not in hours or wall.month not in months:
            return False
        return day_matches(wall)

    wildcard = any(f.startswith("*") for f in (second, minute, hour))
    return CronReference(matches, wildcard, tuple(sorted(seconds)), day_matches)


def _wall(instant: datetime, tz: tzinfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def reference_next(
    matches: WallMatcher,
    tz: tzinfo,
    after: datetime,
    *,
    fixed: bool,
    horizon: timedelta,
    seconds: tuple[int, ...] = (0,),
    gap: str = "end",
    fold: str = "first",
) -> datetime | None:
    """First fire strictly after *after*, by walking UTC minutes (offsets are whole minutes).

    Within each minute the instants at the given *seconds* are tried; second 0 always, since
    a spring-forward transition (on a whole minute) is where gap times fire.
    """
    start = after.astimezone(UTC).replace(second=0, microsecond=0)
    minute = start
    end = start + horizon
    offsets = sorted({0, *seconds})
    while minute <= end:
        for second in offsets:
            instant = minute + timedelta(seconds=second)
            if instant > after and _fires(
                matches, tz, instant, fixed=fixed, seconds=seconds, gap=gap, fold=fold
            ):
                return instant
        minute += MINUTE
    return None


def _fires(
    matches: WallMatcher,
    tz: tzinfo,
    instant: datetime,
    *,
    fixed: bool,
    seconds: tuple[int, ...],
    gap: str = "end",
    fold: str = "first",
) -> bool:
    """Whether *instant* fires, by the literal rule for each DST choice (gap, fold)."""
    wall = _wall(instant, tz)
    if not fixed:
        return matches(wall)
    if matches(wall):
        # A repeated wall time: "first" fires only where no earlier instant had the same wall
        # time, "last" only where no later one will, "both" at each.
        earlier = [_wall(instant - k * MINUTE, tz) for k in range(1, 181)]
        later = [_wall(instant + k * MINUTE, tz) for k in range(1, 181)]
        if fold == "both":
            return True
        if fold == "first" and wall not in earlier:
            return True
        if fold == "last" and wall not in later:
            return True
    if gap == "skip":
        return False
    if gap == "shift":
        # A wall time W that no instant has (clocks jumped over it, g long) runs at W + g.
        minute = instant.replace(second=0)
        if minute.astimezone(tz).utcoffset() == (minute - 180 * MINUTE).astimezone(tz).utcoffset():
            return False  # no clock change in the last three hours
        for k in range(1, 181):
            before = _wall(minute - k * MINUTE, tz)
            after = _wall(minute - (k - 1) * MINUTE, tz)
            if after - before > MINUTE:
                length = after - before - MINUTE
                shifted = wall - length
                if before + MINUTE <= shifted < after and matches(shifted):
                    return True
        return False
    if instant.second:
        return False
    before = _wall(instant - MINUTE, tz)
    if wall - before > MINUTE:
        # A spring-forward transition: wall times skipped by the gap fire here, once.
        skipped = before + MINUTE
        while skipped < wall:
            if any(matches(skipped.replace(second=s)) for s in seconds):
                return True
            skipped += MINUTE
    return False
