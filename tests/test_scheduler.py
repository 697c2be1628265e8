"""The Scheduler handle: every row of the API table, on simulated time."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import trio
import trio.lowlevel
import trio.testing

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START, Recorder

QueueFactory = Callable[[], tk.abc.JobQueue]


async def test_interval_job_runs_on_its_grid(autojump_clock: object, wall: MockWallClock) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        await s.add_job(tk.Interval(10), job)
        await trio.sleep(35)
    assert job.times == [START + timedelta(seconds=10 * k) for k in (1, 2, 3)]


async def test_add_job_returns_id_and_details_describe_the_job(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(
            tk.Interval(60), job, name="poller", timeout=5, retry=tk.FixedDelay(2, 1)
        )
        assert isinstance(job_id, tk.JobId)
        assert str(job_id) == f"job-{job_id.value}"
        await trio.lowlevel.checkpoint()  # let the coordinator take it in
        details = s.get_job_details(job_id)
        assert details.name == "poller"
        assert details.state is tk.JobState.SCHEDULED
        assert details.next_run_at == START + timedelta(seconds=60)
        assert details.timeout == 5.0
        assert details.retry == tk.FixedDelay(2, 1)
        assert details.lifetime == tk.Forever()
        assert details.schedule == tk.Interval(60, start=START)
        await trio.sleep(61)
        details = s.get_job_details(job_id)
        assert details.runs == 1
        assert details.counts.succeeded == 1
        assert [r.scheduled_for for r in details.last_runs] == [START + timedelta(seconds=60)]
        summaries = s.list_all_jobs()
        assert [(x.id, x.name, x.state) for x in summaries] == [
            (job_id, "poller", tk.JobState.SCHEDULED)
        ]
        assert summaries[0].next_run_at == START + timedelta(seconds=120)


async def test_default_name_is_the_function_name(autojump_clock: object) -> None:
    async def nightly_backup() -> None:
        pass

    async with tk.open_scheduler(max_workers=1) as s:
        job_id = await s.add_job(tk.Never(), functools.partial(nightly_backup))
        assert s.get_job_details(job_id).name.endswith("nightly_backup")


async def test_positional_args_reach_the_job(autojump_clock: object, wall: MockWallClock) -> None:
    seen: list[tuple[object, ...]] = []

    async def job(*args: object) -> None:
        seen.append(args)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Once(START), job, "a", 2)
        await trio.sleep(1)
    assert seen == [("a", 2)]


async def test_sync_function_is_rejected_with_advice(autojump_clock: object) -> None:
    def sync_job() -> None:
        pass

    async with tk.open_scheduler(max_workers=1) as s:
        with pytest.raises(TypeError, match=r"async_fn must be an async function.*wrap it"):
            await s.add_job(tk.Never(), sync_job)  # type: ignore[arg-type]


async def test_staged_job_is_visible_before_the_coordinator_takes_it(
    autojump_clock: object, wall: MockWallClock
) -> None:
    scheduler = tk.Scheduler(max_workers=1, wall_clock=wall)
    job_id = scheduler.try_add_job(tk.Never(), Recorder(wall))
    assert scheduler.get_job_details(job_id).state is tk.JobState.STAGED
    assert scheduler.get_metrics_snapshot().staging_buffered == 1
    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        await trio.lowlevel.checkpoint()
        assert scheduler.get_job_details(job_id).state is tk.JobState.SCHEDULED
        await scheduler.shutdown_graceful()


async def test_try_add_job_raises_staging_full(autojump_clock: object, wall: MockWallClock) -> None:
    scheduler = tk.Scheduler(max_workers=1, staging_buffer_size=2, wall_clock=wall)
    scheduler.try_add_job(tk.Never(), Recorder(wall))
    scheduler.try_add_job(tk.Never(), Recorder(wall))
    with pytest.raises(tk.StagingFull) as info:
        scheduler.try_add_job(tk.Never(), Recorder(wall))
    assert isinstance(info.value, trio.WouldBlock)
    metrics = scheduler.get_metrics_snapshot()
    assert (metrics.jobs_submitted, metrics.staging_rejected) == (2, 1)
    # Once the scheduler runs, the buffer drains and both accepted jobs exist.
    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        await trio.lowlevel.checkpoint()
        assert len(scheduler.list_all_jobs()) == 2
        scheduler.try_add_job(tk.Never(), Recorder(wall))
        await scheduler.shutdown_graceful()


async def test_add_job_waits_for_room_in_the_staging_buffer(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, staging_buffer_size=1, wall_clock=wall) as s:
        first = s.try_add_job(tk.Never(), Recorder(wall))  # the buffer is now full
        # A submission cancelled while it would wait leaves nothing behind.
        with trio.CancelScope() as scope:
            scope.cancel()
            await s.add_job(tk.Never(), Recorder(wall))
        assert [j.id for j in s.list_all_jobs()] == [first]
        with trio.testing.assert_checkpoints():
            second = await s.add_job(tk.Never(), Recorder(wall))
        # It waited for the coordinator to take the first one in.
        assert s.get_job_details(first).state is tk.JobState.SCHEDULED
        await trio.testing.wait_all_tasks_blocked()
        assert s.get_job_details(second).state is tk.JobState.SCHEDULED


async def test_cancel_job_stops_future_runs(
    autojump_clock: object, wall: MockWallClock, queue_factory: QueueFactory
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, queue=queue_factory()) as s:
        job_id = await s.add_job(tk.Interval(10), job)
        await trio.sleep(25)
        await s.cancel_job(job_id)
        await s.cancel_job(job_id)  # idempotent
        await trio.sleep(100)
        details = s.get_job_details(job_id)
        assert details.state is tk.JobState.CANCELLED
        assert details.next_run_at is None
        assert s.get_metrics_snapshot().jobs_cancelled == 1
        with pytest.raises(tk.JobFinished):
            await s.trigger_job(job_id)
    assert len(job.calls) == 2


async def test_cancel_without_interrupt_lets_the_running_attempt_finish(
    autojump_clock: object, wall: MockWallClock
) -> None:
    finished = trio.Event()

    async def slow() -> None:
        await trio.sleep(10)
        finished.set()

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Once(START), slow)
        await trio.sleep(1)
        assert s.get_job_details(job_id).state is tk.JobState.RUNNING
        await s.cancel_job(job_id)
        await trio.sleep(20)
        assert finished.is_set()
        details = s.get_job_details(job_id)
        assert details.state is tk.JobState.CANCELLED
        assert details.counts.succeeded == 1


async def test_cancel_with_interrupt_cancels_the_running_attempt(
    autojump_clock: object, wall: MockWallClock, queue_factory: QueueFactory
) -> None:
    saw_cancelled = trio.Event()

    async def hangs() -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            saw_cancelled.set()
            raise

    async with tk.open_scheduler(max_workers=1, wall_clock=wall, queue=queue_factory()) as s:
        job_id = await s.add_job(tk.Interval(5), hangs)
        await trio.sleep(6)
        await s.cancel_job(job_id, interrupt=True)
        await trio.sleep(1)
        assert saw_cancelled.is_set()
        details = s.get_job_details(job_id)
        assert details.state is tk.JobState.CANCELLED
        assert [r.outcome for r in details.last_runs] == [tk.Outcome.CANCELLED]
        assert s.get_metrics_snapshot().workers_active == 0


async def test_interrupt_job_cancels_only_the_current_run(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async def hangs() -> None:
        await trio.sleep_forever()

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Interval(5), hangs, retry=tk.FixedDelay(3, 1))
        await trio.sleep(6)
        assert await s.interrupt_job(job_id) is True
        await trio.sleep(0.5)
        details = s.get_job_details(job_id)
        assert details.state is tk.JobState.SCHEDULED
        assert details.last_runs[-1].outcome is tk.Outcome.CANCELLED
        assert details.attempt == 1, "an interrupted attempt is not retried"
        assert details.next_run_at == START + timedelta(seconds=10)
        await trio.sleep(5)
        assert s.get_job_details(job_id).state is tk.JobState.RUNNING
        await s.cancel_job(job_id, interrupt=True)
        await trio.sleep(1)
        assert await s.interrupt_job(job_id) is False


async def test_update_job_changes_schedule_and_next_run(
    autojump_clock: object, wall: MockWallClock, queue_factory: QueueFactory
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, queue=queue_factory()) as s:
        job_id = await s.add_job(tk.Interval(100), job)
        await trio.sleep(30)
        await s.update_job(job_id, schedule=tk.Interval(7), name="faster")
        details = s.get_job_details(job_id)
        assert details.next_run_at == START + timedelta(seconds=37)
        assert details.name == "faster"
        await trio.sleep(20)  # until START + 50
    assert job.times == [START + timedelta(seconds=s) for s in (37, 44)]


async def test_update_job_changes_function_and_args(
    autojump_clock: object, wall: MockWallClock
) -> None:
    seen: list[str] = []

    async def first(tag: str) -> None:
        seen.append("first:" + tag)

    async def second(tag: str) -> None:
        seen.append("second:" + tag)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Interval(10), first, "a")
        await trio.sleep(15)
        await s.update_job(job_id, async_fn=second, args=("b",))
        await trio.sleep(10)
    assert seen == ["first:a", "second:b"]


async def test_update_while_running_applies_after_the_attempt(
    autojump_clock: object, wall: MockWallClock, queue_factory: QueueFactory
) -> None:
    starts: list[datetime] = []

    async def slow() -> None:
        starts.append(wall.now())
        await trio.sleep(5)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall, queue=queue_factory()) as s:
        job_id = await s.add_job(tk.Interval(10), slow)
        await trio.sleep(12)  # running since START+10
        await s.update_job(job_id, schedule=tk.Interval(30))  # anchored now, at +12
        assert s.get_job_details(job_id).next_run_at == START + timedelta(seconds=42)
        await trio.sleep(70)  # the attempt ends at +15; the new grid runs at +42, +72
    assert starts == [START + timedelta(seconds=s) for s in (10, 42, 72)]


async def test_update_rejects_bad_values_at_the_call_site(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Never(), Recorder(wall))
        with pytest.raises(tk.InvalidArgument, match="timeout"):
            await s.update_job(job_id, timeout=-1)
        with pytest.raises(TypeError, match="schedule"):
            await s.update_job(job_id, schedule="*/5 * * * *")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="args must be a tuple"):
            await s.update_job(job_id, args=["x"])  # type: ignore[arg-type]
        with pytest.raises(tk.JobNotFound):
            await s.update_job(tk.JobId(999), name="x")
        assert s.get_job_details(job_id).timeout is None


async def test_trigger_runs_now_without_moving_the_schedule(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Interval(10), job)
        await trio.sleep(3)
        await s.trigger_job(job_id)
        await trio.sleep(10)
    assert job.times == [START + timedelta(seconds=3), START + timedelta(seconds=10)]
    assert [ctx.triggered for _, ctx in job.calls] == [True, False]


async def test_triggers_coalesce_and_never_overlap(
    autojump_clock: object, wall: MockWallClock
) -> None:
    running = 0
    max_running = 0
    starts: list[datetime] = []

    async def slow() -> None:
        nonlocal running, max_running
        running += 1
        max_running = max(max_running, running)
        starts.append(wall.now())
        await trio.sleep(5)
        running -= 1

    async with tk.open_scheduler(max_workers=4, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Never(), slow)
        await s.trigger_job(job_id)
        await trio.sleep(1)
        for _ in range(3):
            await s.trigger_job(job_id)  # while running: coalesce into one follow-up
        assert s.get_job_details(job_id).trigger_pending
        await trio.sleep(20)
        assert s.get_metrics_snapshot().triggers == 2
    assert max_running == 1
    assert starts == [START, START + timedelta(seconds=5)]


async def test_pause_and_resume(
    autojump_clock: object, wall: MockWallClock, queue_factory: QueueFactory
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, queue=queue_factory()) as s:
        job_id = await s.add_job(tk.Interval(10), job)
        await trio.sleep(15)
        await s.pause_job(job_id)
        await s.pause_job(job_id)  # idempotent
        assert s.get_job_details(job_id).state is tk.JobState.PAUSED
        assert s.get_metrics_snapshot().jobs_paused == 1
        await s.trigger_job(job_id)  # remembered; runs on resume
        await trio.sleep(40)
        assert len(job.calls) == 1
        await s.resume_job(job_id)  # at START+55
        await trio.lowlevel.checkpoint()
        assert s.get_job_details(job_id).next_run_at == START + timedelta(seconds=60)
        await trio.sleep(10)
    assert job.times == [START + timedelta(seconds=s) for s in (10, 55, 60)]
    assert [ctx.triggered for _, ctx in job.calls] == [False, True, False]


async def test_unknown_job_ids_raise_job_not_found(autojump_clock: object) -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        missing = tk.JobId(42)
        for call in (s.cancel_job, s.trigger_job, s.pause_job, s.resume_job, s.interrupt_job):
            with pytest.raises(tk.JobNotFound):
                await call(missing)
        with pytest.raises(tk.JobNotFound) as info:
            s.get_job_details(missing)
        assert isinstance(info.value, LookupError)
        with pytest.raises(TypeError, match="JobId"):
            s.get_job_details(42)  # type: ignore[arg-type]


async def test_once_job_completes_and_once_in_the_past_runs_at_once(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        late = await s.add_job(tk.Once(START - timedelta(days=1)), job)
        later = await s.add_job(tk.Once(START + timedelta(hours=1)), job)
        await trio.sleep(7200)
        assert s.get_job_details(late).state is tk.JobState.COMPLETED
        assert s.get_job_details(later).state is tk.JobState.COMPLETED
        assert s.get_metrics_snapshot().jobs_completed == 2
    assert job.times == [START, START + timedelta(hours=1)]


async def test_never_job_runs_only_when_triggered_and_stays_alive(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Never(), job)
        await trio.sleep(3600)
        assert job.calls == []
        await s.trigger_job(job_id)
        await trio.sleep(1)
        await s.trigger_job(job_id)
        await trio.sleep(1)
        details = s.get_job_details(job_id)
        assert details.state is tk.JobState.SCHEDULED
        assert details.next_run_at is None
    assert len(job.calls) == 2


async def test_max_runs_lifetime_completes_the_lineage(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Interval(1), job, lifetime=tk.MaxRuns(3))
        await trio.sleep(10)
        assert s.get_job_details(job_id).state is tk.JobState.COMPLETED
    assert len(job.calls) == 3


async def test_until_lifetime_stops_at_its_instant(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        until = tk.Until(START + timedelta(seconds=30))
        job_id = await s.add_job(tk.Interval(10), job, lifetime=until)
        await trio.sleep(100)
        assert s.get_job_details(job_id).state is tk.JobState.COMPLETED
    assert job.times == [START + timedelta(seconds=s) for s in (10, 20, 30)]


async def test_current_job_outside_a_job_raises() -> None:
    with pytest.raises(RuntimeError, match="outside"):
        tk.current_job()


async def test_job_context_describes_the_run(autojump_clock: object, wall: MockWallClock) -> None:
    job = Recorder(wall, [False, True])
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Once(START), job, name="ctx", retry=tk.FixedDelay(1, 2))
        await trio.sleep(5)
    contexts = [ctx for _, ctx in job.calls]
    assert [(c.job_id, c.name, c.attempt, c.scheduled_for) for c in contexts] == [
        (job_id, "ctx", 1, START),
        (job_id, "ctx", 2, START),
    ]
    assert contexts[0].run_id != contexts[1].run_id


async def test_a_queue_serves_one_scheduler() -> None:
    queue = tk.HeapQueue()
    tk.Scheduler(max_workers=1, queue=queue)
    with pytest.raises(tk.InvalidArgument, match="queue"):
        tk.Scheduler(max_workers=1, queue=queue)


async def test_scheduler_runs_once(autojump_clock: object) -> None:
    scheduler = tk.Scheduler(max_workers=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        await scheduler.shutdown_graceful()
    with pytest.raises(RuntimeError, match="already been started"):
        await scheduler.run()


async def test_repr_helps_in_a_debugger(autojump_clock: object) -> None:
    async with tk.open_scheduler(max_workers=2) as s:
        assert "open" in repr(s)
        assert "workers=2" in repr(s)
    assert "closed" in repr(s)


async def test_naive_wall_clock_start_is_rejected() -> None:
    with pytest.raises(tk.InvalidArgument, match="start must be time-zone aware"):
        MockWallClock(datetime(2026, 1, 1))


async def test_system_wall_clock_is_aware() -> None:
    now = tk.SystemWallClock().now()
    assert now.tzinfo is UTC


async def test_a_trigger_queued_before_a_pause_runs_on_resume(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Never(), job)
        await trio.lowlevel.checkpoint()
        await s.trigger_job(job_id)  # queued, not yet dispatched
        await s.pause_job(job_id)  # in the same instant: it must not run, nor be lost
        await trio.sleep(10)
        assert job.calls == []
        assert s.get_job_details(job_id).trigger_pending
        await s.resume_job(job_id)
        await trio.sleep(1)
    assert job.times == [START + timedelta(seconds=10)]


async def test_a_refused_submission_uses_up_no_job_number(
    autojump_clock: object, wall: MockWallClock
) -> None:
    scheduler = tk.Scheduler(max_workers=1, staging_buffer_size=1, wall_clock=wall)
    with pytest.raises(tk.SchedulerNotRunning):
        await scheduler.add_job(tk.Never(), Recorder(wall))
    with pytest.raises(tk.SchedulerNotRunning):
        await scheduler.add_jobs([tk.JobRequest(tk.Never(), Recorder(wall))])
    assert scheduler.try_add_job(tk.Never(), Recorder(wall)).value == 1  # fills the buffer
    with pytest.raises(tk.StagingFull):
        scheduler.try_add_job(tk.Never(), Recorder(wall))
    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        s = scheduler
        assert (await s.add_job(tk.Never(), Recorder(wall), key="k")).value == 2
        assert (await s.add_job(tk.Never(), Recorder(wall), key="k")).value == 2  # attaches
        assert (await s.add_job(tk.Never(), Recorder(wall))).value == 3
        # Cancelled before it was accepted: nothing is added, no number is taken.
        await trio.testing.wait_all_tasks_blocked()  # the buffer is empty
        s.try_add_job(tk.Never(), Recorder(wall))  # job-4 fills the buffer
        with trio.CancelScope() as scope:
            scope.cancel()
            await s.add_job(tk.Never(), Recorder(wall))
        result = await s.add_jobs(
            [
                tk.JobRequest(tk.Never(), Recorder(wall), name=""),  # refused
                tk.JobRequest(tk.Never(), Recorder(wall), key="pair"),
                tk.JobRequest(tk.Never(), Recorder(wall), key="pair"),  # the same job
                tk.JobRequest(tk.Never(), Recorder(wall)),
            ]
        )
        assert [None if i is None else i.value for i in result.ids] == [None, 5, 5, 6]
        assert (await s.add_job(tk.Never(), Recorder(wall))).value == 7
        assert [job.id.value for job in s.list_all_jobs()] == [1, 2, 3, 4, 5, 6, 7]
        assert s.get_metrics_snapshot().jobs_submitted == 7
        await s.shutdown_graceful()


class SlewedClock:
    """A wall clock running 0.1% fast against Trio's clock, as one that NTP slews."""

    def __init__(self) -> None:
        self.t0: float | None = None

    def now(self) -> datetime:
        current = trio.current_time()
        if self.t0 is None:
            self.t0 = current
        return START + timedelta(seconds=(current - self.t0) * 1.001)


