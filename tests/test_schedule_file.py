"""Schedule files: ``load_schedules``, ``Scheduler.apply``, ``python -m turnkeeper_trio check``."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import trio

import turnkeeper_trio as tk
from tests.test_replicas import eventually
from turnkeeper_trio.testing import MockWallClock

ROOT = Path(__file__).resolve().parent.parent
HERE = "tests.test_schedule_file"


async def report(recipient: str) -> None:
    """A job the files below name."""


async def poll(*args: object) -> None:
    """Another one."""


def not_async() -> None:
    """A sync function: a file that names it is refused."""


FULL = f"""
version = 1

[jobs.nightly-report]
function = "{HERE}:report"
args = ["ops@example.com"]
name = "Nightly report"
schedule = {{ cron = "0 9 * * MON-FRI", tz = "Europe/Paris" }}
retry = {{ exponential = {{ max_retries = 3, initial = 2, max_delay = 60 }} }}
timeout = 60
misfire = {{ coalesce = {{ grace = 30 }} }}
on_crash = "skip"
quarantine_after = 5

[jobs.poll]
function = "{HERE}:poll"
args = [1, {{ region = "eu" }}, [true, 2.5]]
schedule = {{ interval = 30, start = 2026-01-05T12:00:00Z }}
retry = {{ fixed = {{ max_retries = 2, delay = 10 }} }}
lifetime = {{ max_runs = 10 }}
misfire = {{ catch_up = {{ limit = 5 }} }}

[jobs.new-year]
function = "{HERE}:poll"
schedule = {{ once = 2027-01-01T00:00:00+00:00 }}
lifetime = {{ until = "2027-06-01T00:00:00+00:00" }}

[jobs.manual]
function = "{HERE}:poll"
schedule = {{ never = true }}
lifetime = "forever"
misfire = "coalesce"

[jobs."weekly standup"]
function = "{HERE}:poll"
schedule = {{ weekday_times = [["mon", "09:30"], [4, 17:00:00]], tz = "America/New_York" }}
"""


def write(tmp_path: Path, text: str, name: str = "schedules.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_field_of_a_full_file_is_loaded(tmp_path: Path) -> None:
    requests = tk.load_schedules(write(tmp_path, FULL))
    by_key = {request.key: request for request in requests}
    assert list(by_key) == ["nightly-report", "poll", "new-year", "manual", "weekly standup"]
    nightly = by_key["nightly-report"]
    assert nightly.async_fn is report
    assert nightly.args == ("ops@example.com",)
    assert nightly.name == "Nightly report"
    assert nightly.schedule == tk.Cron("0 9 * * MON-FRI", tz=ZoneInfo("Europe/Paris"))
    assert nightly.retry == tk.ExponentialBackoff(3, initial=2, max_delay=60)
    assert nightly.timeout == 60
    assert nightly.on_crash == "skip"
    assert nightly.misfire == tk.Coalesce(30)
    assert nightly.quarantine_after == 5
    polling = by_key["poll"]
    assert polling.args == (1, {"region": "eu"}, [True, 2.5])
    assert polling.schedule == tk.Interval(30, start=datetime(2026, 1, 5, 12, tzinfo=UTC))
    assert polling.retry == tk.FixedDelay(2, 10)
    assert polling.lifetime == tk.MaxRuns(10)
    assert polling.misfire == tk.CatchUp(5)
    assert by_key["new-year"].schedule == tk.Once(datetime(2027, 1, 1, tzinfo=UTC))
    assert by_key["new-year"].lifetime == tk.Until(datetime(2027, 6, 1, tzinfo=UTC))
    assert by_key["manual"].schedule == tk.Never()
    assert by_key["manual"].lifetime == tk.Forever()
    assert by_key["weekly standup"].schedule == tk.WeekdayTimes(
        [(0, time(9, 30)), (4, time(17))], tz=ZoneInfo("America/New_York")
    )


def test_functions_given_are_used_and_nothing_is_imported(tmp_path: Path) -> None:
    text = f"""
