"""Upcoming fire times with the DST decisions behind them, for people to read.

The command line (``python -m turnkeeper_trio next``) prints these; anything that shows a
schedule to a person can use them.  The notes describe what the project's DST rule (see
``_wall.py``) decided on a day whose clocks change: a fixed-time wall time that does not exist
runs at the end of the gap, one that happens twice runs at its first pass; a wildcard schedule
skips the gap and runs in both passes.  Pure: no trio, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

import attrs

from ._combinators import Between, Excluding
from ._cron_fields import canonical_fields, parse_cron
from ._schedule import Schedule
from ._wall import DEFAULT_DST, DST, transition_between

__all__ = ["Fire", "describe_cron", "preview_fires"]

_ONE_SECOND = timedelta(seconds=1)


class _WallSchedule(Protocol):
    """What ``Cron`` and ``WeekdayTimes`` share: matching wall times in a zone."""

    tz: tzinfo

    def _walls_from(self, start: datetime) -> Iterator[datetime]: ...


@attrs.frozen
class Fire:
    """One upcoming fire instant and, on a DST-change day, what the rule decided."""

    #: The instant, aware, in the schedule's zone (``fold`` set for a second pass).
    at: datetime
    #: A sentence for people, or ``None`` when no clock change touches this fire.
    note: str | None = None
    #: For an occurrence an exclusion calendar removed: why (it does not fire).
    excluded: str | None = None


def _clock(wall: datetime) -> str:
    return wall.strftime("%H:%M:%S" if wall.second else "%H:%M")


def _listed(walls: list[datetime]) -> str:
    texts = [_clock(w) for w in walls[:3]] + (["..."] if len(walls) > 3 else [])
    return " and ".join(texts) if len(texts) <= 2 else ", ".join(texts)


def _zone(schedule: Schedule) -> tzinfo | None:
    tz = getattr(schedule, "tz", None)
    return tz if isinstance(tz, tzinfo) else None


def _walls_in(schedule: _WallSchedule, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's matching naive wall times in ``[start, end)``."""
    found = []
    for wall in schedule._walls_from(start):
        if wall >= end:
            break
        found.append(wall)
    return found


def _gap_note(
    schedule: _WallSchedule, previous: datetime, at: datetime, *, fixed: bool, dst: DST
) -> str | None:
    """Explain a spring-forward gap between *previous* and *at* (aware instants)."""
    tz = schedule.tz
    found = transition_between(tz, previous, at)
    if found is None:
        return None
    moment, before, after = found
    if after <= before:
        return None  # a fall-back: handled by the fold note
    gap_end = moment.astimezone(tz).replace(tzinfo=None)
    skipped = _walls_in(schedule, gap_end - (after - before), gap_end)
    if not skipped:
        return None
    day = f"{gap_end:%Y-%m-%d}"
    verb = "does" if len(skipped) == 1 else "do"
    if fixed and dst.gap == "skip":
        return f"{_listed(skipped)} {verb} not exist on {day}: skipped (dst gap='skip')"
    if fixed and dst.gap == "shift":
        local = at.astimezone(tz)
        return (
            f"{_listed(skipped)} {verb} not exist on {day}: shifted by the gap "
            f"({after - before}), next run {_clock(local)} {local:%Z}"
        )
    if fixed:
        if at.timestamp() != moment.timestamp():
            return None
        local = at.astimezone(tz)
        runs = "runs" if len(skipped) == 1 else "they run once"
        return f"{_listed(skipped)} {verb} not exist on {day}: {runs} at {_clock(local)} {local:%Z}"
    return f"{_listed(skipped)} {verb} not exist on {day}: skipped (wildcard schedules do)"


def _fold_note(schedule: _WallSchedule, at: datetime, *, fixed: bool, dst: DST) -> str | None:
    local = at.astimezone(schedule.tz)
    wall = local.replace(tzinfo=None)
    first = wall.replace(tzinfo=schedule.tz, fold=0)
    second = wall.replace(tzinfo=schedule.tz, fold=1)
    if first.utcoffset() == second.utcoffset() or first.timestamp() > second.timestamp():
        return None
    head = f"{_clock(wall)} happens twice on {wall:%Y-%m-%d}"
    which = "second" if local.fold else "first"
    if fixed and dst.fold == "last":
        return f"{head}: runs once, at the second ({second:%Z})"
    if fixed and dst.fold == "both":
        return f"{head}: runs at both (dst fold='both'); this is the {which} ({local:%Z})"
    if fixed:
        return f"{head}: runs once, at the first ({first:%Z})"
    which = "second" if local.fold else "first"
    return f"{head}: runs at both; this is the {which} ({local:%Z})"


