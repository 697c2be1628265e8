"""The batch calls: ``add_jobs`` and ``cancel_jobs``, atomic per item, one checkpoint each."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START, Recorder


async def noop() -> None:
    """A job that does nothing."""


async def test_add_jobs_adds_every_job_in_order_and_they_run(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        result = await s.add_jobs(
            tk.JobRequest(tk.Once(START + timedelta(seconds=k)), job, k, name=f"job {k}")
            for k in range(1, 6)
        )
        assert result.refused == ()
        assert len(result.ids) == 5
        assert result.accepted == result.ids
        assert [job_id.value for job_id in result.accepted] == sorted(
            job_id.value for job_id in result.accepted
        )
        # Taken in when the call returns: planned, not staged.
        states = {d.id: d.state for d in s.list_all_jobs()}
        assert set(states.values()) == {tk.JobState.SCHEDULED}
        assert s.get_job_details(result.ids[2]).name == "job 3"  # type: ignore[arg-type]
        await trio.sleep(10)
    assert job.times == [START + timedelta(seconds=k) for k in range(1, 6)]
    assert [ctx.name for _, ctx in job.calls] == [f"job {k}" for k in range(1, 6)]


async def test_add_jobs_refuses_bad_items_alone_with_the_error_add_job_raises(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        result = await s.add_jobs(
            [
                tk.JobRequest(tk.Interval(60), noop),
                tk.JobRequest("every minute", noop),  # type: ignore[arg-type]
                tk.JobRequest(tk.Interval(60), noop, timeout=-1),
                "not a request",  # type: ignore[list-item]
                tk.JobRequest(tk.Interval(60), noop, "unexpected"),  # type: ignore[arg-type]
                tk.JobRequest(tk.Interval(60), noop, key="~reserved"),
                tk.JobRequest(tk.Never(), noop, name="last"),
            ]
        )
        assert [r.index for r in result.refused] == [1, 2, 3, 4, 5]
        errors = [r.error for r in result.refused]
        assert isinstance(errors[0], TypeError)
        assert "schedule" in str(errors[0])
        assert isinstance(errors[1], tk.InvalidArgument)
        assert "timeout" in str(errors[1])
        assert isinstance(errors[2], TypeError)
        assert "jobs[3]" in str(errors[2])
        assert isinstance(errors[3], TypeError)
        assert "args" in str(errors[3])
        assert isinstance(errors[4], tk.InvalidArgument)
        assert "key" in str(errors[4])
        assert result.ids[1:6] == (None,) * 5
        first, last = result.ids[0], result.ids[6]
        assert first is not None
        assert last is not None
        assert result.accepted == (first, last)
        # The accepted ones are added; nothing of the refused ones is.
        assert {j.id for j in s.list_all_jobs()} == {first, last}
        assert s.get_job_details(last).name == "last"
        with pytest.raises(ExceptionGroup, match="5 of 7 items refused") as caught:
            result.raise_for_refused()
        assert list(caught.value.exceptions) == errors
        assert s.get_metrics_snapshot().jobs_submitted == 2
    tk.BatchResult((first,)).raise_for_refused()  # nothing refused: nothing raised


@pytest.mark.parametrize("jobs", [None, 42, "Interval(60)", tk.JobRequest(tk.Never(), noop)])
async def test_add_jobs_refuses_a_non_iterable_naming_the_argument(jobs: object) -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        with pytest.raises(TypeError, match="jobs must be an iterable of JobRequest"):
            await s.add_jobs(jobs)  # type: ignore[arg-type]
        assert s.list_all_jobs() == []


async def test_add_jobs_of_an_empty_batch_returns_an_empty_result() -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        with trio.testing.assert_checkpoints():
            result = await s.add_jobs([])
    assert result == tk.BatchResult(())


async def test_add_jobs_is_one_checkpoint_and_needs_no_room_for_the_whole_batch(
    autojump_clock: object, wall: MockWallClock
) -> None:
    # A batch far larger than the staging buffer is taken in by the one call.
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, staging_buffer_size=1) as s:
        with trio.testing.assert_checkpoints():
            result = await s.add_jobs(tk.JobRequest(tk.Interval(60), noop) for _ in range(500))
        assert len(result.accepted) == 500
        assert s.get_metrics_snapshot().staging_buffered == 0
        assert len(s.list_all_jobs()) == 500


async def test_add_jobs_comes_after_what_is_staged_and_attaches_known_keys(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        staged = s.try_add_job(tk.Never(), noop, key="staged")
        result = await s.add_jobs(
            [
                tk.JobRequest(tk.Never(), noop, key="staged", name="renamed"),
                tk.JobRequest(tk.Never(), noop, key="twice"),
                tk.JobRequest(tk.Never(), noop, key="twice", name="second"),
            ]
        )
        # A key the scheduler knows attaches, also within the batch itself.
        assert result.ids[0] == staged
        assert result.ids[1] == result.ids[2]
        assert len(s.list_all_jobs()) == 2
        assert s.get_job_details(staged).name == "renamed"
        assert s.get_job_details(result.ids[1]).name == "second"  # type: ignore[arg-type]


async def test_add_jobs_refuses_before_the_start_and_while_closing() -> None:
    scheduler = tk.Scheduler(max_workers=1)
    with pytest.raises(tk.SchedulerNotRunning):
        await scheduler.add_jobs([tk.JobRequest(tk.Never(), noop)])
    async with tk.open_scheduler(max_workers=1) as s:
        await s.shutdown_graceful()
        with pytest.raises(tk.SchedulerClosed):
            await s.add_jobs([tk.JobRequest(tk.Never(), noop)])
    assert s.list_all_jobs() == []


async def test_add_jobs_cancelled_before_the_call_adds_nothing() -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        with trio.CancelScope() as scope:
            scope.cancel()
            await s.add_jobs([tk.JobRequest(tk.Never(), noop)])
        assert scope.cancelled_caught
        assert s.list_all_jobs() == []


async def test_add_jobs_with_a_durable_store_returns_once_every_job_is_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    async with tk.open_scheduler(max_workers=1, store=tk.SQLiteStore(path)) as s:
        result = await s.add_jobs(
            [tk.JobRequest(tk.Interval(3600), noop, key=f"job-{k}") for k in range(20)]
        )
        assert len(result.accepted) == 20
        s._request_shutdown(force=True)  # no graceful write-out: what is on disk counts
    async with tk.open_scheduler(max_workers=1, store=tk.SQLiteStore(path)) as s2:
        keys = {j.id.key for j in s2.list_all_jobs()}
    assert keys == {f"job-{k}" for k in range(20)}


async def test_cancel_jobs_cancels_each_and_refuses_unknown_ids_alone(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        ids = (await s.add_jobs(tk.JobRequest(tk.Interval(10), job) for _ in range(4))).accepted
        done = await s.add_job(tk.Once(START), job)
        await trio.sleep(1)  # the Once has run: it is completed
        assert s.get_job_details(done).state is tk.JobState.COMPLETED
        with trio.testing.assert_checkpoints():
            result = await s.cancel_jobs([ids[0], tk.JobId(999), done, "job-2", ids[1]])  # type: ignore[list-item]
        assert result.ids == (ids[0], None, done, None, ids[1])
        assert [r.index for r in result.refused] == [1, 3]
        assert isinstance(result.refused[0].error, tk.JobNotFound)
        assert isinstance(result.refused[1].error, TypeError)
        states = {d.id: d.state for d in s.list_all_jobs()}
        assert states[ids[0]] is states[ids[1]] is tk.JobState.CANCELLED
        assert states[ids[2]] is states[ids[3]] is tk.JobState.SCHEDULED
        assert states[done] is tk.JobState.COMPLETED  # idempotent: left as it was
        await trio.sleep(10.5)
    # Only the two jobs left ran at 10 s (and the Once at the start).
    assert len(job.calls) == 1 + 2


async def test_cancel_jobs_with_interrupt_cancels_the_running_attempts(
    autojump_clock: object, wall: MockWallClock
) -> None:
    started = 0

    async def slow() -> None:
        nonlocal started
        started += 1
        await trio.sleep(100)

    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        ids = (await s.add_jobs([tk.JobRequest(tk.Once(START), slow)] * 2)).accepted
        await trio.sleep(1)
        assert started == 2
        result = await s.cancel_jobs(ids, interrupt=True)
        assert result.refused == ()
        await trio.sleep(1)
        for job_id in ids:
            details = s.get_job_details(job_id)
            assert details.state is tk.JobState.CANCELLED
            assert [r.outcome for r in details.last_runs] == [tk.Outcome.CANCELLED]


async def test_cancel_jobs_refuses_a_non_iterable_and_a_closing_scheduler() -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        job_id = await s.add_job(tk.Never(), noop)
        with pytest.raises(TypeError, match="job_ids must be an iterable of JobId"):
            await s.cancel_jobs(job_id)  # type: ignore[arg-type]
        await s.shutdown_graceful()
        with pytest.raises(tk.SchedulerClosed):
            await s.cancel_jobs([job_id])
