"""``python -m turnkeeper_trio jobs``, run as an operator runs it: in a subprocess.

Against a real service (a scheduler and its dashboard served by hypercorn on 127.0.0.1, in
this Trio run, on the real clock), a real PostgreSQL server (a scheduler with
``PostgresStore`` in this process; the command line posts commands to it through the
database), and an ``SQLiteStore`` file.  Every ``--json`` answer is checked against the
shapes documented in "Operations".
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.routing import Mount

import turnkeeper_trio as tk
from turnkeeper_trio.web import Dashboard

TOKEN = "cli-test-token-0123456789abcdef"
SECRET = "the-argument-is-a-secret"

#: The documented shapes (docs/operations.md, "JSON output").
SUMMARY = {"key", "name", "state", "next_run_at", "schedule"}
DETAILS = SUMMARY | {
    "function", "arguments", "retry", "timeout", "lifetime", "misfire", "on_crash",
    "quarantine_after", "quarantined", "consecutive_failures", "jitter", "added_at",
    "attempt", "runs", "misfires", "trigger_pending", "counts", "error", "skipped",
}  # fmt: skip
COUNTS = {"succeeded", "failed", "errored", "timed_out", "cancelled"}
RUN = {
    "run_id", "attempt", "scheduled_for", "started_at", "finished_at", "duration", "outcome",
    "triggered", "error",
}  # fmt: skip
ACTED = {"key", "action", "done", "job"}
STATES = {state.value for state in tk.JobState}


class Calls:
    """What the jobs of this module did, with a way to wait for it (no polling)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.changed = trio.Event()
        self.started = trio.Event()

    def add(self, label: str) -> None:
        self.items.append(label)
        self.changed.set()
        self.changed = trio.Event()

    async def until(self, count: int, within: float = 10.0) -> None:
        with trio.fail_after(within):
            while len(self.items) < count:
                await self.changed.wait()


CALLS = Calls()


@pytest.fixture(autouse=True)
def _calls() -> None:
    global CALLS
    CALLS = Calls()


async def record(label: str) -> None:
    CALLS.add(label)


async def hang(label: str) -> None:
    CALLS.started.set()
    await trio.sleep_forever()


# ---------------------------------------------------------------------- helpers


