"""Event subscriptions: order and content, filters, slow readers, and the end of the stream."""

from __future__ import annotations

from datetime import timedelta

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START, Recorder


async def _collect(subscription: tk.Subscription[tk.Event], into: list[tk.Event]) -> None:
    async for event in subscription:
        into.append(event)


async def test_a_jobs_whole_life_in_order(autojump_clock: object, wall: MockWallClock) -> None:
    events: list[tk.Event] = []
    job = Recorder(wall, [False, True])
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s, trio.open_nursery() as n:
        subscription = s.subscribe()
        n.start_soon(_collect, subscription, events)
        job_id = await s.add_job(
            tk.Interval(10), job, name="life", retry=tk.FixedDelay(1, 2), lifetime=tk.MaxRuns(2)
        )
        await trio.sleep(15)
        await s.pause_job(job_id)
        await s.update_job(job_id, name="renamed")
        await s.resume_job(job_id)
        await trio.sleep(10)
        await s.shutdown_graceful()
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "JobAdded",
        "RunStarted",  # +10, attempt 1 fails
        "RunFinished",
        "RetryScheduled",
        "RunStarted",  # +12, attempt 2 succeeds
        "RunFinished",
        "JobPaused",
        "JobUpdated",
        "JobResumed",
        "RunStarted",  # +20, the second and last run (MaxRuns(2))
        "RunFinished",
        "JobCompleted",
        "ShutdownStarted",
    ]
    added = events[0]
    assert isinstance(added, tk.JobAdded)
    assert (added.job_id, added.name, added.at) == (job_id, "life", START)
    first = events[2]
    assert isinstance(first, tk.RunFinished)
    assert (first.outcome, first.attempt, first.at) == (
        tk.Outcome.FAILED,
        1,
        START + timedelta(seconds=10),
    )
    retry = events[3]
    assert isinstance(retry, tk.RetryScheduled)
    assert (retry.attempt, retry.delay) == (2, 2.0)
    updated = events[7]
    assert isinstance(updated, tk.JobUpdated)
    assert updated.changed == ("name",)
    shutdown = events[-1]
    assert isinstance(shutdown, tk.ShutdownStarted)
    assert not shutdown.forced


async def test_filters_by_type(autojump_clock: object, wall: MockWallClock) -> None:
    events: list[tk.Event] = []
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s, trio.open_nursery() as n:
        n.start_soon(_collect, s.subscribe(tk.RunFinished, tk.Misfired), events)
        await s.add_job(tk.Interval(5), Recorder(wall))
        await trio.sleep(11)
        wall.jump(60)  # 12 occurrences due at once: coalesced, 11 misfires
        await trio.sleep(10)
        await s.shutdown_graceful()  # ends the subscription, so the reader returns
    assert {type(e) for e in events} == {tk.RunFinished, tk.Misfired}
    misfires = [e for e in events if isinstance(e, tk.Misfired)]
    assert sum(m.count for m in misfires) == s.get_metrics_snapshot().misfires > 0


async def test_a_slow_subscriber_drops_and_never_stalls_the_scheduler(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        with s.subscribe(tk.RunStarted, buffer_size=3) as slow:
            await s.add_job(tk.Interval(1), job)
            await trio.sleep(20.5)  # nobody reads: 20 runs start, 3 fit
            assert len(job.calls) == 20  # the scheduler kept its pace
            assert slow.dropped == 17
            assert s.get_metrics_snapshot().events_dropped == 17
            kept = [await slow.__anext__() for _ in range(3)]
        assert [e.scheduled_for for e in kept if isinstance(e, tk.RunStarted)] == [
            START + timedelta(seconds=k) for k in (1, 2, 3)
        ]


async def test_subscriptions_end_at_shutdown(autojump_clock: object, wall: MockWallClock) -> None:
    events: list[tk.Event] = []
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        subscription = s.subscribe(tk.ShutdownStarted)
        async with trio.open_nursery() as n:
            n.start_soon(_collect, subscription, events)
            await s.shutdown_force()
        # The reader's loop ended by itself: the nursery closed.
    assert [type(e) for e in events] == [tk.ShutdownStarted]
    assert isinstance(events[0], tk.ShutdownStarted)
    assert events[0].forced
    with pytest.raises(tk.SchedulerClosed):
        s.subscribe()


async def test_receive_reads_like_a_trio_channel(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        completions = s.subscribe(tk.JobCompleted)
        job = await s.add_job(tk.Once(START + timedelta(seconds=5)), Recorder(wall))
        event = await completions.receive()
        assert isinstance(event, tk.JobCompleted)
        assert event.job_id == job
        assert event.at == START + timedelta(seconds=5)
    with pytest.raises(trio.EndOfChannel):  # the scheduler stopped; nothing was left buffered
        await completions.receive()
    completions.close()
    with pytest.raises(trio.ClosedResourceError):
        await completions.receive()


async def test_closed_subscriptions_are_forgotten(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        with s.subscribe():
            pass
        await s.add_job(tk.Interval(1), Recorder(wall))
        await trio.sleep(3)
        assert s.get_metrics_snapshot().events_dropped == 0


def test_subscribe_validates_its_arguments() -> None:
    s = tk.Scheduler(max_workers=1)
    with pytest.raises(TypeError, match="Event subclasses"):
        s.subscribe(int)  # type: ignore[type-var]
    with pytest.raises(tk.InvalidArgument, match="buffer_size"):
        s.subscribe(buffer_size=0)
