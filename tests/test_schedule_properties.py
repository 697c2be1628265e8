"""Property tests: every wall-clock schedule agrees with the brute-force reference, near DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

import turnkeeper_trio as tk

from .reference import cron_reference, reference_next

ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"]
HORIZON = timedelta(days=3)
#: The loaded profile sets the number of examples (500 in CI; see tests/conftest.py).
PROPERTY = settings()


@cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """UTC instants where the zone's offset changes, 2024-2029 (hourly scan, then bisection)."""
    tz = ZoneInfo(zone)
    found = []
    instant = datetime(2024, 1, 1, tzinfo=UTC)
    step = timedelta(hours=1)
    previous = instant.astimezone(tz).utcoffset()
    while instant.year < 2029:
        nxt = instant + step
        offset = nxt.astimezone(tz).utcoffset()
        if offset != previous:
            lo, hi = instant, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == offset:
                    hi = mid
                else:
                    lo = mid
            found.append(hi.replace(microsecond=0))
            previous = offset
        instant = nxt
    return tuple(found)


@st.composite
def instants(draw: st.DrawFn, zone: str) -> datetime:
    """Aware instants, mostly within a day and a half of one of the zone's transitions."""
    near = transitions(zone)
    if near and draw(st.integers(0, 9)) < 8:
        base = draw(st.sampled_from(near))
    else:
        base = draw(st.datetimes(datetime(2024, 1, 1), datetime(2028, 12, 1))).replace(tzinfo=UTC)
    # Within a day and a half, and half of the time within the three hours around it.
    spread = draw(st.sampled_from([36 * 3600, 3 * 3600, 90 * 60]))
    seconds = draw(st.integers(-spread, spread))
    # Whole minutes half of the time: fires sit on minute boundaries.
    if draw(st.booleans()):
        seconds -= seconds % 60
    return (base.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(ZoneInfo(zone))


# `max/s` items (a start-step starting at the field's maximum: `59/15` is minute 59 only) in
# every field, and the day-level extensions, mixed so both Vixie day rules (AND, OR) occur.
# Lists that hold a bare `*` (the whole field, also for the DST and day rules), ranges that
# wrap through the field's maximum (Quartz), and Sunday as 7 at the end of a range.
SECONDS = st.sampled_from(
    ["0", "30", "0,30", "*/20", "*", "59/15", "15-45/15", "5", "30,*", "50-10/20"]
)
MINUTES = st.sampled_from(
    ["*", "*/15", "0", "30", "0,30", "5-20/5", "45", "*/7", "59", "59/15", "0,*", "45-15/10"]
)
HOURS = st.sampled_from(
    [
        *["*", "*", "*/2", "*/6", "2", "1-3", "9", "0,12", "2/3", "1", "0", "23", "23/5"],
        *["22-2", "23-1/2", "2,*/5,*", "3-1"],
    ]
)
DOMS = st.sampled_from(
    ["*"] * 6
    + ["1-15", "L", "*/2", "10,20", "?", "LW", "15W", "1W", "30W", "L,10", "31/10"]
    + ["1,*", "*,L", "28-3", "30-2/2"]
)
MONTHS = st.sampled_from(["*"] * 8 + ["1-6", "mar,nov", "oct-dec", "12/3", "nov-feb", "jan,*"])
DOWS = st.sampled_from(
    ["*"] * 5
    + ["mon-fri", "sun", "1#2", "0,6", "sat#1", "7", "?", "5L", "friL,mon#1", "7/3"]
    + ["sat-sun", "mon-sun", "fri-mon", "5-1/2", "7-2", "mon,*", "*,fri#2"]
)


@st.composite
def crons(draw: st.DrawFn) -> str:
    fields = [draw(field) for field in (MINUTES, HOURS, DOMS, MONTHS, DOWS)]
    if draw(st.integers(0, 3)) == 0:
        fields.insert(0, draw(SECONDS))
    expr = " ".join(fields)
    try:
        tk.Cron(expr)
    except tk.InvalidSchedule as exc:
        # Only a day/month combination that never exists may be refused: the reference
        # must find no matching day in eight years.
        if "can never fire" not in str(exc):
            raise
        day_matches = cron_reference(expr).day_matches
        day = datetime(2024, 1, 1)
        while day.year < 2032:
            assert not day_matches(day), f"{expr!r} refused, but matches {day:%Y-%m-%d}"
            day += timedelta(days=1)
        assume(False)
    return expr


def _check_against_reference(
    schedule: tk.abc.Schedule,
    matcher: object,
    tz: ZoneInfo,
    after: datetime,
    fixed: bool,
    seconds: tuple[int, ...] = (0,),
) -> None:
    got = schedule.next_after(after)
    assert got is not None
    assert got.tzinfo is not None
    assert got.timestamp() > after.timestamp()
    # Subtract as instants: aware datetimes sharing a tzinfo subtract as wall times.
    lead = timedelta(seconds=got.timestamp() - after.timestamp())
    # Scan up to the library's answer (inclusive), or the whole horizon if it lies beyond.
    horizon = lead + timedelta(minutes=1) if lead <= HORIZON else HORIZON
    expected = reference_next(
        matcher,  # type: ignore[arg-type]
        tz,
        after,
        fixed=fixed,
        horizon=horizon,
        seconds=seconds,
    )
    if lead <= HORIZON:
        assert expected is not None, f"reference found no fire up to {got}"
        assert got.timestamp() == expected.timestamp(), (got, expected)
    else:
        assert expected is None, f"missed a fire at {expected}"


@PROPERTY
@given(data=st.data(), expr=crons(), zone=st.sampled_from(ZONES))
def test_cron_agrees_with_the_reference(data: st.DataObject, expr: str, zone: str) -> None:
    tz = ZoneInfo(zone)
    after = data.draw(instants(zone))
    reference = cron_reference(expr)
    schedule = tk.Cron(expr, tz=tz)
    assert schedule.is_wildcard == reference.wildcard
    _check_against_reference(
        schedule, reference.matches, tz, after, not reference.wildcard, reference.seconds
    )


TIMES = st.builds(
    time,
    hour=st.sampled_from([0, 1, 2, 3, 9, 23]) | st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]) | st.integers(0, 59),
)
WEEKDAY_TIMES = st.lists(st.tuples(st.integers(0, 6), TIMES), min_size=1, max_size=5)


