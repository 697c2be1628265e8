"""What users hand in and what their strategies hand back: checked where it crosses over.

Each test reproduces a defect that was reported against the public API: a bad value was
accepted and failed later (or never), or a misbehaving user strategy crashed the scheduler,
spun its loop, or was silently misread. A bad strategy value must fail that one job
(``FAILED``, the reason in ``JobDetails.error``, a ``JobFailed`` event, an ERROR log) and
leave the scheduler and every other job running.
"""

# Strategies below return wrongly typed values on purpose.
# mypy: disable-error-code="return-value,override"

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
import trio
import trio.testing

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START


async def ok() -> None:
    pass


# ----------------------------------------------------------------------- input and identity


async def test_a_job_id_from_another_scheduler_is_refused(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with (
        tk.open_scheduler(max_workers=1, wall_clock=wall) as a,
        tk.open_scheduler(max_workers=1, wall_clock=wall) as b,
    ):
        a_job = await a.add_job(tk.Interval(10), ok, name="a's")
        b_job = await b.add_job(tk.Interval(10), ok, name="b's")
        assert a_job != b_job  # same number, different schedulers
        for call in (b.cancel_job, b.pause_job, b.resume_job, b.trigger_job):
            with pytest.raises(tk.InvalidArgument, match="job_id: job-1 belongs to another"):
                await call(a_job)
        with pytest.raises(tk.InvalidArgument, match="another scheduler"):
            b.get_job_details(a_job)
        await trio.testing.wait_all_tasks_blocked()
        assert b.get_job_details(b_job).state is tk.JobState.SCHEDULED
        assert a.get_job_details(a_job).state is tk.JobState.SCHEDULED


@pytest.mark.parametrize("size", [1, 3])
async def test_try_add_job_accepts_exactly_the_staging_buffer_size(
    autojump_clock: object, wall: MockWallClock, size: int
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, staging_buffer_size=size) as s:
        accepted = []
        with pytest.raises(tk.StagingFull):
            for _ in range(size + 5):
                accepted.append(s.try_add_job(tk.Never(), ok))
                assert s.get_metrics_snapshot().staging_buffered == len(accepted)
        assert len(accepted) == size
        await trio.testing.wait_all_tasks_blocked()
        assert s.get_metrics_snapshot().staging_buffered == 0
        assert {j.id for j in s.list_all_jobs()} == set(accepted)


async def test_add_job_on_a_scheduler_that_was_never_started_is_refused(
    autojump_clock: object,
) -> None:
    s = tk.Scheduler(max_workers=1, staging_buffer_size=1)
    with pytest.raises(tk.SchedulerNotRunning, match="has not been started"):
        await s.add_job(tk.Never(), ok)
    # try_add_job never waits, so it may fill the buffer before the start...
    early = s.try_add_job(tk.Never(), ok)
    with pytest.raises(tk.StagingFull):
        s.try_add_job(tk.Never(), ok)
    # ... and what it accepted is taken in once the scheduler runs.
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        await s.add_job(tk.Never(), ok)
        assert s.get_job_details(early).state is tk.JobState.SCHEDULED
        await s.shutdown_graceful()


async def takes_nothing() -> None:
    pass


async def takes_two(a: int, b: int, *, c: int = 0) -> None:
    pass


@pytest.mark.parametrize(
    ("fn", "args"),
    [(takes_nothing, (1, 2)), (takes_two, (1,)), (takes_two, (1, 2, 3))],
)
async def test_args_that_cannot_bind_to_the_function_are_refused(
    autojump_clock: object, wall: MockWallClock, fn: object, args: tuple[int, ...]
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        with pytest.raises(TypeError, match=r"args: .* cannot be passed to"):
            await s.add_job(tk.Never(), fn, *args)  # type: ignore[arg-type]
        job = await s.add_job(tk.Never(), takes_two, 1, 2)
        with pytest.raises(TypeError, match=r"args: .* cannot be passed to"):
            await s.update_job(job, args=(1,))
        with pytest.raises(TypeError, match=r"args: .* cannot be passed to"):
            await s.update_job(job, async_fn=takes_nothing)


@pytest.mark.parametrize(
    ("make", "error", "text"),
    [
        (lambda: tk.Interval(1e-7), tk.InvalidArgument, "every must be at least 1 microsecond"),
        (lambda: tk.Interval(1e15), tk.InvalidArgument, "every must be from 1 microsecond to"),
        (lambda: tk.Interval(timedelta(days=1e8)), tk.InvalidArgument, "(100 years), got"),
        (lambda: tk.FixedDelay(1, 1e12), tk.InvalidArgument, "delay must be at most"),
        (
            lambda: tk.ExponentialBackoff(3, initial=100, max_delay=10),
            tk.InvalidArgument,
            "initial (100.0 s) must not exceed max_delay (10.0 s)",
        ),
        (lambda: MockWallClock(START).jump(1e300), tk.InvalidArgument, "seconds must be at most"),
    ],
)
def test_values_that_would_fail_later_are_refused_when_given(
    make: object, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as info:
        make()  # type: ignore[operator]
    assert text in str(info.value)


async def test_until_in_the_past_is_refused(autojump_clock: object, wall: MockWallClock) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        past = tk.Until(START - timedelta(minutes=1))
        with pytest.raises(tk.InvalidArgument, match=r"lifetime: .* is already past"):
            await s.add_job(tk.Interval(10), ok, lifetime=past)
        job = await s.add_job(tk.Interval(10), ok)
        with pytest.raises(tk.InvalidArgument, match=r"lifetime: .* is already past"):
            await s.update_job(job, lifetime=past)


async def test_a_once_in_the_past_is_not_counted_as_late(
    autojump_clock: object, wall: MockWallClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Once(START - timedelta(hours=1)), ok)
        await trio.sleep(1)
    metrics = s.get_metrics_snapshot()
    assert metrics.runs_succeeded == 1
    assert metrics.runs_late == 0
    assert metrics.dispatch_lateness.max < 1.0
    assert "overloaded" not in caplog.text


async def test_job_updated_names_the_public_arguments(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Never(), ok)
        with s.subscribe(tk.JobUpdated) as events:
            await s.update_job(job, async_fn=takes_nothing, timeout=5, name="renamed")
            event = await events.receive()
    assert set(event.changed) == {"async_fn", "timeout", "name"}


def test_job_finished_is_not_a_lookup_failure() -> None:
    assert not issubclass(tk.JobFinished, tk.JobNotFound)
    assert not issubclass(tk.JobFinished, LookupError)
    assert issubclass(tk.JobFinished, tk.TurnKeeperError)


# ----------------------------------------------------------------------- strategy boundary


@attrs.frozen
class Returns(tk.abc.Schedule):
    """A schedule whose first answer is right and whose later answers are *value*."""

    value: object

    def next_after(self, after: datetime) -> datetime | None:
        return self.value

    def first_after(self, now: datetime) -> datetime | None:
        return now + timedelta(seconds=1)


def _same(after: datetime) -> datetime:
    return after


async def _fails_one_job(
    wall: MockWallClock,
    caplog: pytest.LogCaptureFixture,
    reason: str,
    **job: object,
) -> None:
    """Add a bad job and a good one; the bad one fails with *reason*, the good one runs on."""
    runs: list[str] = []

    async def good() -> None:
        runs.append("good")

    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        with s.subscribe(tk.JobFailed) as events:
            bad = await s.add_job(**job)  # type: ignore[arg-type]
            fine = await s.add_job(tk.Interval(1), good)
            with trio.fail_after(600):
                failed = await events.receive()
            await trio.sleep(10)
        details = s.get_job_details(bad)
        assert details.state is tk.JobState.FAILED
        assert failed.job_id == bad
        assert details.error is not None
        assert reason in details.error.message, details.error.message
        assert s.get_job_details(fine).state is tk.JobState.SCHEDULED
    assert len(runs) >= 5
    assert any(r.levelno == logging.ERROR and reason in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("tomorrow", "returned str 'tomorrow', not a datetime"),
        (datetime(2030, 1, 1), "returned a naive datetime"),
        (START - timedelta(days=1), "not after"),
    ],
)
async def test_a_schedule_returning_a_bad_next_time_fails_only_its_job(
    autojump_clock: object,
    wall: MockWallClock,
    caplog: pytest.LogCaptureFixture,
    value: object,
    reason: str,
) -> None:
    await _fails_one_job(wall, caplog, reason, schedule=Returns(value), async_fn=ok)


class ReturnsAfter(tk.abc.Schedule):
    """``next_after(t)`` is ``t`` itself: a schedule that does not move forward."""

    def next_after(self, after: datetime) -> datetime | None:
        return after

    def first_after(self, now: datetime) -> datetime | None:
        return now + timedelta(seconds=1)


async def test_a_schedule_that_does_not_move_forward_fails_its_job_quickly(
    autojump_clock: object, wall: MockWallClock, caplog: pytest.LogCaptureFixture
) -> None:
    await _fails_one_job(wall, caplog, "not after", schedule=ReturnsAfter(), async_fn=ok)


async def fails() -> bool:
    return False


@attrs.frozen
class Delay(tk.abc.RetryPolicy):
    value: object

    def next_delay(self, failed_attempt: int) -> float | None:
        return self.value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("5", "returned str '5'"),
        (math.nan, "returned nan"),
        (-1.0, "returned -1.0"),
        (1e12, "returned 1000000000000.0"),
    ],
)
async def test_a_retry_policy_returning_a_bad_delay_fails_only_its_job(
    autojump_clock: object,
    wall: MockWallClock,
    caplog: pytest.LogCaptureFixture,
    value: object,
    reason: str,
) -> None:
    await _fails_one_job(
        wall, caplog, reason, schedule=tk.Interval(1), async_fn=fails, retry=Delay(value)
    )