def _unwrapped(schedule: Schedule) -> Schedule:
    """The wall-clock schedule inside exclusions and windows, whose DST decisions are shown."""
    while isinstance(schedule, Excluding | Between):
        schedule = schedule.schedule
    return schedule


def preview_fires(schedule: Schedule, after: datetime, count: int) -> list[Fire]:
    """The next *count* fires of *schedule* strictly after the aware *after*, with DST notes.

    Notes are given for wall-clock schedules (``Cron``, ``WeekdayTimes``, ``RRule``, also
    inside ``excluding`` and ``between``); other schedules fire in elapsed time, which no
    clock change moves.  For a schedule built with ``excluding``, the days it excludes up
    to the last fire are listed too, as ``Fire`` values with ``excluded`` set.
    """
    fires = _fires(schedule, after, count)
    if isinstance(schedule, Excluding):
        until = fires[-1].at if len(fires) == count and fires else None
        if until is None:
            until = after + timedelta(days=366)
        excluded = [Fire(x.at, None, x.reason) for x in schedule.excluded_between(after, until)]
        fires = sorted([*fires, *excluded], key=lambda f: f.at.timestamp())
    return fires


def _fires(schedule: Schedule, after: datetime, count: int) -> list[Fire]:
    inner = _unwrapped(schedule)
    tz = _zone(inner)
    walls = inner if tz is not None and hasattr(inner, "_walls_from") else None
    fixed = not getattr(inner, "is_wildcard", False)
    dst = getattr(inner, "dst", DEFAULT_DST)
    fires: list[Fire] = []
    previous = after
    for at in schedule.preview(after, count):
        note = None
        if walls is not None:
            assert tz is not None
            typed: _WallSchedule = walls  # type: ignore[assignment]  # checked by hasattr
            notes = [
                _gap_note(typed, previous, at, fixed=fixed, dst=dst),
                _fold_note(typed, at, fixed=fixed, dst=dst),
            ]
            note = "; ".join(n for n in notes if n) or None
            at = at.astimezone(tz)
        fires.append(Fire(at, note))
        previous = at
    return fires


def _day_items_mixed(text: str) -> bool:
    """Whether a day field lists a day-level item (``L``, ``W``, ``#``) with others."""
    return "," in text and any(mark in text for mark in "LW#")


def describe_cron(expr: str) -> str | None:
    """A sentence for a cron expression ("At 09:00, Monday through Friday"), if it is true.

    Uses the optional ``cron-descriptor`` package (extra ``describe``) on the expression's
    canonical form (``canonical_fields``: what it cannot misread), and says the day-field
    rule itself.  ``None`` when the package is not installed, or where no sentence of it
    would match the fires: when both day fields are restricted and one starts with ``*``
    (``0 0 */2 * MON``: the Vixie rule makes that "every other day *if* it is a Monday"), or
    a day field lists a day-level item (``L,15``) with others.
    """
    try:
        from cron_descriptor import ExpressionDescriptor, Options
    except ImportError:
        return None
    try:
        fields = parse_cron(expr)
        texts = [("*" if text == "?" else text) for text in canonical_fields(expr)]
    except (ValueError, TypeError):
        return None
    dom, dow = texts[-3], texts[-1]
    if _day_items_mixed(dom) or _day_items_mixed(dow):
        return None
    either = dom != "*" and dow != "*"  # both restrict the day
    if either and (fields.days_and or "/" in dow):
        return None
    options = Options()
    options.use_24hour_time_format = True
    try:
        descriptor = ExpressionDescriptor(" ".join(texts), options)
        if not either:
            return str(descriptor.get_description())
        # Vixie's OR: "on day 1 of the month, or Monday through Friday", said explicitly.
        on_weekday = descriptor.get_day_of_week_description().removeprefix(", ")
        on_weekday = on_weekday.removeprefix("or ").removeprefix("only ")
        text = (
            descriptor.get_time_of_day_description()
            + descriptor.get_day_of_month_description()
            + f", or {on_weekday}"
            + descriptor.get_month_description()
        )
        return str(ExpressionDescriptor.transform_case(text, options.casing_type))
    except Exception:  # its own errors, in any version: then no sentence rather than a wrong one
        return None


def utc_text(at: datetime) -> str:
    """*at* in UTC, ``2027-03-28 01:00:00 UTC``."""
    utc = at.astimezone(UTC)
    return f"{utc.date().isoformat()} {utc:%H:%M:%S} UTC"  # isoformat: years < 1000 too
