"""The examples run as part of the suite, in simulated time."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

import turnkeeper_trio as tk
from examples import demo, durable_service, graceful_service, quickstart, web_service
from examples.simulated_time import test_report_runs_on_weekday_mornings
from turnkeeper_trio.testing import MockWallClock

__all__ = ["test_report_runs_on_weekday_mornings"]  # collected here, defined in the example


async def test_demo_shows_every_kind_of_job(
    autojump_clock: object, capsys: pytest.CaptureFixture[str]
) -> None:
    await demo.main(MockWallClock(datetime(2026, 1, 5, 12, 0, 0, 500_000, tzinfo=UTC)))
    out = capsys.readouterr().out
    assert "heartbeat #6" in out  # every 1.5 s for 10 s
    assert "cron tick" in out
    assert "flaky job: attempt 1 fails" in out
    assert "flaky job: attempt 3 succeeds" in out
    assert "slow job: starting" in out
    assert "manual job: rebuilding the index" in out
    final = out[out.index("final metrics:") :]
    assert "runs_timed_out     1" in final
    assert "retries_scheduled  2" in final
    assert "triggers           1" in final
    assert "flaky          completed" in final


async def test_graceful_service_stops_on_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    with trio.fail_after(10):  # real time: signals arrive through the OS
        async with trio.open_nursery() as nursery:
            await nursery.start(graceful_service.main)
            os.kill(os.getpid(), signal.SIGTERM)
    out = capsys.readouterr().out
    assert "received SIGTERM: shutting down gracefully" in out
    assert "stopped cleanly" in out


async def test_durable_service_carries_on_after_a_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Real time: the store works in a thread.
    db = str(tmp_path / "jobs.db")
    await durable_service.main(db, 1.2)
    first = capsys.readouterr().out
    await durable_service.main(db, 1.2)
    second = capsys.readouterr().out

    def runs(out: str, key: str) -> tuple[str, int]:
        (line,) = [line for line in out.splitlines() if line.startswith(key) and "runs=" in line]
        state, count = line.split()[1:3]
        return state, int(count.removeprefix("runs="))

    assert runs(first, "heartbeat")[1] >= 1
    assert runs(second, "heartbeat")[1] > runs(first, "heartbeat")[1]  # counts carry on
    assert runs(second, "nightly-export") == ("paused", 0)  # still paused
    assert "heartbeat for" in second


async def test_quickstart_runs_both_jobs_on_their_schedules(
    autojump_clock: object, capsys: pytest.CaptureFixture[str]
) -> None:
    await quickstart.main(11, MockWallClock(datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)))
    lines = capsys.readouterr().out.splitlines()
    interval = [line for line in lines if line.startswith("every 2 s")]
    cron = [line for line in lines if line.startswith("cron:")]
    assert interval[:5] == [f"every 2 s: ran for 12:00:{s:02d}" for s in (2, 4, 6, 8, 10)]
    assert cron[:2] == ["cron: ran for 12:00:05", "cron: ran for 12:00:10"]


async def _http(url: str, method: str, path: str) -> tuple[int, object]:
    """One HTTP/1.1 request over a real socket; returns (status, decoded JSON body)."""
    status, body = await _raw(url, method, path)
    return status, json.loads(body)


async def _raw(url: str, method: str, path: str) -> tuple[int, bytes]:
    """One HTTP/1.1 request over a real socket; returns (status, body)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        request = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        await stream.send_all((request + "Content-Length: 0\r\n\r\n").encode())
        response = b""
        while chunk := await stream.receive_some():
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_web_service_exposes_status_and_triggers_jobs_over_http() -> None:
    with trio.fail_after(20):  # real sockets, real time: the jobs take well under a second
        async with tk.open_scheduler(max_workers=2) as scheduler, trio.open_nursery() as nursery:
            await web_service.add_jobs(scheduler)
            url = await nursery.start(web_service.serve_status, scheduler, 0)

            status, jobs = await _http(url, "GET", "/jobs")
            assert status == 200
            assert isinstance(jobs, list)
            by_name = {job["name"]: job for job in jobs}
            assert set(by_name) == {"refresh-cache", "nightly-report", "rebuild-index"}
            assert by_name["rebuild-index"]["next_run_at"] is None  # Never(): trigger only
            assert by_name["nightly-report"]["next_run_at"].endswith("T02:00:00+00:00")

            index_id = by_name["rebuild-index"]["id"]
            with scheduler.subscribe(tk.RunFinished) as finished:
                assert await _http(url, "POST", f"/jobs/{index_id}/trigger") == (
                    202,
                    {"triggered": index_id},
                )
                event = await finished.receive()
            assert isinstance(event, tk.RunFinished)
            assert (str(event.job_id), event.outcome) == (index_id, tk.Outcome.SUCCEEDED)
            status, details = await _http(url, "GET", f"/jobs/{index_id}")
            assert status == 200
            assert isinstance(details, dict)
            assert details["runs"] == 1
            assert details["last_runs"][0]["outcome"] == "succeeded"
            assert details["last_runs"][0]["triggered"] is True

            status, metrics = await _http(url, "GET", "/metrics")
            assert (status, metrics["runs_succeeded"]) == (200, 1)  # type: ignore[index]
            assert (await _http(url, "GET", "/jobs/job-99"))[0] == 404
            status, page = await _raw(url, "GET", "/dashboard/")  # the mounted dashboard
            assert status == 200
            assert b"rebuild-index" in page
            assert b'href="/dashboard/job?key=~3"' in page
            assert b"read-only" in page  # no token given
            assert (await _http(url, "DELETE", "/jobs"))[0] == 404
            await scheduler.shutdown_graceful()  # the server stops with the scheduler
        assert scheduler.closing


async def test_web_service_main_serves_until_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    with trio.fail_after(20):  # real time: the signal arrives through the OS
        async with trio.open_nursery() as nursery:
            url = await nursery.start(web_service.main, 0)
            status, jobs = await _http(url, "GET", "/jobs")
            assert status == 200
            assert isinstance(jobs, list)
            assert len(jobs) == 3
            os.kill(os.getpid(), signal.SIGTERM)
    out = capsys.readouterr().out
    assert f"serving on {url}" in out
    assert out.rstrip().endswith("stopped cleanly")
