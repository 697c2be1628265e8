"""The examples run as part of the suite, in simulated time."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime

import pytest
import trio

from examples import demo, graceful_service
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
