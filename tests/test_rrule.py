"""``RRule``: RFC 5545 rules, checked against dateutil in UTC and the reference across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given
from hypothesis import strategies as st

import turnkeeper_trio as tk

from .reference import reference_next
from .test_schedule_properties import HORIZON, PROPERTY, ZONES, instants

PARIS = ZoneInfo("Europe/Paris")
RULES = st.sampled_from(
    [
        "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18",
        "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;BYHOUR=1,9",
        "FREQ=YEARLY;BYMONTH=3,10;BYDAY=SU;BYHOUR=2;BYMINUTE=15",
        "FREQ=DAILY;INTERVAL=3;BYHOUR=0,12",
        "FREQ=MONTHLY;BYMONTHDAY=1,-1;BYHOUR=3",
        "FREQ=MINUTELY;INTERVAL=20",
        "FREQ=HOURLY;INTERVAL=5",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=17",
    ]
)
ANCHORS = st.datetimes(datetime(1995, 1, 1), datetime(2026, 1, 1)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)
)


@PROPERTY
@given(rule=RULES, anchor=ANCHORS, lead=st.integers(0, 90 * 86400))
def test_utc_rules_agree_with_dateutil(rule: str, anchor: datetime, lead: int) -> None:
    after = anchor + timedelta(seconds=lead)
    naive_anchor = anchor.replace(tzinfo=None)
    direct = rrulestr(rule, dtstart=naive_anchor)
    schedule = tk.RRule(rule, dtstart=anchor)
    at = after
    for _ in range(4):
        expected = direct.after(at.replace(tzinfo=None))
        got = schedule.next_after(at)
        assert got is not None
        assert got == expected.replace(tzinfo=UTC)
        at = got


@PROPERTY
@given(data=st.data(), rule=RULES, zone=st.sampled_from(ZONES))
def test_rules_agree_with_the_reference_across_dst(
    data: st.DataObject, rule: str, zone: str
) -> None:
    tz = ZoneInfo(zone)
    after = data.draw(instants(zone))
    lo = after.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    anchor = datetime.combine(lo.date() - timedelta(days=10), datetime.min.time())
    schedule = tk.RRule(rule, tz=tz, dtstart=anchor.replace(tzinfo=tz))
    direct = rrulestr(rule, dtstart=anchor)
    walls = set(direct.between(lo, lo + HORIZON + timedelta(days=2), inc=True))

    def matches(wall: datetime) -> bool:
        return wall in walls

    got = schedule.next_after(after)
    expected = reference_next(
        matches,
        tz,
        after,
        fixed=not schedule.is_wildcard,
        horizon=HORIZON,
    )
    if expected is None:
        assert got is None or got.timestamp() - after.timestamp() > HORIZON.total_seconds()
    else:
        assert got is not None
        assert got.timestamp() == expected.timestamp(), (got, expected)


def test_last_friday_at_six_in_paris() -> None:
    schedule = tk.RRule("RRULE:FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18", tz=PARIS)
    fires = schedule.preview(datetime(2026, 1, 1, tzinfo=PARIS), 3)
    assert [f.isoformat() for f in fires] == [
        "2026-01-30T18:00:00+01:00",
        "2026-02-27T18:00:00+01:00",
        "2026-03-27T18:00:00+01:00",
    ]
    assert not schedule.is_wildcard
    assert tk.RRule("FREQ=MINUTELY").is_wildcard
    assert not tk.RRule("FREQ=MINUTELY;BYHOUR=9").is_wildcard


def test_count_and_until() -> None:
    start = datetime(2026, 1, 1, 9, tzinfo=PARIS)
    counted = tk.RRule("FREQ=DAILY;COUNT=3", dtstart=start, tz=PARIS)
    assert len(counted.preview(datetime(2020, 1, 1, tzinfo=UTC), 10)) == 3
    until = tk.RRule("FREQ=DAILY;BYHOUR=9;UNTIL=20260103T080000Z", tz=PARIS)
    fires = until.preview(datetime(2026, 1, 1, tzinfo=PARIS), 10)
    assert [f.day for f in fires] == [1, 2, 3]


def test_a_far_query_is_fast() -> None:
    import time

    schedule = tk.RRule("FREQ=MINUTELY;INTERVAL=15", tz=PARIS)
    begin = time.perf_counter()
    got = schedule.next_after(datetime(2090, 6, 1, 0, 7, tzinfo=UTC))
    assert time.perf_counter() - begin < 0.5  # re-anchored, not walked from 2000
    assert got == datetime(2090, 6, 1, 0, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rule", "kwargs", "match"),
    [
        ("FREQ=BOGUS", {}, "FREQ"),
        ("FREQ=DAILY;BYHOUR=25", {}, "hour"),
        ("FREQ=DAILY;COUNT=3", {}, "COUNT needs dtstart"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", {}, "no occurrence"),
        ("DTSTART:20200101T000000\nRRULE:FREQ=DAILY", {}, "one RRULE"),
        ("FREQ", {}, "NAME=VALUE"),
        ("FREQ=DAILY;UNTIL=1999", {}, "rrule"),
    ],
)
def test_bad_rules_are_refused(rule: str, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(tk.InvalidSchedule, match=match):
        tk.RRule(rule, **kwargs)  # type: ignore[arg-type]


def test_naive_dtstart_is_refused() -> None:
    with pytest.raises(tk.InvalidArgument, match="dtstart"):
        tk.RRule("FREQ=DAILY", dtstart=datetime(2026, 1, 1))
    with pytest.raises(TypeError, match="rule"):
        tk.RRule(5)  # type: ignore[arg-type]
