"""``python -m turnkeeper_trio next``, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
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
        (["0 0 * * *", "-n", "0"], "-n must be between 1 and 1000"),
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