[jobs.a]
function = "{HERE}:report"
args = ["x"]
schedule = {{ interval = 60 }}
[jobs.b]
function = "tests.never_imported_module:job"
schedule = {{ interval = 60 }}
"""
    with pytest.raises(tk.ScheduleFileError) as caught:
        tk.load_schedules(write(tmp_path, text), functions=[report])
    assert caught.value.problems == (
        "jobs.b.function: tests.never_imported_module:job is not among the functions given "
        "(functions=)",
    )
    assert "tests.never_imported_module" not in sys.modules
    requests = tk.load_schedules(write(tmp_path, text.split("[jobs.b]")[0]), functions=[report])
    assert [r.async_fn for r in requests] == [report]


def test_every_problem_is_reported_naming_the_file_the_key_and_the_field(tmp_path: Path) -> None:
    text = f"""
[jobs.nightly-report]
function = "{HERE}:not_async"
args = ["ops@example.com", 2027-01-01T00:00:00Z]
schedule = {{ cron = "0 25 * * *", tz = "Europe/Paris" }}
retry = {{ exponential = {{ max_retries = -1 }} }}
timeot = 60

[jobs.b]
function = "tests.no_such_module_here:x"
schedule = {{ once = 2027-01-01T00:00:00, tz = "UTC" }}
on_crash = "maybe"
lifetime = {{ max_runs = 0 }}

[jobs.c]
function = "{HERE}:poll"
schedule = {{ interval = 30, cron = "* * * * *" }}
misfire = {{ catch_up = {{ limit = 0, window = 3 }} }}
timeout = -5
name = ""

