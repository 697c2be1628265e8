"""A deliberately simple, independent reference evaluator for wall-clock schedules.

It walks real instants minute by minute and applies the DESIGN rules literally; it shares
no code with the library (and never calls croniter), so the property tests compare two
independent readings of the same specification.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

MINUTE = timedelta(minutes=1)
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

WallMatcher = Callable[[datetime], bool]


def _value(text: str, names: list[str], base: int) -> int:
    return names.index(text.lower()) + base if text.lower() in names else int(text)


def _field(text: str, low: int, high: int, names: list[str] = [], base: int = 0) -> set[int]:  # noqa: B006
    values: set[int] = set()
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
        else:
            start = _value(item, names, base)
            end = high if step != 1 else start
        values.update(range(start, end + 1, step))
    return values


def cron_matcher(expr: str) -> tuple[WallMatcher, bool]:
    """Return (matcher of naive local wall times, is_wildcard) for a 5-field expression."""
    minute, hour, dom, month, dow = expr.split()
    minutes = _field(minute, 0, 59)
    hours = _field(hour, 0, 23)
    months = _field(month, 1, 12, MONTHS, 1)
    last_day = "L" in dom.upper().split(",")
    doms = _field(",".join(x for x in dom.split(",") if x.upper() != "L") or "0-0", 1, 31) - {0}
    nth: dict[int, set[int]] = {}
    dows: set[int] = set()
    for item in dow.split(","):
        if "#" in item:
            day, count = item.split("#")
            nth.setdefault(_value(day, DAYS, 0) % 7, set()).add(int(count))
        else:
            dows |= {d % 7 for d in _field(item, 0, 7, DAYS, 0)}
    day_and = dom.startswith("*") or dow.startswith("*")

    def matches(wall: datetime) -> bool:
        if wall.minute not in minutes or wall.hour not in hours or wall.month not in months:
            return False
        length = calendar.monthrange(wall.year, wall.month)[1]
        dom_ok = wall.day in doms or (last_day and wall.day == length)
        cron_dow = (wall.weekday() + 1) % 7
        dow_ok = cron_dow in dows or ((wall.day - 1) // 7 + 1) in nth.get(cron_dow, set())
        return (dom_ok and dow_ok) if day_and else (dom_ok or dow_ok)

    wildcard = minute.startswith("*") or hour.startswith("*")
    return matches, wildcard


def _wall(instant: datetime, tz: tzinfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def reference_next(
    matches: WallMatcher, tz: tzinfo, after: datetime, *, fixed: bool, horizon: timedelta
) -> datetime | None:
    """First fire strictly after *after*, by walking UTC minutes (offsets are whole minutes)."""
    start = after.astimezone(UTC).replace(second=0, microsecond=0)
    instant = start
    end = start + horizon
    while instant <= end:
        if instant > after and _fires(matches, tz, instant, fixed=fixed):
            return instant
        instant += MINUTE
    return None


def _fires(matches: WallMatcher, tz: tzinfo, instant: datetime, *, fixed: bool) -> bool:
    wall = _wall(instant, tz)
    if not fixed:
        return matches(wall)
    if matches(wall):
        # An ambiguous wall time fires at its first occurrence only.
        earlier = [_wall(instant - k * MINUTE, tz) for k in range(1, 181)]
        if wall not in earlier:
            return True
    before = _wall(instant - MINUTE, tz)
    if wall - before > MINUTE:
        # A spring-forward transition: wall times skipped by the gap fire here, once.
        skipped = before + MINUTE
        while skipped < wall:
            if matches(skipped):
                return True
            skipped += MINUTE
    return False