@PROPERTY
@given(data=st.data(), pairs=WEEKDAY_TIMES, zone=st.sampled_from(ZONES))
def test_weekday_times_agree_with_the_reference(
    data: st.DataObject, pairs: list[tuple[int, time]], zone: str
) -> None:
    tz = ZoneInfo(zone)
    after = data.draw(instants(zone))
    wanted = {(day, at.hour, at.minute) for day, at in pairs}

    def matches(wall: datetime) -> bool:
        return (wall.weekday(), wall.hour, wall.minute) in wanted

    schedule = tk.WeekdayTimes(pairs, tz=tz)
    _check_against_reference(schedule, matches, tz, after, fixed=True)


SCHEDULES = st.one_of(
    crons().map(lambda expr: ("cron", expr)),
    WEEKDAY_TIMES.map(lambda pairs: ("weekday", pairs)),
)


def _build(kind: str, spec: object, tz: ZoneInfo) -> tk.abc.Schedule:
    if kind == "cron":
        return tk.Cron(str(spec), tz=tz)
    return tk.WeekdayTimes(spec, tz=tz)  # type: ignore[arg-type]  # spec: list of pairs


@PROPERTY
@given(data=st.data(), spec=SCHEDULES, zone=st.sampled_from(ZONES))
def test_fires_increase_and_none_is_skipped(
    data: st.DataObject, spec: tuple[str, object], zone: str
) -> None:
    tz = ZoneInfo(zone)
    schedule = _build(*spec, tz)
    after = data.draw(instants(zone))
    first = schedule.next_after(after)
    assert first is not None
    second = schedule.next_after(first)
    assert second is not None
    assert second.timestamp() > first.timestamp()
    # Any instant in [first, second) leads to second; any in [after, first) leads to first.
    gap = second.timestamp() - first.timestamp()
    fraction = data.draw(st.floats(0, 1, exclude_max=True))
    between = first.astimezone(UTC) + timedelta(seconds=int(gap * fraction))
    if between.timestamp() < second.timestamp():
        assert schedule.next_after(between).timestamp() == second.timestamp()  # type: ignore[union-attr]
    lead = first.timestamp() - after.timestamp()
    before = after.astimezone(UTC) + timedelta(seconds=int(lead * fraction))
    if before.timestamp() < first.timestamp():
        assert schedule.next_after(before).timestamp() == first.timestamp()  # type: ignore[union-attr]


@PROPERTY
@given(
    data=st.data(),
    every=st.integers(1, 10 * 86400),
    zone=st.sampled_from(ZONES),
    anchor_shift=st.integers(-(10**7), 10**7),
)
def test_interval_fires_are_exactly_spaced(
    data: st.DataObject, every: int, zone: str, anchor_shift: int
) -> None:
    after = data.draw(instants(zone))
    start = after.astimezone(UTC) + timedelta(seconds=anchor_shift)
    schedule = tk.Interval(every, start=start)
    first = schedule.next_after(after)
    assert first is not None
    second = schedule.next_after(first)
    assert second is not None
    assert first.timestamp() > after.timestamp()
    assert second.timestamp() - first.timestamp() == every  # exact, as instants, across DST
    elapsed = first.timestamp() - start.timestamp()
    assert elapsed >= 0
    assert elapsed % every == 0
    if start.timestamp() <= after.timestamp():
        assert first.timestamp() - after.timestamp() <= every


@PROPERTY
@given(data=st.data(), zone=st.sampled_from(ZONES))
def test_once_fires_exactly_once(data: st.DataObject, zone: str) -> None:
    at = data.draw(instants(zone))
    after = data.draw(instants(zone))
    schedule = tk.Once(at)
    got = schedule.next_after(after)
    if at.timestamp() > after.timestamp():
        assert got == at
        assert schedule.next_after(at) is None
    else:
        assert got is None
    assert schedule.first_after(after) == (at if at.timestamp() > after.timestamp() else after)
    assert tk.Never().next_after(after) is None