@attrs.frozen
class Decides(tk.abc.MisfirePolicy):
    value: object
    grace: float | None = None

    def decide(self, schedule: tk.abc.Schedule, due: datetime, now: datetime) -> object:
        return self.value(due) if callable(self.value) else self.value


class NoGrace(tk.abc.MisfirePolicy):
    """A policy that forgot the ``grace`` attribute."""

    def decide(
        self, schedule: tk.abc.Schedule, due: datetime, now: datetime
    ) -> tk.abc.MisfireDecision:
        return tk.abc.MisfireDecision(due, 0)


async def sleeps() -> None:
    await trio.sleep(2.5)  # makes the next occurrence of an Interval(1) late


async def test_a_misfire_policy_without_grace_means_no_grace(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(tk.Interval(1), sleeps, misfire=NoGrace())
        await trio.sleep(10)
    details = s.get_job_details(job)
    assert details.state is tk.JobState.SCHEDULED
    assert details.counts.succeeded >= 3


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (Decides(None), "returned NoneType None, not a MisfireDecision"),
        (
            Decides(lambda due: tk.abc.MisfireDecision(None, 0, due)),
            "next_due that is not after",
        ),
        (Decides(lambda due: tk.abc.MisfireDecision(due, -1)), "skipped must be an int >= 0"),
        (
            Decides(lambda due: tk.abc.MisfireDecision(due, 0), grace="soon"),  # type: ignore[arg-type]
            "grace must be None or seconds >= 0",
        ),
    ],
)
async def test_a_misfire_policy_returning_a_bad_decision_fails_only_its_job(
    autojump_clock: object,
    wall: MockWallClock,
    caplog: pytest.LogCaptureFixture,
    policy: tk.abc.MisfirePolicy,
    reason: str,
) -> None:
    await _fails_one_job(
        wall, caplog, reason, schedule=tk.Interval(1), async_fn=sleeps, misfire=policy
    )


