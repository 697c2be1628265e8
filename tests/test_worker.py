"""How each way a job can end is classified, recorded and counted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START


async def _one_run(
    wall: MockWallClock, fn: Callable[[], Awaitable[object]], **kwargs: object
) -> tuple[tk.JobDetails, tk.MetricsSnapshot]:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Once(START), fn, **kwargs)  # type: ignore[arg-type]
        await trio.sleep(100)
        return s.get_job_details(job_id), s.get_metrics_snapshot()


async def _returns_true() -> bool:
    return True


async def _returns_none() -> None:
    return None


async def _returns_non_bool() -> object:
    return {"rows": 0}


async def _returns_false() -> bool:
    return False


async def _raises() -> None:
    raise ValueError("bad row 7")


async def _raises_group() -> None:
    async with trio.open_nursery() as nursery:

        async def fails() -> None:
            raise KeyError("lost")

        nursery.start_soon(fails)


async def _hangs() -> None:
    await trio.sleep_forever()


async def _swallows_cancel() -> bool:
    # A badly behaved job: it catches its own cancellation and returns as if all went well.
    try:  # noqa: SIM105 - spelled out on purpose
        await trio.sleep_forever()
    except trio.Cancelled:
        pass
    return True


@pytest.mark.parametrize(
    ("fn", "outcome", "error_type"),
    [
        (_returns_true, tk.Outcome.SUCCEEDED, None),
        (_returns_none, tk.Outcome.SUCCEEDED, None),
        (_returns_non_bool, tk.Outcome.SUCCEEDED, None),
        (_returns_false, tk.Outcome.FAILED, None),
        (_raises, tk.Outcome.ERRORED, "ValueError"),
        (_raises_group, tk.Outcome.ERRORED, "ExceptionGroup"),
    ],
)
async def test_outcome_classification(
    autojump_clock: object,
    wall: MockWallClock,
    fn: Callable[[], Awaitable[object]],
    outcome: tk.Outcome,
    error_type: str | None,
) -> None:
    details, metrics = await _one_run(wall, fn)
    (run,) = details.last_runs
    assert run.outcome is outcome
    assert getattr(details.counts, outcome.value) == 1
    assert getattr(metrics, f"runs_{outcome.value}") == 1
    assert metrics.runs_started == metrics.runs_finished == 1
    if error_type is None:
        assert run.error is None
    else:
        assert run.error is not None
        assert run.error.type == error_type
        assert "Traceback" in run.error.traceback


async def test_error_record_has_message_and_traceback(
    autojump_clock: object, wall: MockWallClock
) -> None:
    details, _ = await _one_run(wall, _raises)
    error = details.last_runs[0].error
    assert error is not None
    assert error.message == "bad row 7"
    assert "_raises" in error.traceback


async def test_timeout_is_recorded_and_retried(autojump_clock: object, wall: MockWallClock) -> None:
    details, metrics = await _one_run(wall, _hangs, timeout=5, retry=tk.FixedDelay(1, 10))
    assert [r.outcome for r in details.last_runs] == [tk.Outcome.TIMED_OUT] * 2
    assert [r.duration for r in details.last_runs] == [5.0, 5.0]
    assert [(r.started_at - START).total_seconds() for r in details.last_runs] == [0, 15]
    assert metrics.runs_timed_out == 2
    assert metrics.retries_scheduled == 1


async def test_timeout_without_retries(autojump_clock: object, wall: MockWallClock) -> None:
    details, metrics = await _one_run(wall, _hangs, timeout=2.5)
    assert [r.outcome for r in details.last_runs] == [tk.Outcome.TIMED_OUT]
    assert details.state is tk.JobState.COMPLETED
    assert metrics.retries_scheduled == 0


async def test_a_job_that_swallows_its_timeout_is_still_timed_out(
    autojump_clock: object, wall: MockWallClock
) -> None:
    details, _ = await _one_run(wall, _swallows_cancel, timeout=1)
    assert [r.outcome for r in details.last_runs] == [tk.Outcome.TIMED_OUT]


async def test_a_job_that_swallows_shutdown_cancellation_is_recorded_cancelled(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Once(START), _swallows_cancel)
        await trio.sleep(1)
        await s.shutdown_force()
    assert [r.outcome for r in s.get_job_details(job_id).last_runs] == [tk.Outcome.CANCELLED]


async def test_errors_are_logged_with_their_traceback(
    autojump_clock: object, wall: MockWallClock, caplog: pytest.LogCaptureFixture
) -> None:
    await _one_run(wall, _raises, name="importer")
    (record,) = [r for r in caplog.records if r.name == "turnkeeper_trio" and "raised" in r.message]
    assert record.levelname == "WARNING"
    assert "ValueError: bad row 7" in record.getMessage()
    assert "Traceback" in record.getMessage()
    assert record.__dict__["job_name"] == "importer"
    assert record.__dict__["outcome"] == "errored"
    assert record.__dict__["attempt"] == 1


async def test_a_healthy_run_logs_nothing_at_info(
    autojump_clock: object, wall: MockWallClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="turnkeeper_trio")
    await _one_run(wall, _returns_true)
    job_lines = [r for r in caplog.records if "job" in r.getMessage()]
    assert job_lines == []


async def _fails_while_cancelled() -> None:
    try:
        await trio.sleep_forever()
    finally:
        raise ValueError("cleanup failed")


async def test_a_worker_runs_each_attempt_in_full_after_a_timeout_or_interrupt(
    autojump_clock: object, wall: MockWallClock
) -> None:
    # One worker runs everything, in order: whatever ended one attempt early (its timeout,
    # an interrupt, a job that swallowed or replaced its cancellation) never reaches the next.
    async def sleeps_10s() -> bool:
        await trio.sleep(10)
        return True

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        jobs = [
            await s.add_job(tk.Once(START), _hangs, timeout=1),
            await s.add_job(tk.Once(START), sleeps_10s),
            await s.add_job(tk.Once(START), _swallows_cancel, timeout=2),
            await s.add_job(tk.Once(START), sleeps_10s),
            await s.add_job(tk.Once(START), _fails_while_cancelled, timeout=3),
            await s.add_job(tk.Once(START), sleeps_10s, timeout=11),
            await s.add_job(tk.Once(START), sleeps_10s),  # past the previous one's deadline
            await s.add_job(tk.Once(START), _hangs),
            await s.add_job(tk.Once(START), sleeps_10s),
            await s.add_job(tk.Once(START), _swallows_cancel),  # interrupted, returns anyway
            await s.add_job(tk.Once(START), sleeps_10s),
        ]
        with s.subscribe(tk.RunStarted) as started:
            for interrupted in (jobs[7], jobs[9]):
                while (await started.receive()).job_id != interrupted:
                    pass
                assert await s.interrupt_job(interrupted)
        await trio.sleep(100)
        runs = [s.get_job_details(job).last_runs[0] for job in jobs]
    assert [r.outcome for r in runs] == [
        tk.Outcome.TIMED_OUT,
        tk.Outcome.SUCCEEDED,
        tk.Outcome.TIMED_OUT,
        tk.Outcome.SUCCEEDED,
        tk.Outcome.ERRORED,
        tk.Outcome.SUCCEEDED,
        tk.Outcome.SUCCEEDED,
        tk.Outcome.CANCELLED,
        tk.Outcome.SUCCEEDED,
        tk.Outcome.CANCELLED,
        tk.Outcome.SUCCEEDED,
    ]
    durations = [runs[i].duration for i in (0, 1, 2, 3, 4, 5, 6, 8, 10)]
    assert durations == [1, 10, 2, 10, 3, 10, 10, 10, 10]
    assert runs[4].error is not None
    assert runs[4].error.message == "cleanup failed"
