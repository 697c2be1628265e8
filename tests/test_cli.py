"""``python -m turnkeeper_trio next``, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import turnkeeper_trio as tk


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "turnkeeper_trio", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def fires(*args: str) -> list[dict[str, Any]]:
    done = run("next", *args, "--json")
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)["fires"]
    return result


# Each row: zone, expression, start (local), the fire on the change day, its note.
DST_DAYS = [
    # New York: 2027-03-14 02:00 EST -> 03:00 EDT; 2027-11-07 02:00 EDT -> 01:00 EST.
    (
        "America/New_York",
        "30 2 * * *",
        "2027-03-13T12:00",
        "2027-03-14T03:00:00-04:00",
        "02:30 does not exist on 2027-03-14: runs at 03:00 EDT",
    ),
    (
        "America/New_York",
        "30 1 * * *",
        "2027-11-06T12:00",
        "2027-11-07T01:30:00-04:00",
        "01:30 happens twice on 2027-11-07: runs once, at the first (EDT)",
    ),
    # London: 2027-03-28 01:00 GMT -> 02:00 BST; 2027-10-31 02:00 BST -> 01:00 GMT.
    (
        "Europe/London",
        "30 1 * * *",
        "2027-03-27T12:00",
        "2027-03-28T02:00:00+01:00",
        "01:30 does not exist on 2027-03-28: runs at 02:00 BST",
    ),
    (
        "Europe/London",
        "30 1 * * *",
        "2027-10-30T12:00",
        "2027-10-31T01:30:00+01:00",
        "01:30 happens twice on 2027-10-31: runs once, at the first (BST)",
    ),
    # Lord Howe shifts by 30 minutes: 2027-10-03 02:00 -> 02:30; 2027-04-04 02:00 -> 01:30.
    (
        "Australia/Lord_Howe",
        "15 2 * * *",
        "2027-10-02T12:00",
        "2027-10-03T02:30:00+11:00",
        "02:15 does not exist on 2027-10-03: runs at 02:30 +11",
    ),
    (
        "Australia/Lord_Howe",
        "45 1 * * *",
        "2027-04-03T12:00",
        "2027-04-04T01:45:00+11:00",
        "01:45 happens twice on 2027-04-04: runs once, at the first (+11)",
    ),
]


@pytest.mark.parametrize(("zone", "expr", "after", "local", "note"), DST_DAYS)
def test_the_change_day_says_what_happens(
    zone: str, expr: str, after: str, local: str, note: str
) -> None:
    got = fires(expr, "--tz", zone, "--after", after, "-n", "2")
    assert got[0]["local"] == local
    assert got[0]["note"] == note
    assert got[1]["note"] is None  # the day after is an ordinary day
    # The same instants as the library's own preview.
    tz = ZoneInfo(zone)
    start = datetime.fromisoformat(after).replace(tzinfo=tz)
    expected = tk.Cron(expr, tz=tz).preview(start, 2)
    # As instants: Python never finds an ambiguous time equal to one in another zone.
    utc = [datetime.fromisoformat(f["utc"]).timestamp() for f in got]
    assert utc == [e.timestamp() for e in expected]


def test_text_output_shows_local_time_offset_utc_and_the_note() -> None:
    done = run(
        "next", "30 2 * * *", "--tz", "Europe/Paris", "--after", "2027-03-27T00:00", "-n", "3"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    change = next(line for line in lines if "2027-03-28" in line)
    assert "03:00:00 +02:00 CEST" in change
    assert "2027-03-28 01:00:00 UTC" in change
    assert change.endswith("02:30 does not exist on 2027-03-28: runs at 03:00 CEST")
    ordinary = next(line for line in lines if "2027-03-29" in line)
    assert ordinary.endswith("2027-03-29 00:30:00 UTC")


def test_wildcard_schedules_say_they_skip_the_gap_and_run_twice_in_the_fold() -> None:
    spring = fires("*/30 1-3 * * *", "--tz", "America/New_York", "--after", "2027-03-14T01:15")
    assert [f["local"][11:16] for f in spring[:3]] == ["01:30", "03:00", "03:30"]
    assert spring[1]["note"].startswith("02:00 and 02:30 do not exist on 2027-03-14: skipped")
    fall = fires("0 1 * * *", "--tz", "America/New_York", "--after", "2027-11-07T00:00")
    assert fall[0]["note"] == "01:00 happens twice on 2027-11-07: runs once, at the first (EDT)"
    wild = fires("*/30 1 * * *", "--tz", "America/New_York", "--after", "2027-11-07T00:00")
    assert [f["offset"] for f in wild[:4]] == ["-04:00", "-04:00", "-05:00", "-05:00"]
    assert wild[0]["note"].endswith("runs at both; this is the first (EDT)")
    assert wild[2]["note"].endswith("runs at both; this is the second (EST)")


def test_weekday_times_and_intervals() -> None:
    got = fires(
        "--weekday-times", "mon 09:00,fri 17:30", "--tz", "Europe/Paris",
        "--after", "2027-03-26T00:00", "-n", "3",
    )  # fmt: skip
    assert [f["local"] for f in got] == [
        "2027-03-26T17:30:00+01:00",
        "2027-03-29T09:00:00+02:00",
        "2027-04-02T17:30:00+02:00",
    ]
    got = fires("--interval", "90", "--after", "2027-03-26T00:00+00:00", "-n", "2")
    assert [f["utc"] for f in got] == ["2027-03-26T00:01:30+00:00", "2027-03-26T00:03:00+00:00"]


def test_a_description_is_shown_where_cron_descriptor_is_installed() -> None:
    pytest.importorskip("cron_descriptor", reason="the optional extra 'describe'")
    done = run("next", "0 9 * * MON-FRI", "--tz", "Europe/Paris", "-n", "1", "--json")
    assert json.loads(done.stdout)["description"] == "At 09:00, Monday through Friday"


@pytest.mark.parametrize(
    "args",
    [
        ["0 0 32 * *"],
        ["0 0 15W * MON#9"],
        ["* * * *"],
        ["0 0 30 2 *"],
    ],
)
def test_a_bad_expression_prints_the_constructor_error_and_exits_2(args: list[str]) -> None:
    with pytest.raises(tk.InvalidSchedule) as info:
        tk.Cron(args[0])
    done = run("next", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert str(info.value) in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["0 0 * * *", "--tz", "Mars/Base"], "--tz 'Mars/Base' is not a known IANA time zone"),
        (["0 0 * * *", "--after", "soon"], "--after 'soon' is not an ISO 8601"),
        (["0 0 * * *", "-n", "0"], "-n/--count must be from 1 to 1000, got 0"),
        (["--interval", "-5"], "--interval must be from 1 microsecond to"),
        (["--interval", "nan"], "--interval must be from 1 microsecond to"),
        (["--interval", "1e12"], "(100 years), got 1000000000000.0"),
        (["--weekday-times", "mon 09:00,moon 10:00"], "--weekday-times item 'moon 10:00': weekday"),
        (["--weekday-times", "mon 29:00"], "--weekday-times item 'mon 29:00': time '29:00'"),
        ([], "give exactly one of"),
        (["0 0 * * *", "--interval", "5"], "give exactly one of"),
        (["--weekday-times", "mon"], "must be a weekday and a time"),
        (["--weekday-times", "moon 09:00"], "moon"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args: list[str], message: str) -> None:
    done = run("next", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.splitlines()) == 1  # one line, never a traceback
    assert "every" not in done.stderr  # the options typed, not the constructor's arguments
    assert "times[" not in done.stderr


def test_a_reader_that_stops_early_ends_the_command_quietly() -> None:
    # `python -m turnkeeper_trio next ... --json | head -2`: far more than a pipe buffer holds.
    with subprocess.Popen(
        [sys.executable, "-m", "turnkeeper_trio", "next", "* * * * *", "-n", "1000", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        assert child.stdout.readline() == b"{\n"
        child.stdout.close()
        stderr = child.stderr.read()
        assert child.wait(timeout=60) == 1
    assert stderr == b""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["0 9 * * *", "--after", "9999-12-31T00:00"], ["9999-12-31T09:00:00+00:00"]),
        (["* * * * *", "--after", "9999-12-31T23:57+00:00", "--tz", "America/New_York"],
         ["9999-12-31T23:58:00+00:00", "9999-12-31T23:59:00+00:00"]),
        (["0 9 * * *", "--after", "9999-12-31T23:59:59.999999+00:00"], []),
        (["--weekday-times", "fri 23:59", "--after", "9999-12-31T23:00"],
         ["9999-12-31T23:59:00+00:00"]),
        (["--interval", "60", "--after", "9999-12-31T23:58+00:00"], ["9999-12-31T23:59:00+00:00"]),
        # The fire exists, but not in Kiritimati's calendar (UTC+14, already year 10000).
        (["--interval", "60", "--after", "9999-12-31T23:58+00:00", "--tz", "Pacific/Kiritimati"],
         []),
        (["0 0 1 1 *", "--after", "0001-01-01T00:00", "--tz", "Pacific/Kiritimati", "-n", "1"],
         ["0002-01-01T10:29:20+00:00"]),
    ],
)  # fmt: skip
def test_the_end_of_the_calendar_lists_what_exists(args: list[str], expected: list[str]) -> None:
    done = (
        run("next", *args, "-n", "5", "--json")
        if "-n" not in args
        else run("next", *args, "--json")
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert [f["utc"] for f in json.loads(done.stdout)["fires"]] == expected
    text = run("next", *args)
    assert text.returncode == 0, text.stderr
    assert text.stderr == ""


def test_text_for_a_fire_past_the_calendar_of_the_zone_says_so() -> None:
    done = run(
        "next", "--interval", "60", "--after", "9999-12-31T23:58+00:00",
        "--tz", "Pacific/Kiritimati",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(no more: the next is after year 9999 in Pacific/Kiritimati)" in done.stdout


# ----------------------------------------------------------------------- the description
def _day_and_hour_fires(expr: str, count: int) -> list[datetime]:
    got = fires(expr, "--after", "2026-01-01T00:00", "-n", str(count))
    return [datetime.fromisoformat(f["local"]) for f in got]


# Each row: an expression, the sentence (None: suppressed, as no sentence the describer
# writes would be true), and what the sentence says, as a test of a whole-hour wall time.
SENTENCES = [
    # Vixie AND: a day field starting with `*` and both restricted: no true sentence.
    ("0 0 */2 * MON", None, None),
    ("0 0 1-7 * */2", None, None),
    ("0 0 1,15 * */2", None, None),
    ("0 0 */3 * 1-5", None, None),
    # A day-level item in a list: the describer garbles it.
    ("0 0 L,10 * *", None, None),
    ("0 0 * * mon#1,FRIL", None, None),
    # AND with a free field is the other field alone; `?` and a list holding `*` are free.
    ("0 0 *,1 * MON", "At 00:00, only on Monday", lambda t: t.hour == 0 and t.weekday() == 0),
    ("0 0 ? * MON", "At 00:00, only on Monday", lambda t: t.hour == 0 and t.weekday() == 0),
    ("0 0 15 * ?", "At 00:00, on day 15 of the month", lambda t: t.hour == 0 and t.day == 15),
    # Vixie OR, said as "or".
    (
        "0 0 13 * FRI",
        "At 00:00, on day 13 of the month, or on Friday",
        lambda t: t.hour == 0 and (t.day == 13 or t.weekday() == 4),
    ),
    (
        "0 0 1 * 1-5",
        "At 00:00, on day 1 of the month, or Monday through Friday",
        lambda t: t.hour == 0 and (t.day == 1 or t.weekday() < 5),
    ),
    (
        "0 0 13 * 5L",
        "At 00:00, on day 13 of the month, or on the last Friday of the month",
        lambda t: (
            t.hour == 0
            and (t.day == 13 or (t.weekday() == 4 and (t + timedelta(days=7)).month != t.month))
        ),
    ),
    # The new range forms, and forms the describer reads wrongly as written.
    (
        "0 0 * * SAT-SUN",
        "At 00:00, Saturday through Sunday",
        lambda t: t.hour == 0 and t.weekday() >= 5,
    ),
    (
        "0 0 * * FRI-MON",
        "At 00:00, only on Friday, Saturday, Sunday, and Monday",
        lambda t: t.hour == 0 and t.weekday() in (4, 5, 6, 0),
    ),
    (
        "0 22-2 * * *",
        "At 22:00, 23:00, 00:00, 01:00 and 02:00",
        lambda t: t.hour in (22, 23, 0, 1, 2),
    ),
    ("0 0 * * 7/3", "At 00:00, only on Sunday", lambda t: t.hour == 0 and t.weekday() == 6),
    ("59/15 * * * *", "At 59 minutes past the hour", lambda t: False),  # minute 59 only
    ("@daily", "At 00:00", lambda t: t.hour == 0),
]


@pytest.mark.parametrize(("expr", "sentence", "says"), SENTENCES)
def test_the_description_is_true_of_the_fires_or_absent(
    expr: str, sentence: str | None, says: Any
) -> None:
    pytest.importorskip("cron_descriptor", reason="the optional extra 'describe'")
    done = run("next", expr, "--after", "2026-01-01T00:00", "-n", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["description"] == sentence
    if says is None:
        return
    # Every whole hour of the first 90 days: it fires exactly when the sentence says it does.
    fired = set(_day_and_hour_fires(expr, 1000))
    last = max(fired)
    hour = datetime.fromisoformat("2026-01-01T01:00+00:00")
    while hour <= last:
        assert (hour in fired) == says(hour), (expr, hour)
        hour += timedelta(hours=1)


def test_the_text_output_leaves_out_a_sentence_that_would_be_false() -> None:
    pytest.importorskip("cron_descriptor", reason="the optional extra 'describe'")
    done = run("next", "0 0 */2 * MON", "--after", "2026-01-01T00:00", "-n", "1")
    assert (
        done.stdout.splitlines()[0] == "Cron(expr='0 0 */2 * MON', tz=zoneinfo.ZoneInfo(key='UTC'))"
    )


def test_rrule_with_exclusions_lists_what_was_excluded_and_why() -> None:
    done = run(
        "next",
        "--rrule",
        "FREQ=DAILY;BYHOUR=9",
        "--tz",
        "Europe/Paris",
        "--exclude-holidays",
        "FR",
        "--exclude-weekdays",
        "sat,sun",
        "--after",
        "2026-12-23T12:00",
        "-n",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert "2026-12-25 excluded: Christmas Day (FR)" in done.stdout
    assert "2026-12-26 excluded: Saturday" in done.stdout
    assert "Thu 2026-12-24 09:00:00" in done.stdout
    assert "Mon 2026-12-28 09:00:00" in done.stdout


def test_dst_choices_are_previewed() -> None:
    got = fires(
        "30 2 * * *",
        "--tz",
        "Europe/Paris",
        "--dst-gap",
        "shift",
        "--after",
        "2027-03-27T12:00",
        "-n",
        "1",
    )
    assert got[0]["local"] == "2027-03-28T03:30:00+02:00"
    assert "shifted by the gap" in got[0]["note"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["0 9 * * *", "--dst-gap", "later"], "--dst-gap"),
        (["0 9 * * *", "--dst-fold", "second"], "--dst-fold"),
        (["0 9 * * *", "--exclude-holidays", "XX"], "--exclude-holidays"),
        (["0 9 * * *", "--exclude-weekdays", "sat,someday"], "--exclude-weekdays"),
        (["0 9 * * *", "--exclude-dates", "2026-13-01"], "--exclude-dates"),
        (["--rrule", "FREQ=BOGUS"], "rrule"),
        (["--rrule", "FREQ=DAILY", "--dtstart", "soon"], "--dtstart"),
        (["* * * * *", "--dst-gap", "skip"], "wildcard"),
    ],
)
def test_bad_calendar_options_fail_in_one_line(args: list[str], option: str) -> None:
    done = run("next", *args)
    assert done.returncode == 2
    assert option in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