class AnswersMaybe(tk.abc.Lifetime):
    def allows(self, *, runs: int, next_fire: datetime) -> bool:
        return "maybe"


async def test_a_lifetime_returning_a_non_bool_fails_only_its_job(
    autojump_clock: object, wall: MockWallClock, caplog: pytest.LogCaptureFixture
) -> None:
    await _fails_one_job(
        wall,
        caplog,
        "returned str 'maybe', not a bool",
        schedule=tk.Interval(1),
        async_fn=ok,
        lifetime=AnswersMaybe(),
    )


class BrokenClock:
    """A user wall clock that raises RuntimeError (it must not be mistaken for 'not in trio')."""

    def __init__(self) -> None:
        self.broken = False

    def now(self) -> datetime:
        if self.broken:
            raise RuntimeError("clock hardware gone")
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=trio.current_time())


async def test_a_wall_clock_raising_runtime_error_is_not_swallowed_by_queries(
    autojump_clock: object,
) -> None:
    clock = BrokenClock()
    with pytest.raises(RuntimeError, match="clock hardware gone"):
        async with tk.open_scheduler(max_workers=1, wall_clock=clock) as s:
            job = await s.add_job(tk.Interval(1), fails, retry=tk.FixedDelay(1, 100))
            await trio.sleep(2)  # a retry is pending: its next_run_at was fixed when planned
            planned = s.get_job_details(job).next_run_at
            clock.broken = True
            assert s.get_job_details(job).next_run_at == planned  # the query reads no clock
            await trio.sleep(200)  # the scheduler does: its error comes out as itself


