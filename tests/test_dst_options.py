"""``dst=``: each gap and fold choice, against the brute-force reference, in five zones."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import turnkeeper_trio as tk

from .reference import cron_reference, reference_next
from .test_schedule_properties import HORIZON, PROPERTY, ZONES, crons, instants

PARIS = ZoneInfo("Europe/Paris")
GAPS = ["end", "shift", "skip"]
FOLDS = ["first", "last", "both"]
DSTS = st.builds(tk.DST, gap=st.sampled_from(GAPS), fold=st.sampled_from(FOLDS))


def _agrees(
    schedule: tk.abc.Schedule,
    matcher: object,
    tz: ZoneInfo,
    after: datetime,
    dst: tk.DST,
    seconds: tuple[int, ...] = (0,),
) -> None:
    got = schedule.next_after(after)
    expected = reference_next(
        matcher,  # type: ignore[arg-type]
        tz,
        after,
        fixed=True,
        horizon=HORIZON,
        seconds=seconds,
        gap=dst.gap,
        fold=dst.fold,
    )
    if expected is None:
        assert got is None or got.timestamp() - after.timestamp() > HORIZON.total_seconds()
    else:
        assert got is not None
        assert got.timestamp() == expected.timestamp(), (got, expected)


@PROPERTY
@given(data=st.data(), zone=st.sampled_from(ZONES), dst=DSTS)
def test_weekday_times_follow_each_dst_choice(data: st.DataObject, zone: str, dst: tk.DST) -> None:
    tz = ZoneInfo(zone)
    hours = st.sampled_from([0, 1, 2, 3]) | st.integers(0, 23)
    at = data.draw(st.builds(time, hour=hours, minute=st.sampled_from([0, 15, 30, 45])))
    days = data.draw(st.sets(st.integers(0, 6), min_size=1))
    schedule = tk.WeekdayTimes([(d, at) for d in days], tz=tz, dst=dst)

    def matches(wall: datetime) -> bool:
        return wall.weekday() in days and (wall.hour, wall.minute) == (at.hour, at.minute)

    _agrees(schedule, matches, tz, data.draw(instants(zone)), dst)


@PROPERTY
@given(data=st.data(), expr=crons(), zone=st.sampled_from(ZONES), dst=DSTS)
def test_fixed_time_crons_follow_each_dst_choice(
    data: st.DataObject, expr: str, zone: str, dst: tk.DST
) -> None:
    reference = cron_reference(expr)
    tz = ZoneInfo(zone)
    if reference.wildcard:
        with pytest.raises(tk.InvalidSchedule, match="wildcard"):
            tk.Cron(expr, tz=tz, dst=tk.DST(gap="skip"))
        return
    schedule = tk.Cron(expr, tz=tz, dst=dst)
    _agrees(schedule, reference.matches, tz, data.draw(instants(zone)), dst, reference.seconds)


def _iso(schedule: tk.abc.Schedule, after: datetime, n: int) -> list[str]:
    return [at.isoformat() for at in schedule.preview(after, n)]


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        ("end", ["2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"]),
        ("shift", ["2027-03-28T03:30:00+02:00", "2027-03-29T02:30:00+02:00"]),
        ("skip", ["2027-03-29T02:30:00+02:00", "2027-03-30T02:30:00+02:00"]),
    ],
)
def test_gap_choices_in_paris(gap: str, expected: list[str]) -> None:
    after = datetime(2027, 3, 27, 12, tzinfo=PARIS)
    dst = tk.DST(gap=gap)  # type: ignore[arg-type]
    assert _iso(tk.Cron("30 2 * * *", tz=PARIS, dst=dst), after, 2) == expected
    assert (
        _iso(tk.RRule("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", tz=PARIS, dst=dst), after, 2) == expected
    )


@pytest.mark.parametrize(
    ("fold", "expected"),
    [
        ("first", ["2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"]),
        ("last", ["2027-10-31T02:30:00+01:00", "2027-11-01T02:30:00+01:00"]),
        ("both", ["2027-10-31T02:30:00+02:00", "2027-10-31T02:30:00+01:00"]),
    ],
)
def test_fold_choices_in_paris(fold: str, expected: list[str]) -> None:
    after = datetime(2027, 10, 30, 12, tzinfo=PARIS)
    dst = tk.DST(fold=fold)  # type: ignore[arg-type]
    assert _iso(tk.WeekdayTimes.every_day("02:30", tz=PARIS, dst=dst), after, 2) == expected


def test_the_default_is_the_project_rule() -> None:
    assert tk.DST() == tk.DST(gap="end", fold="first")
    assert tk.Cron("0 9 * * *") == tk.Cron("0 9 * * *", dst=tk.DST())
    assert repr(tk.Cron("0 9 * * *")) == "Cron(expr='0 9 * * *', tz=datetime.timezone.utc)"


@pytest.mark.parametrize(("field", "value"), [("gap", "later"), ("fold", "second"), ("gap", 1)])
def test_unknown_choices_are_refused(field: str, value: object) -> None:
    with pytest.raises(tk.InvalidSchedule, match=field):
        tk.DST(**{field: value})  # type: ignore[arg-type]


def test_dst_must_be_a_dst_value() -> None:
    with pytest.raises(TypeError, match="dst"):
        tk.Cron("0 9 * * *", dst="skip")  # type: ignore[arg-type]


def test_wildcard_schedules_refuse_a_dst_choice() -> None:
    with pytest.raises(tk.InvalidSchedule, match="wildcard"):
        tk.Cron("*/5 * * * *", dst=tk.DST(fold="last"))
    with pytest.raises(tk.InvalidSchedule, match="wildcard"):
        tk.RRule("FREQ=MINUTELY", dst=tk.DST(gap="skip"))