async def cli(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TURNKEEPER_TOKEN"}
    if token is not None:
        env["TURNKEEPER_TOKEN"] = token
    done = await trio.run_process(
        [sys.executable, "-m", "turnkeeper_trio", "jobs", *args],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        env=env,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


async def ok_json(*args: str, token: str | None = None) -> Any:
    done = await cli(*args, "--json", token=token)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


async def refused(*args: str, token: str | None = None) -> str:
    """Run a command that must fail: exit 2, one line on stderr, nothing on stdout."""
    done = await cli(*args, token=token)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr  # never a traceback
    assert "Traceback" not in done.stderr
    return done.stderr


def instant(text: str | None) -> None:
    if text is not None:
        assert datetime.fromisoformat(text).tzinfo is not None


def check_summary(item: dict[str, Any]) -> None:
    assert set(item) == SUMMARY
    assert item["state"] in STATES
    assert isinstance(item["key"], str)
    assert isinstance(item["schedule"], str)
    instant(item["next_run_at"])


def check_details(job: dict[str, Any]) -> None:
    assert set(job) == DETAILS
    check_summary({name: job[name] for name in SUMMARY})
    assert set(job["counts"]) == COUNTS
    assert isinstance(job["arguments"], int)
    instant(job["added_at"])
    assert SECRET not in json.dumps(job)  # argument values are never shown


def check_runs(runs: list[dict[str, Any]]) -> None:
    for run in runs:
        assert set(run) == RUN
        for name in ("scheduled_for", "started_at", "finished_at"):
            instant(run[name])
    started = [run["started_at"] for run in runs]
    assert started == sorted(started, reverse=True)  # latest first


@asynccontextmanager
async def serving(scheduler: tk.Scheduler, token: str | None) -> AsyncIterator[str]:
    """The dashboard mounted at /dashboard, served by hypercorn on an ephemeral port."""
    app = Starlette(routes=[Mount("/dashboard", app=Dashboard(scheduler, token=token))])
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(
            lambda task_status: serve(
                app,  # type: ignore[arg-type]  # hypercorn's ASGI types are narrower
                config,
                shutdown_trigger=stop.wait,
                task_status=task_status,
            )
        )
        try:
            yield urls[0] + "/dashboard"
        finally:
            stop.set()


def http(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), json.loads(exc.read())


# ---------------------------------------------------------------------- a service


async def test_the_cli_reads_and_commands_a_running_service(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="turnkeeper_trio.web")
    async with tk.open_scheduler(max_workers=4) as s:
        nightly = await s.add_job(
            tk.Cron("0 2 * * *"), record, SECRET, key="nightly", name="Nightly report"
        )
        often = await s.add_job(tk.Interval(0.1), record, "often", key="often")
        manual = await s.add_job(tk.Never(), record, "manual", key="reports/manual")
        slow = await s.add_job(tk.Never(), hang, "slow", key="slow")
        await CALLS.until(3)
        await s.pause_job(often)
        async with serving(s, TOKEN) as url:
            listing = await ok_json("list", "--url", url)
            assert sorted(j["key"] for j in listing) == [
                "nightly",
                "often",
                "reports/manual",
                "slow",
            ]
            for item in listing:
                check_summary(item)
            table = await cli("list", "--url", url)
            assert table.returncode == 0
            assert table.stdout.splitlines()[0].split()[:3] == ["KEY", "NAME", "STATE"]
            assert "Nightly report" in table.stdout

            shown = await ok_json("show", "nightly", "--url", url)
            check_details(shown)
            assert shown["name"] == "Nightly report"
            assert shown["state"] == "scheduled"
            assert shown["arguments"] == 1
            assert shown["function"].endswith(":record")
            assert shown["schedule"].startswith("Cron(")
            assert "0 2 * * *" in shown["schedule"]

            runs = await ok_json("history", "often", "--url", url, "-n", "2")
            assert len(runs) == 2
            check_runs(runs)
            assert {r["outcome"] for r in runs} == {"succeeded"}

            # pause, with a note shown back; the token from the environment.
            done = await cli(
                "pause", "nightly", "--url", url, "--note", "db migration", token=TOKEN
            )
            assert done.returncode == 0, done.stderr
            assert "nightly: paused" in done.stdout
            assert "db migration" in done.stdout
            assert s.get_job_details(nightly).state is tk.JobState.PAUSED
            logged = [r.getMessage() for r in caplog.records if r.name == "turnkeeper_trio.web"]
            assert logged == ["api: pause 'nightly' (note: 'db migration')"]
            answer = await ok_json("resume", "nightly", "--url", url, "--token", TOKEN)
            assert set(answer) == ACTED
            assert answer["done"] is True
            check_summary(answer["job"])
            assert answer["job"]["state"] == "scheduled"
            assert s.get_job_details(nightly).state is tk.JobState.SCHEDULED

            # trigger a key with a slash, with an idempotency key: it runs once.
            before = len(CALLS.items)
            args = ("trigger", "reports/manual", "--url", url, "--idempotency-key", "k-1")
            await ok_json(*args, token=TOKEN)
            await CALLS.until(before + 1)
            await ok_json(*args, token=TOKEN)  # the same key again: ignored
            await trio.sleep(0.5)
            assert CALLS.items.count("manual") == 1
            assert s.get_job_details(manual).trigger_pending is False

            # interrupt with nothing running; then cancel a running attempt with --interrupt.
            answer = await ok_json("interrupt", "slow", "--url", url, token=TOKEN)
            assert answer["done"] is False
            await ok_json("trigger", "slow", "--url", url, token=TOKEN)
            with trio.fail_after(10):
                await CALLS.started.wait()
            answer = await ok_json("cancel", "slow", "--interrupt", "--url", url, token=TOKEN)
            assert answer["job"]["state"] == "cancelled"
            details = s.get_job_details(slow)
            assert details.state is tk.JobState.CANCELLED
            assert details.last_runs[-1].outcome is tk.Outcome.CANCELLED

            # refusals: one line, exit 2.
            assert "401" in await refused("pause", "nightly", "--url", url)
            assert "401" in await refused("pause", "nightly", "--url", url, token="wrong" * 5)
            assert "404" in await refused("show", "missing", "--url", url)
            assert "409" in await refused("pause", "slow", "--url", url, token=TOKEN)
            assert "reach" in await refused("list", "--url", "http://127.0.0.1:9/dashboard")
            assert "mount" in await refused("list", "--url", url.removesuffix("/dashboard"))
            assert "--idempotency-key" in await refused(
                "trigger", "nightly", "--url", url, "--idempotency-key", "~x", token=TOKEN
            )
            assert s.get_job_details(nightly).state is tk.JobState.SCHEDULED
        await s.shutdown_force()


async def test_a_read_only_dashboard_answers_reads_and_refuses_actions() -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        job = await s.add_job(tk.Never(), record, "x", key="job")
        async with serving(s, None) as url:
            assert [j["key"] for j in await ok_json("list", "--url", url)] == ["job"]
            message = await refused("pause", "job", "--url", url, token=TOKEN)
            assert "read-only" in message
            assert "403" in message
            assert s.get_job_details(job).state is tk.JobState.SCHEDULED


async def test_the_json_api_statuses_and_errors() -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        job = await s.add_job(tk.Never(), record, "x", key="job")
        async with serving(s, TOKEN) as url:
            api = url + "/api/jobs"
            bearer = {"authorization": f"Bearer {TOKEN}"}

            def call(*args: Any, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
                return http(*args, **kwargs)

            async def check(status: int, *args: Any, **kwargs: Any) -> dict[str, str]:
                got, headers, body = await trio.to_thread.run_sync(lambda: call(*args, **kwargs))
                assert got == status, body
                if status >= 400:
                    assert set(body) == {"error"}
                    assert isinstance(body["error"], str)
                assert headers["content-type"] == "application/json"
                assert headers["cache-control"] == "no-store"
                return headers

            await check(200, api)  # reads need no token, as the pages do
            await check(401, api, headers={"authorization": "Bearer wrong-token-xxxxxxxxxx"})
            await check(200, api + "/job", headers=bearer)
            await check(404, api + "/nope")
            await check(404, api + "/job/nope")
            await check(404, url + "/api/other")
            await check(405, api + "/job/pause")  # an action is a POST
            await check(405, api, "POST", b"")
            await check(405, api + "/job", "DELETE")
            headers = await check(401, api + "/job/pause", "POST", b"")
            assert headers["www-authenticate"] == "Bearer"
            await check(401, api + "/job/pause", "POST", b"", {"authorization": "Basic eDp5"})
            # A session cookie is not a credential here (no CSRF possible).
            await check(401, api + "/job/pause", "POST", b"", {"cookie": "turnkeeper_session=x"})
            await check(415, api + "/job/trigger", "POST", b"{}", bearer)
            json_headers = {**bearer, "content-type": "application/json"}
            await check(400, api + "/job/trigger", "POST", b"[1]", json_headers)
            await check(400, api + "/job/trigger", "POST", b"{nope", json_headers)
            await check(400, api + "/job/cancel", "POST", b'{"interrupt": "yes"}', json_headers)
            await check(400, api + "/job/trigger", "POST", b'{"idempotency_key": 7}', json_headers)
            assert s.get_job_details(job).state is tk.JobState.SCHEDULED
            await check(200, api + "/job/pause", "POST", b"", bearer)
            assert s.get_job_details(job).state is tk.JobState.PAUSED


# ---------------------------------------------------------------------- PostgreSQL


async def test_the_cli_commands_replicas_through_postgres(pg_dsn: str) -> None:
    store = tk.PostgresStore(pg_dsn, lease_ttl=1.5)
    async with tk.open_scheduler(max_workers=2, store=store) as s:
        report = await s.add_job(tk.Interval(3600), record, SECRET, key="report", name="Report")
        await s.add_job(tk.Interval(0.1), record, "tick", key="tick")
        await CALLS.until(3)
        assert "report" in store.held  # a job added here is held here from the start
        listing = await ok_json("list", "--dsn", pg_dsn)
        assert sorted(j["key"] for j in listing) == ["report", "tick"]
        for item in listing:
            check_summary(item)
        shown = await ok_json("show", "report", "--dsn", pg_dsn)
        check_details(shown)
        assert shown["name"] == "Report"
        assert shown["schedule"].startswith("Interval(")
        runs = await ok_json("history", "tick", "--dsn", pg_dsn, "-n", "2")
        assert 1 <= len(runs) <= 2
        check_runs(runs)

        done = await cli("pause", "report", "--dsn", pg_dsn, "--note", "maintenance")
        assert done.returncode == 0, done.stderr
        assert "report: paused" in done.stdout
        # Applied by the replica that holds the job (this one) before the command returned.
        assert s.get_job_details(report).state is tk.JobState.PAUSED
        assert (await ok_json("show", "report", "--dsn", pg_dsn))["state"] == "paused"
        with psycopg.connect(pg_dsn) as conn:
            row = conn.execute(
                "SELECT kind, payload, applied_at IS NOT NULL, origin FROM turnkeeper_commands "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()
        assert row is not None
        assert row[:3] == ("pause", {"note": "maintenance"}, True)
        assert row[3].startswith("cli:")

        await ok_json("resume", "report", "--dsn", pg_dsn)
        assert s.get_job_details(report).state is tk.JobState.SCHEDULED
        before = CALLS.items.count(SECRET)
        answer = await ok_json("trigger", "report", "--dsn", pg_dsn, "--idempotency-key", "t1")
        assert set(answer) == ACTED
        with trio.fail_after(10):
            while CALLS.items.count(SECRET) < before + 1:
                await CALLS.changed.wait()
        await ok_json("trigger", "report", "--dsn", pg_dsn, "--idempotency-key", "t1")
        await trio.sleep(0.5)
        assert CALLS.items.count(SECRET) == before + 1  # the same key ran once
        assert "no job with key 'missing'" in await refused("pause", "missing", "--dsn", pg_dsn)
        await s.shutdown_graceful(timeout=5)  # gives its leases back

    def commands() -> int:
        with psycopg.connect(pg_dsn) as conn:
            (count,) = conn.execute("SELECT count(*) FROM turnkeeper_commands").fetchone() or (0,)
        return int(count)

    posted = commands()
    message = await refused("pause", "report", "--dsn", pg_dsn)
    assert "no replica holds" in message
    assert commands() == posted  # nothing was posted
    # A holder that never answers (a stalled replica): the command times out, exit 2.
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "UPDATE turnkeeper_jobs SET owner = 'ghost', lease_until = now() + interval '1 hour' "
            "WHERE key = 'report'"
        )
    message = await refused("pause", "report", "--dsn", pg_dsn, "--wait", "1")
    assert "not applied within 1 s" in message
    assert commands() == posted + 1


async def test_postgres_errors_are_one_line(pg_cluster: Any) -> None:
    empty = pg_cluster.database()
    assert "no turnkeeper_trio tables" in await refused("list", "--dsn", empty)
    message = await refused("list", "--dsn", "postgresql://nobody:hunter2@127.0.0.1:9/x")
    assert "hunter2" not in message
    assert "--url" not in message


# ---------------------------------------------------------------------- SQLite


async def test_the_cli_reads_an_sqlite_store(tmp_path: Path) -> None:
    path = str(tmp_path / "jobs.db")
    async with tk.open_scheduler(max_workers=2, store=tk.SQLiteStore(path)) as s:
        await s.add_job(tk.Interval(0.1), record, "tick", key="tick")
        await s.add_job(tk.Cron("0 2 * * *"), record, SECRET, key="nightly", name="Nightly")
        await CALLS.until(3)
        # Held by this process: reading works (WAL), commands are refused.
        assert {j["key"] for j in await ok_json("list", "--sqlite", path)} == {"tick", "nightly"}
        message = await refused("pause", "nightly", "--sqlite", path)
        assert "the store is open in another process; use --url" in message
        await s.shutdown_graceful(timeout=5)
    listing = await ok_json("list", "--sqlite", path)
    for item in listing:
        check_summary(item)
    shown = await ok_json("show", "nightly", "--sqlite", path)
    check_details(shown)
    assert shown["name"] == "Nightly"
    assert shown["state"] == "scheduled"
    runs = await ok_json("history", "tick", "--sqlite", path, "-n", "3")
    assert len(runs) == 3
    check_runs(runs)
    assert "read-only" in await refused("pause", "nightly", "--sqlite", path)
    assert "no job with key" in await refused("show", "missing", "--sqlite", path)
    other = tmp_path / "other.db"
    other.write_bytes(b"")
    assert "not a turnkeeper_trio" in await refused("list", "--sqlite", str(other))
    assert "no such file" in await refused("list", "--sqlite", str(tmp_path / "none.db"))
    assert not (tmp_path / "none.db").exists()


async def test_bad_options_are_one_line() -> None:
    assert "exactly one of" in await refused("list")
    assert "exactly one of" in await refused("list", "--sqlite", "a", "--dsn", "b")
    assert "--token goes with --url" in await refused("list", "--sqlite", "a", "--token", "x")
    assert "--wait" in await refused("list", "--sqlite", "a", "--wait", "0")
    assert "-n/--count" in await refused("history", "k", "--sqlite", "a", "-n", "0")
    assert "http" in await refused("list", "--url", "ftp://127.0.0.1/x")


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    path = str(tmp_path / "many.db")

    async def fill() -> None:
        async with tk.open_scheduler(max_workers=1, store=tk.SQLiteStore(path)) as s:
            for i in range(800):
                await s.add_job(tk.Never(), record, "x", key=f"job-{i:04}")

    trio.run(fill)
    command = [sys.executable, "-m", "turnkeeper_trio", "jobs", "list", "--sqlite", path, "--json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        assert child.stdout.readline() == b"[\n"
        child.stdout.close()
        stderr = child.stderr.read()
        assert child.wait(timeout=60) == 1
    assert stderr == b""