[jobs.d]
function = "{HERE}"
schedule = {{ weekday_times = [["someday", "09:00"]], tz = "Mars/Olympus" }}
"""
    path = write(tmp_path, text)
    with pytest.raises(tk.ScheduleFileError) as caught:
        tk.load_schedules(path)
    error = caught.value
    assert isinstance(error, tk.InvalidArgument)
    assert error.path == str(path)
    fields = [problem.split(": ", 1)[0] for problem in error.problems]
    assert fields == [
        "jobs.nightly-report",  # the unknown field
        "jobs.nightly-report.function",
        "jobs.nightly-report.args",
        "jobs.nightly-report.schedule.cron",
        "jobs.nightly-report.retry.exponential",
        "jobs.b.function",
        "jobs.b.schedule",
        "jobs.b.lifetime.max_runs",
        "jobs.b.on_crash",
        "jobs.c.schedule",
        "jobs.c.name",
        "jobs.c.timeout",
        "jobs.c.misfire.catch_up",
        "jobs.d.function",
        "jobs.d.schedule.tz",
    ]
    text_of = dict(zip(fields, error.problems, strict=True))
    assert "timeot (did you mean timeout?)" in text_of["jobs.nightly-report"]
    assert "not an async function" in text_of["jobs.nightly-report.function"]
    assert "[1]: a datetime is not a JSON value" in text_of["jobs.nightly-report.args"]
    assert "hour value 25" in text_of["jobs.nightly-report.schedule.cron"]
    assert "No module named 'tests.no_such_module_here'" in text_of["jobs.b.function"]
    assert "unknown field(s) tz" in text_of["jobs.b.schedule"]
    assert "give exactly one of" in text_of["jobs.c.schedule"]
    assert "'Mars/Olympus' is not a known IANA time zone" in text_of["jobs.d.schedule.tz"]
    assert str(error).splitlines()[0] == f"{path}: {error.problems[0]}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("jobs = 3", "jobs: must be a table, got an integer"),
        ("version = 2\n[jobs.a]", "version: this version reads version = 1 files, got 2"),
        ("[job.a]", "the top level: unknown field(s) job (did you mean jobs?)"),
        ("[jobs]", "jobs: the file describes no job; add a [jobs.<key>] table"),
        ("[jobs.a", "not valid TOML: "),
        (
            '[jobs."~generated"]\nfunction = "tests.test_schedule_file:poll"\n'
            "schedule = { never = true }",
            'jobs."~generated": the table name is the job\'s key: key: keys starting',
        ),
        (
            '[jobs.a]\nfunction = "tests.test_schedule_file:poll"\nschedule = { never = false }',
            "jobs.a.schedule.never: write never = true",
        ),
        ("[jobs.a]\nargs = 3", "jobs.a.args: must be an array of the function's arguments"),
    ],
)
def test_a_malformed_file_is_one_typed_error(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(tk.ScheduleFileError) as caught:
        tk.load_schedules(write(tmp_path, text))
    assert any(found.startswith(problem) for found in caught.value.problems)


def test_a_missing_file_is_a_schedule_file_error(tmp_path: Path) -> None:
    with pytest.raises(tk.ScheduleFileError, match="cannot read the file"):
        tk.load_schedules(tmp_path / "absent.toml")


# ---------------------------------------------------------------------- apply


def keyed(scheduler: tk.Scheduler) -> dict[str, tk.JobState]:
    return {s.id.key: s.state for s in scheduler.list_all_jobs()}


async def test_apply_adds_replaces_leaves_alone_and_prunes(
    autojump_clock: trio.testing.MockClock, wall: MockWallClock, tmp_path: Path
) -> None:
    first = tk.load_schedules(write(tmp_path, FULL))
    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        loose = await s.add_job(tk.Interval(60), poll)  # no key: never pruned
        other = await s.add_job(tk.Interval(60), poll, key="added-by-code")
        result = await s.apply(first)
        assert result == tk.ApplyResult(
            added=("nightly-report", "poll", "new-year", "manual", "weekly standup")
        )
        assert s.get_job_details(other).state is tk.JobState.SCHEDULED  # no prune: kept
        assert await s.apply(first) == tk.ApplyResult(unchanged=result.added)
        nightly = next(j for j in s.list_all_jobs() if j.id.key == "nightly-report").id
        await s.pause_job(nightly)
        second = tk.load_schedules(
            write(
                tmp_path,
                FULL.replace("timeout = 60", "timeout = 90").split("[jobs.new-year]")[0],
            )
        )
        result = await s.apply(second, prune=True)
        assert result == tk.ApplyResult(
            changed=("nightly-report",),
            unchanged=("poll",),
            cancelled=("added-by-code", "new-year", "manual", "weekly standup"),
        )
        details = s.get_job_details(nightly)
        assert details.timeout == 90
        assert details.state is tk.JobState.PAUSED
        states = keyed(s)
        assert states[loose.key] is tk.JobState.SCHEDULED
        assert states["new-year"] is tk.JobState.CANCELLED
        # A cancelled key stays finished: re-applying it does not bring it back.
        assert (await s.apply(first)).finished == ("new-year", "manual", "weekly standup")


async def test_apply_refuses_requests_without_keys_or_with_bad_values_and_changes_nothing(
    autojump_clock: trio.testing.MockClock, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        requests = [
            tk.JobRequest(tk.Interval(5), poll, key="a"),
            tk.JobRequest(tk.Interval(5), poll),
            tk.JobRequest(tk.Interval(5), poll, key="a"),
            tk.JobRequest(tk.Interval(5), poll, key="b", timeout=-1),
        ]
        with pytest.raises(ExceptionGroup) as caught:
            await s.apply(requests)
        errors = caught.value.exceptions
        assert [type(e) for e in errors] == [tk.InvalidArgument] * 3
        assert "apply needs a key" in str(errors[0])
        assert "the key 'a' is given twice (also requests[0])" in str(errors[1])
        assert "timeout" in str(errors[2])
        assert errors[2].__notes__ == ["requests[3] (key 'b')"]
        assert s.list_all_jobs() == []
        with pytest.raises(TypeError, match="prune must be a bool"):
            await s.apply([], prune="yes")  # type: ignore[arg-type]


async def test_two_replicas_applying_the_same_file_at_once_add_each_key_once(
    pg_dsn: str, tmp_path: Path
) -> None:
    text = "".join(
        f'[jobs.j{n}]\nfunction = "{HERE}:poll"\nargs = [{n}]\nschedule = {{ interval = 0.2 }}\n'
        for n in range(6)
    )
    requests = tk.load_schedules(write(tmp_path, text))
    results: list[tk.ApplyResult] = []
    async with trio.open_nursery() as nursery:
        group = []
        for _ in range(2):
            store = tk.PostgresStore(pg_dsn, lease_ttl=1.5)
            scheduler = tk.Scheduler(max_workers=2, store=store)
            await nursery.start(scheduler.run)
            group.append(scheduler)

        async def apply(scheduler: tk.Scheduler) -> None:
            results.append(await scheduler.apply(requests))

        async with trio.open_nursery() as both:
            for scheduler in group:
                both.start_soon(apply, scheduler)
        keys = {f"j{n}" for n in range(6)}
        for result in results:
            assert set(result.added + result.changed + result.unchanged) == keys
            assert result.changed == ()  # same definition: nothing replaced
        await eventually(lambda: sum(s.get_metrics_snapshot().jobs_held for s in group) == 6)
        for scheduler in group:  # applying again, anywhere, changes nothing
            assert await scheduler.apply(requests) == tk.ApplyResult(
                unchanged=tuple(f"j{n}" for n in range(6))
            )
        for scheduler in group:
            await scheduler.shutdown_graceful(timeout=5)
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT key FROM turnkeeper_jobs ORDER BY key").fetchall()
    assert [key for (key,) in rows] == sorted(keys)


# ---------------------------------------------------------------------- check


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "turnkeeper_trio", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,  # where the file's modules import from, as an operator runs it
    )


def test_check_prints_each_jobs_next_fires_with_dst_notes(tmp_path: Path) -> None:
    text = f"""