async def test_a_pending_retry_shows_one_next_run_at_whatever_the_clocks_do(
    autojump_clock: object,
) -> None:
    job = Recorder(MockWallClock(START), [False, True])
    async with tk.open_scheduler(max_workers=1, wall_clock=SlewedClock()) as s:
        job_id = await s.add_job(
            tk.Once(START + timedelta(seconds=5)), job, retry=tk.FixedDelay(1, 10)
        )
        await trio.sleep(6)  # the first attempt failed: the retry waits 10 s
        first = s.get_job_details(job_id).next_run_at
        assert first is not None
        await trio.sleep(3.21)  # the two clocks drift apart meanwhile
        assert s.get_job_details(job_id).next_run_at == first
        assert s.list_all_jobs()[0].next_run_at == first


async def test_a_pending_retry_shows_the_same_next_run_at_at_every_query(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall, [False, True])
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(
            tk.Once(START + timedelta(seconds=5)), job, retry=tk.FixedDelay(1, 10)
        )
        await trio.sleep(5.5)  # the first attempt failed at +5: the retry is due at +15
        planned = START + timedelta(seconds=15)
        seen = []
        for step in (0.1, 1.37, 2.003, 0.7):  # queried at several instants of Trio time
            seen.append(s.get_job_details(job_id).next_run_at)
            seen.append(s.list_all_jobs()[0].next_run_at)
            await trio.sleep(step)
        # A wall-clock step does not move an instant already planned.
        wall.jump(0.25)
        seen.append(s.get_job_details(job_id).next_run_at)
        assert seen == [planned] * len(seen)
        await trio.sleep(10)
    assert len(job.calls) == 2
    assert s.get_job_details(job_id).state is tk.JobState.COMPLETED