# ----------------------------------------------------------------------- logs and events


async def test_logs_name_the_job_and_count_its_attempts(
    autojump_clock: object, wall: MockWallClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="turnkeeper_trio")
    async with tk.open_scheduler(max_workers=2, wall_clock=wall) as s:
        await s.add_job(tk.Interval(60), ok, name="other")  # takes run ids of its own
        await s.add_job(tk.Interval(1), fails, name="nightly", retry=tk.FixedDelay(1, 0.1))
        await trio.sleep(1.5)
    messages = [r.getMessage() for r in caplog.records if "nightly" in r.getMessage()]
    assert "job 'nightly' (job-2) attempt 1 failed; retrying in 0.100 s" in messages
    assert "job 'nightly' (job-2) attempt 2 failed" in messages


async def test_events_carry_the_job_name_and_the_occurrence(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        with s.subscribe() as events:
            job = await s.add_job(tk.Interval(10), ok, name="poller")
            await trio.sleep(11)
            await s.cancel_job(job)
            seen: list[tk.Event] = []
            while len(seen) < 4:
                seen.append(await events.receive())
    assert [type(e).__name__ for e in seen] == [
        "JobAdded",
        "RunStarted",
        "RunFinished",
        "JobCancelled",
    ]
    assert all(isinstance(e, tk.JobEvent) and e.name == "poller" for e in seen)
    finished = seen[2]
    assert isinstance(finished, tk.RunFinished)
    assert finished.scheduled_for == START + timedelta(seconds=10)


# ----------------------------------------------------------------------- the end of time
# 9999-12-31 23:59 UTC is the last minute a datetime can hold: a schedule's last occurrence
# runs, then ``next_after`` answers None and the job ends as a finished schedule does.


async def test_a_job_runs_its_last_occurrence_before_year_10000_then_completes(
    autojump_clock: object,
) -> None:
    wall = MockWallClock(datetime(9999, 12, 31, 23, 58, tzinfo=UTC))
    ran: list[datetime] = []

    async def job() -> None:
        ran.append(wall.now())

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        every_minute = await s.add_job(tk.Cron("* * * * *"), job, name="every minute")
        await trio.sleep(90)
        details = s.get_job_details(every_minute)
        assert details.state is tk.JobState.COMPLETED, details.error
        assert details.error is None
        assert details.next_run_at is None
    assert ran == [datetime(9999, 12, 31, 23, 59, tzinfo=UTC)]


@pytest.mark.parametrize(
    "schedule",
    [
        tk.Cron("* * * * *"),
        tk.Interval(60),
        tk.WeekdayTimes.every_day("23:59"),
        tk.Once(datetime(9999, 12, 31, 23, 59, tzinfo=UTC)),
        tk.Cron("* * * * *", tz=ZoneInfo("America/New_York")),
        tk.WeekdayTimes.every_day("18:59", tz=ZoneInfo("America/New_York")),
    ],
    ids=repr,
)
async def test_every_kind_of_schedule_ends_normally_at_the_end_of_time(
    autojump_clock: object, schedule: tk.abc.Schedule
) -> None:
    wall = MockWallClock(datetime(9999, 12, 31, 23, 58, tzinfo=UTC))
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job = await s.add_job(schedule, ok)
        await trio.sleep(90)
        details = s.get_job_details(job)
        assert details.state is tk.JobState.COMPLETED, details.error
        assert details.runs == 1