[jobs.nightly]
function = "{HERE}:report"
args = ["ops@example.com"]
schedule = {{ cron = "30 2 * * *", tz = "Europe/Paris" }}
[jobs.poll]
function = "{HERE}:poll"
schedule = {{ interval = 90 }}
[jobs.manual]
function = "{HERE}:poll"
schedule = {{ never = true }}
"""
    done = check(str(write(tmp_path, text)), "--after", "2027-03-27T12:00:00+00:00")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("schedules.toml: 3 job(s), valid")
    assert lines[1].startswith(f"[nightly] {HERE}:report  Cron(expr='30 2 * * *'")
    assert lines[2] == (
        "  2027-03-28T03:00:00+02:00  (2027-03-28 01:00:00 UTC)  "
        "02:30 does not exist on 2027-03-28: runs at 03:00 CEST"
    )
    assert lines[3] == "  2027-03-29T02:30:00+02:00  (2027-03-29 00:30:00 UTC)"
    assert lines[6] == "  2027-03-27T12:01:30+00:00  (2027-03-27 12:01:30 UTC)"
    assert lines[-1] == "  (no fire: it runs only when triggered, or its time has passed)"
    assert len(lines) == 1 + 3 * 1 + 3 + 3 + 1


def test_check_lists_every_problem_one_line_each_and_exits_2(tmp_path: Path) -> None:
    text = f"""
[jobs.a]
function = "{HERE}:not_async"
schedule = {{ cron = "0 25 * * *" }}
[jobs.b]
function = "{HERE}:poll"
args = ["a\\u0000b"]
schedule = {{ interval = 0 }}
"""
    path = write(tmp_path, text)
    done = check(str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    prefix = f"python -m turnkeeper_trio check: error: {path}: "
    assert [line.removeprefix(prefix).split(":")[0] for line in lines] == [
        "jobs.a.function",
        "jobs.a.schedule.cron",
        "jobs.b.args",
        "jobs.b.schedule.interval",
    ]
    assert all(line.startswith(prefix) for line in lines)


def test_check_refuses_a_function_a_durable_store_cannot_name(tmp_path: Path) -> None:
    # An alias whose qualified name points elsewhere: it imports, but a restart could not
    # find it by its own name.
    text = '[jobs.a]\nfunction = "tests.test_schedule_file:renamed"\nschedule = { never = true }'
    done = check(str(write(tmp_path, text)))
    assert done.returncode == 2, done.stdout
    assert "jobs.a.function" in done.stderr
    assert "Traceback" not in done.stderr
    assert "does not name this function" in done.stderr


async def _hidden() -> None:
    """Its ``__qualname__`` is not the name it is reachable by below."""


renamed = _hidden
_hidden.__qualname__ = "elsewhere"


def test_check_bad_options_and_unreadable_files_exit_2(tmp_path: Path) -> None:
    done = check(str(tmp_path / "absent.toml"))
    assert done.returncode == 2
    assert "cannot read the file" in done.stderr
    done = check(str(write(tmp_path, FULL)), "-n", "0")
    assert done.returncode == 2
    assert "-n/--count must be from 1 to 100" in done.stderr
    done = check(str(write(tmp_path, FULL)), "--after", "2027-01-01T00:00")
    assert done.returncode == 2
    assert "needs a UTC offset" in done.stderr


def test_interval_start_and_timedelta_values_round_trip(tmp_path: Path) -> None:
    (request,) = tk.load_schedules(
        write(
            tmp_path,
            f'[jobs.a]\nfunction = "{HERE}:poll"\nschedule = {{ interval = 1.5 }}\ntimeout = 2.5',
        )
    )
    assert request.schedule == tk.Interval(timedelta(seconds=1.5))
    assert request.timeout == 2.5
