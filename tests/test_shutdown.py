"""Graceful and forced shutdown, block exit, and the exception-group policy."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START, Recorder


def _outcomes(s: tk.Scheduler, job_id: tk.JobId) -> list[tk.Outcome]:
    return [run.outcome for run in s.get_job_details(job_id).last_runs]


async def test_graceful_shutdown_lets_running_jobs_finish(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def work() -> None:
        await trio.sleep(30)

    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Interval(10), work)
        await trio.sleep(11)
        t0 = trio.current_time()
        await s.shutdown_graceful()
        assert trio.current_time() - t0 == pytest.approx(29)
        assert _outcomes(s, job_id) == [tk.Outcome.SUCCEEDED]
        metrics = s.get_metrics_snapshot()
        assert (metrics.runs_started, metrics.workers_active) == (1, 0)


async def test_graceful_shutdown_timeout_cancels_what_is_left(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def hangs() -> None:
        await trio.sleep_forever()

    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Once(START), hangs)
        await trio.sleep(1)
        t0 = trio.current_time()
        await s.shutdown_graceful(timeout=5)
        assert trio.current_time() - t0 == pytest.approx(5)
        assert _outcomes(s, job_id) == [tk.Outcome.CANCELLED]
        assert s.get_metrics_snapshot().runs_cancelled == 1


async def test_forced_shutdown_cancels_running_jobs_at_once(
    autojump_clock: object, wall: MockWallClock
) -> None:
    saw_cancel = trio.Event()

    async def hangs() -> None:
        try:
            await trio.sleep_forever()
        finally:
            saw_cancel.set()

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Once(START), hangs)
        await trio.sleep(1)
        t0 = trio.current_time()
        await s.shutdown_force()
        await s.shutdown_force()  # idempotent
        await s.shutdown_graceful()  # and harmless afterwards
        assert trio.current_time() == t0
        assert saw_cancel.is_set()
        assert _outcomes(s, job_id) == [tk.Outcome.CANCELLED]


async def test_forced_shutdown_cuts_a_graceful_one_short(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def hangs() -> None:
        await trio.sleep_forever()

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Once(START), hangs)
        await trio.sleep(1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.shutdown_graceful)
            await trio.sleep(10)
            assert s.closing
            await s.shutdown_force()
        assert s.get_metrics_snapshot().runs_cancelled == 1


async def test_leaving_the_block_normally_is_graceful(
    autojump_clock: object, wall: MockWallClock
) -> None:
    done = []

    async def work() -> None:
        await trio.sleep(5)
        done.append(True)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Once(START), work)
        await trio.sleep(1)
    assert done == [True]
    assert s.get_metrics_snapshot().runs_succeeded == 1


async def test_shutdown_timeout_applies_when_leaving_the_block(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def hangs() -> None:
        await trio.sleep_forever()

    t0 = trio.current_time()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, shutdown_timeout=3) as s:
        await s.add_job(tk.Once(START), hangs)
        await trio.sleep(1)
    assert trio.current_time() - t0 == pytest.approx(4)
    assert s.get_metrics_snapshot().runs_cancelled == 1


async def test_body_exception_comes_out_unwrapped_and_forces_shutdown(
    autojump_clock: object, wall: MockWallClock
) -> None:
    cancelled = trio.Event()

    async def hangs() -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.set()
            raise

    class Boom(Exception):
        pass

    with pytest.raises(Boom, match="from the body") as info:
        async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
            job_id = await s.add_job(tk.Once(START), hangs)
            await trio.sleep(1)
            raise Boom("from the body")
    assert type(info.value) is Boom
    assert cancelled.is_set()
    assert _outcomes(s, job_id) == [tk.Outcome.CANCELLED]


async def test_body_exception_group_is_not_unwrapped_further(autojump_clock: object) -> None:
    with pytest.raises(ExceptionGroup) as info:
        async with tk.open_scheduler(max_workers=1):
            raise ExceptionGroup("mine", [ValueError("a")])
    # The user's own group comes out as it was raised, not inside another group.
    assert info.value.message == "mine"
    assert [repr(e) for e in info.value.exceptions] == [repr(ValueError("a"))]


async def test_outer_cancellation_is_a_forced_shutdown(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def hangs() -> None:
        await trio.sleep_forever()

    with trio.move_on_after(10) as scope:
        async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
            job_id = await s.add_job(tk.Once(START), hangs)
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert _outcomes(s, job_id) == [tk.Outcome.CANCELLED]
    assert s.closing


async def test_keyboard_interrupt_in_a_job_stops_the_scheduler_and_reaches_the_user(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def hangs() -> None:
        await trio.sleep_forever()

    async def interrupts() -> None:
        await trio.sleep(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
            other = await s.add_job(tk.Once(START), hangs)
            culprit = await s.add_job(tk.Once(START), interrupts)
            await trio.sleep_forever()
    assert _outcomes(s, other) == [tk.Outcome.CANCELLED]
    culprit_runs = s.get_job_details(culprit).last_runs
    assert [r.outcome for r in culprit_runs] == [tk.Outcome.ERRORED]
    assert culprit_runs[0].error is not None
    assert culprit_runs[0].error.type == "KeyboardInterrupt"


async def test_system_exit_in_a_job_propagates(autojump_clock: object, wall: MockWallClock) -> None:
    async def exits() -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit) as info:
        async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
            await s.add_job(tk.Once(START), exits)
            await trio.sleep_forever()
    assert info.value.code == 3


async def test_calls_after_shutdown_raise_scheduler_closed(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Interval(10), Recorder(wall))
        await trio.sleep(15)
    with pytest.raises(tk.SchedulerClosed) as info:
        await s.add_job(tk.Never(), Recorder(wall))
    assert isinstance(info.value, trio.ClosedResourceError)
    with pytest.raises(tk.SchedulerClosed):
        s.try_add_job(tk.Never(), Recorder(wall))
    for call in (s.cancel_job, s.trigger_job, s.pause_job, s.resume_job, s.interrupt_job):
        with pytest.raises(tk.SchedulerClosed):
            await call(job_id)
    with pytest.raises(tk.SchedulerClosed):
        await s.update_job(job_id, name="x")
    # Queries still answer with the final state.
    details = s.get_job_details(job_id)
    assert details.state is tk.JobState.SCHEDULED
    assert details.next_run_at == START + timedelta(seconds=20)
    assert s.get_metrics_snapshot().runs_succeeded == 1
    assert [j.id for j in s.list_all_jobs()] == [job_id]


async def test_no_new_runs_start_during_graceful_shutdown(
    autojump_clock: object, wall: MockWallClock
) -> None:
    fast = Recorder(wall)

    async def slow() -> None:
        await trio.sleep(30)

    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        await s.add_job(tk.Once(START), slow)
        await s.add_job(tk.Interval(1), fast)
        await trio.sleep(2.5)
        await s.shutdown_graceful()
    assert len(fast.calls) == 2


async def test_shutdown_from_inside_a_job(autojump_clock: object, wall: MockWallClock) -> None:
    async def stopper() -> None:
        await tk_scheduler[0].shutdown_graceful()

    tk_scheduler: list[tk.Scheduler] = []
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        tk_scheduler.append(s)
        job_id = await s.add_job(tk.Once(START + timedelta(seconds=5)), stopper)
        await s.wait_stopped()  # returns once the job's shutdown request has been carried out
        assert trio.current_time() == pytest.approx(5)
    assert s.closing
    assert _outcomes(s, job_id) == [tk.Outcome.SUCCEEDED]


async def test_jobs_waiting_in_the_staging_buffer_are_kept_at_shutdown(
    autojump_clock: object, wall: MockWallClock
) -> None:
    scheduler = tk.Scheduler(max_workers=1, wall_clock=wall)
    ids = [scheduler.try_add_job(tk.Interval(60), Recorder(wall)) for _ in range(3)]
    await scheduler.shutdown_graceful()  # never started
    assert [scheduler.get_job_details(i).state for i in ids] == [tk.JobState.SCHEDULED] * 3
    assert scheduler.get_metrics_snapshot().jobs_submitted == 3


async def test_shutdown_rejects_bad_timeouts(autojump_clock: object) -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        with pytest.raises(tk.InvalidArgument, match="timeout"):
            await s.shutdown_graceful(timeout=-1)
        with pytest.raises(TypeError, match="timeout"):
            await s.shutdown_force(timeout="soon")  # type: ignore[arg-type]
        assert not s.closing


def test_queries_work_after_trio_run_has_returned() -> None:
    async def main() -> tk.Scheduler:
        async with tk.open_scheduler(max_workers=1) as s:
            await s.add_job(tk.Never(), Recorder(MockWallClock(START)), retry=tk.FixedDelay(1, 1))
        return s

    s = trio.run(main)
    assert len(s.list_all_jobs()) == 1
    assert s.get_job_details(s.list_all_jobs()[0].id).state is tk.JobState.SCHEDULED
    assert s.get_metrics_snapshot().jobs_submitted == 1


async def test_graceful_shutdown_while_a_due_run_waits_for_a_busy_worker(
    autojump_clock: object, wall: MockWallClock
) -> None:
    waiting = Recorder(wall)

    async def busy() -> None:
        await trio.sleep(10)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Once(START), busy)
        job_id = await s.add_job(tk.Once(START + timedelta(seconds=1)), waiting)
        await trio.sleep(2)  # the second run is due, held by the dispatcher: no free worker
        await s.shutdown_graceful()
        details = s.get_job_details(job_id)
    assert waiting.calls == []  # never started: graceful shutdown starts nothing new
    assert details.state is tk.JobState.SCHEDULED  # and it is still planned, not lost
    assert details.next_run_at == START + timedelta(seconds=1)
    assert s.get_metrics_snapshot().runs_succeeded == 1


# --------------------------------------------------------------- reported shutdown defects


@pytest.mark.parametrize("how", ["force", "graceful-0"])
async def test_shutdown_while_runs_wait_for_workers_never_raises(
    autojump_clock: object, wall: MockWallClock, how: str
) -> None:
    async def half_second() -> None:
        await trio.sleep(0.5)

    for _ in range(50):
        async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
            for _ in range(4):  # more jobs than workers: runs wait for a worker
                await s.add_job(tk.Interval(1), half_second)
            await trio.sleep(2)
            if how == "force":
                await s.shutdown_force()
            else:
                await s.shutdown_graceful(timeout=0)
        assert s.get_metrics_snapshot().workers_active == 0


async def test_keyboard_interrupt_from_a_job_comes_out_alone(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def interrupts() -> None:
        raise KeyboardInterrupt

    async def busy() -> None:
        await trio.sleep(10)

    with pytest.raises(KeyboardInterrupt):
        async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
            await s.add_job(tk.Once(START + timedelta(seconds=1)), interrupts)
            await s.add_job(tk.Once(START + timedelta(seconds=1)), busy)  # waits for a worker
            await trio.sleep(100)


async def test_a_job_group_with_cancelled_records_the_error_and_leaks_nothing(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def own_nursery() -> None:
        async def fails_when_cancelled() -> None:
            try:
                await trio.sleep_forever()
            finally:
                raise ValueError("cleanup failed")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(fails_when_cancelled)
            await trio.sleep_forever()

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Once(START + timedelta(seconds=1)), own_nursery)
        await trio.sleep(2)
        await s.shutdown_force()
    record = s.get_job_details(job).last_runs[-1]
    assert record.outcome is tk.Outcome.ERRORED
    assert record.error is not None
    assert "cleanup failed" in record.error.traceback


MISSING: dict[str, int] = {}


async def test_the_users_exception_keeps_its_context(
    autojump_clock: object, wall: MockWallClock
) -> None:
    with pytest.raises(RuntimeError) as info:
        async with tk.open_scheduler(max_workers=1, wall_clock=wall):
            try:
                MISSING["missing"]
            except KeyError:
                raise RuntimeError("while handling") from None
    assert isinstance(info.value.__context__, KeyError)
    with pytest.raises(RuntimeError) as info:
        async with tk.open_scheduler(max_workers=1, wall_clock=wall):
            try:
                MISSING["missing"]
            except KeyError:
                raise RuntimeError("while handling")  # noqa: B904
    assert isinstance(info.value.__context__, KeyError)
    assert not info.value.__suppress_context__


async def test_forced_shutdown_keeps_runs_waiting_in_the_dispatch_buffer_planned(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def busy() -> None:
        await trio.sleep(100)

    async def quick() -> None:
        pass

    async with tk.open_scheduler(max_workers=1, dispatch_buffer_size=2, wall_clock=wall) as s:
        await s.add_job(tk.Once(START + timedelta(seconds=1)), busy)
        waiting = await s.add_job(tk.Once(START + timedelta(seconds=2)), quick)
        await trio.sleep(5)  # quick's run sits in the dispatch buffer
        await s.shutdown_force()
    details = s.get_job_details(waiting)
    assert details.state is tk.JobState.SCHEDULED
    assert details.next_run_at == START + timedelta(seconds=2)


async def test_scheduler_transitions_are_protected_from_keyboard_interrupt(
    autojump_clock: object, wall: MockWallClock
) -> None:
    seen: list[bool] = []

    class Watching(tk.abc.Schedule):
        def next_after(self, after: datetime) -> datetime | None:
            seen.append(trio.lowlevel.currently_ki_protected())
            return after + timedelta(seconds=10)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(Watching(), quick_job)
        await trio.sleep(25)
        await s.update_job(job, schedule=Watching())
        await s.trigger_job(job)
        await trio.sleep(1)
    assert len(seen) >= 3
    assert all(seen), seen


async def quick_job() -> None:
    pass


async def test_a_job_waiting_for_the_scheduler_to_stop_does_not_deadlock_shutdown(
    autojump_clock: object, wall: MockWallClock
) -> None:
    with trio.fail_after(60):  # a deadlock shows as a timeout on the autojump clock
        async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:

            async def waits() -> None:
                await s.wait_stopped()

            job = await s.add_job(tk.Once(START + timedelta(seconds=1)), waits)
            await trio.sleep(2)
    assert [r.outcome for r in s.get_job_details(job).last_runs] == [tk.Outcome.SUCCEEDED]
