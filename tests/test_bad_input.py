"""Bad input: a typed error at the call site that names the argument; the scheduler keeps going."""

# This file passes wrongly typed arguments on purpose, to check the errors users get at run time.
# mypy: disable-error-code="arg-type"

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START

NAIVE = datetime(2026, 1, 1)


async def job() -> None:
    pass


def sync_job() -> None:
    pass


Call = Callable[[tk.Scheduler], Any]

# (case id, call, expected error, text the message must contain)
BAD_INPUTS: list[tuple[str, Call, type[Exception], str]] = [
    # schedules
    ("cron out of range", lambda s: tk.Cron("61 * * * *"), tk.InvalidSchedule, "minute"),
    ("cron range past max", lambda s: tk.Cron("0 0 * * 5-8"), tk.InvalidSchedule, "day-of-week"),
    ("cron step 0", lambda s: tk.Cron("0 */0 * * *"), tk.InvalidSchedule, "hour step"),
    ("cron field count", lambda s: tk.Cron("* * *"), tk.InvalidSchedule, "5 fields"),
    ("cron never fires", lambda s: tk.Cron("0 0 31 2 *"), tk.InvalidSchedule, "never fire"),
    ("cron non-ascii", lambda s: tk.Cron("0 0 * * lün"), tk.InvalidSchedule, "ASCII"),
    ("cron not a string", lambda s: tk.Cron(None), TypeError, "expr"),
    ("cron tz", lambda s: tk.Cron("* * * * *", tz="UTC"), TypeError, "tz"),
    ("weekday empty", lambda s: tk.WeekdayTimes([]), tk.InvalidSchedule, "times"),
    ("weekday day", lambda s: tk.WeekdayTimes([(9, "09:00")]), tk.InvalidSchedule, "weekday"),
    ("weekday time", lambda s: tk.WeekdayTimes([(0, "9h")]), tk.InvalidSchedule, "time"),
    ("weekday tz", lambda s: tk.WeekdayTimes([(0, time(9))], tz=1), TypeError, "tz"),
    ("interval zero", lambda s: tk.Interval(0), tk.InvalidArgument, "every"),
    (
        "interval negative",
        lambda s: tk.Interval(timedelta(seconds=-1)),
        tk.InvalidArgument,
        "every",
    ),
    ("interval type", lambda s: tk.Interval("5m"), TypeError, "every"),
    ("interval naive start", lambda s: tk.Interval(5, start=NAIVE), tk.InvalidArgument, "start"),
    ("once naive", lambda s: tk.Once(NAIVE), tk.InvalidArgument, "at"),
    ("once type", lambda s: tk.Once(1700000000), TypeError, "at"),
    (
        "next_after naive",
        lambda s: tk.Cron("* * * * *").next_after(NAIVE),
        tk.InvalidArgument,
        "after",
    ),
    # policies
    ("backoff retries", lambda s: tk.ExponentialBackoff(-1), tk.InvalidArgument, "max_retries"),
    ("backoff factor", lambda s: tk.ExponentialBackoff(1, factor=0), tk.InvalidArgument, "factor"),
    (
        "backoff jitter",
        lambda s: tk.ExponentialBackoff(1, jitter=-0.1),
        tk.InvalidArgument,
        "jitter",
    ),
    (
        "backoff max_delay",
        lambda s: tk.ExponentialBackoff(1, max_delay=-1),
        tk.InvalidArgument,
        "max_delay",
    ),
    ("fixed delay", lambda s: tk.FixedDelay(1, delay=float("nan")), tk.InvalidArgument, "delay"),
    ("max runs", lambda s: tk.MaxRuns(0), tk.InvalidArgument, "n must be"),
    ("until naive", lambda s: tk.Until(NAIVE), tk.InvalidArgument, "when"),
    ("coalesce grace", lambda s: tk.Coalesce(grace=-1), tk.InvalidArgument, "grace"),
    ("catch-up limit", lambda s: tk.CatchUp(limit=0), tk.InvalidArgument, "limit"),
    # open_scheduler / Scheduler
    ("max_workers 0", lambda s: tk.Scheduler(max_workers=0), tk.InvalidArgument, "max_workers"),
    ("max_workers type", lambda s: tk.Scheduler(max_workers="4"), TypeError, "max_workers"),
    (
        "staging 0",
        lambda s: tk.Scheduler(max_workers=1, staging_buffer_size=0),
        tk.InvalidArgument,
        "staging_buffer_size",
    ),
    (
        "dispatch -1",
        lambda s: tk.Scheduler(max_workers=1, dispatch_buffer_size=-1),
        tk.InvalidArgument,
        "dispatch_buffer_size",
    ),
    (
        "history -1",
        lambda s: tk.Scheduler(max_workers=1, history_size=-1),
        tk.InvalidArgument,
        "history_size",
    ),
    (
        "max_workers above the maximum",
        lambda s: tk.Scheduler(max_workers=10**6),
        tk.InvalidArgument,
        "max_workers must be from 1 to 10,000, got 1,000,000",
    ),
    (
        "staging above the maximum",
        lambda s: tk.Scheduler(max_workers=1, staging_buffer_size=10**7),
        tk.InvalidArgument,
        "staging_buffer_size must be from 1 to 1,000,000",
    ),
    (
        "dispatch above the maximum",
        lambda s: tk.Scheduler(max_workers=1, dispatch_buffer_size=10**7),
        tk.InvalidArgument,
        "dispatch_buffer_size must be from 0 to 1,000,000",
    ),
    (
        "history above the maximum",
        lambda s: tk.Scheduler(max_workers=1, history_size=10**30),
        tk.InvalidArgument,
        "history_size must be from 0 to 1,000,000",
    ),
    (
        "retention above the maximum",
        lambda s: tk.Scheduler(max_workers=1, finished_job_retention=10**8),
        tk.InvalidArgument,
        "finished_job_retention must be from 0 to 10,000,000",
    ),
    ("queue type", lambda s: tk.Scheduler(max_workers=1, queue=[]), TypeError, "queue"),
    (
        "queue reused",
        lambda s: tk.Scheduler(max_workers=1, queue=s._coordinator.queue),
        tk.InvalidArgument,
        "queue",
    ),
    (
        "wall clock",
        lambda s: tk.Scheduler(max_workers=1, wall_clock=object()),
        TypeError,
        "wall_clock",
    ),
    (
        "max_sleep",
        lambda s: tk.Scheduler(max_workers=1, max_sleep=0),
        tk.InvalidArgument,
        "max_sleep",
    ),
    (
        "misfire type",
        lambda s: tk.Scheduler(max_workers=1, misfire="coalesce"),
        TypeError,
        "misfire",
    ),
    # add_job
    ("schedule type", lambda s: s.add_job("*/5 * * * *", job), TypeError, "schedule"),
    ("sync function", lambda s: s.add_job(tk.Never(), sync_job), TypeError, "async_fn"),
    ("not callable", lambda s: s.add_job(tk.Never(), 42), TypeError, "async_fn"),
    ("name type", lambda s: s.add_job(tk.Never(), job, name=3), TypeError, "name"),
    ("name empty", lambda s: s.add_job(tk.Never(), job, name=""), tk.InvalidArgument, "name"),
    (
        "name whitespace",
        lambda s: s.add_job(tk.Never(), job, name=" \t\n"),
        tk.InvalidArgument,
        "name must be 1 to 200 characters, not only whitespace",
    ),
    (
        "name a megabyte long",
        lambda s: s.add_job(tk.Never(), job, name="x" * 2**20),
        tk.InvalidArgument,
        "name must be 1 to 200 characters, got 1,048,576",
    ),
    (
        "name with NUL",
        lambda s: s.add_job(tk.Never(), job, name="a\x00b"),
        tk.InvalidArgument,
        "name must not contain NUL",
    ),
    (
        "name with a lone surrogate",
        lambda s: s.add_job(tk.Never(), job, name="report-\udc80"),
        tk.InvalidArgument,
        "lone surrogates",
    ),
    (
        "try_add_job name",
        lambda s: s.try_add_job(tk.Never(), job, name=""),
        tk.InvalidArgument,
        "name",
    ),
    ("retry type", lambda s: s.add_job(tk.Never(), job, retry=3), TypeError, "retry"),
    (
        "timeout negative",
        lambda s: s.add_job(tk.Never(), job, timeout=-1),
        tk.InvalidArgument,
        "timeout",
    ),
    ("timeout type", lambda s: s.add_job(tk.Never(), job, timeout="1m"), TypeError, "timeout"),
    ("lifetime type", lambda s: s.add_job(tk.Never(), job, lifetime=5), TypeError, "lifetime"),
    ("misfire per job", lambda s: s.add_job(tk.Never(), job, misfire=5), TypeError, "misfire"),
    (
        "quarantine",
        lambda s: s.add_job(tk.Never(), job, quarantine_after=0),
        tk.InvalidArgument,
        "quarantine_after",
    ),
    ("try_add_job sync", lambda s: s.try_add_job(tk.Never(), sync_job), TypeError, "async_fn"),
    # commands and queries
    ("unknown id", lambda s: s.cancel_job(tk.JobId(10**6)), tk.JobNotFound, "job-1000000"),
    ("id type", lambda s: s.trigger_job(7), TypeError, "job_id"),
    (
        "details unknown",
        lambda s: s.get_job_details(tk.JobId(10**6)),
        tk.JobNotFound,
        "job-1000000",
    ),
    (
        "update timeout",
        lambda s: s.update_job(tk.JobId(1), timeout=0),
        tk.InvalidArgument,
        "timeout",
    ),
    ("update args", lambda s: s.update_job(tk.JobId(1), args="x"), TypeError, "args"),
    ("update name", lambda s: s.update_job(tk.JobId(1), name="  "), tk.InvalidArgument, "name"),
    (
        "update name NUL",
        lambda s: s.update_job(tk.JobId(1), name="\x00"),
        tk.InvalidArgument,
        "name must not contain NUL",
    ),
    (
        "update function",
        lambda s: s.update_job(tk.JobId(1), async_fn=sync_job),
        TypeError,
        "async_fn",
    ),
    ("update finished", lambda s: s.update_job(tk.JobId(2), name="x"), tk.JobFinished, "job-2"),
    ("shutdown timeout", lambda s: s.shutdown_graceful(timeout=-5), tk.InvalidArgument, "timeout"),
    ("wall clock jump", lambda s: MockWallClock(START).jump("1h"), TypeError, "seconds"),
    ("preview count", lambda s: tk.Never().preview(START, count=-1), tk.InvalidArgument, "count"),
]


async def test_at_least_forty_bad_inputs_are_listed() -> None:
    assert len(BAD_INPUTS) >= 40
    assert len({case for case, *_ in BAD_INPUTS}) == len(BAD_INPUTS)


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [pytest.param(call, error, text, id=case) for case, call, error, text in BAD_INPUTS],
)
async def test_bad_input_is_rejected_and_the_scheduler_keeps_running(
    autojump_clock: object, wall: MockWallClock, call: Call, error: type[Exception], text: str
) -> None:
    ran = trio.Event()

    async def proof() -> None:
        ran.set()

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        first = await s.add_job(tk.Interval(3600), job)  # JobId(1): live
        second = await s.add_job(tk.Never(), job)  # JobId(2): cancelled below
        await s.cancel_job(second)
        assert first.value == 1
        with pytest.raises(error) as info:
            result = call(s)
            if inspect.isawaitable(result):
                await result
        assert text in str(info.value)
        # The same scheduler still takes and runs jobs.
        await s.add_job(tk.Once(START + timedelta(seconds=1)), proof)
        await trio.sleep(2)
        assert ran.is_set()
        assert not s.closing


async def test_open_scheduler_refuses_a_worker_count_above_the_maximum_at_once(
    autojump_clock: object,
) -> None:
    with pytest.raises(tk.InvalidArgument, match=r"max_workers must be from 1 to 10,000"):
        async with tk.open_scheduler(max_workers=10_001):
            pytest.fail("the block must not run")  # pragma: no cover
    # Ten million workers would never finish starting: refused before anything is made.
    with pytest.raises(tk.InvalidArgument, match=r"max_workers must be from 1 to 10,000"):
        async with tk.open_scheduler(max_workers=10**7):
            pytest.fail("the block must not run")  # pragma: no cover


async def test_sizes_at_their_documented_maximum_are_accepted() -> None:
    scheduler = tk.Scheduler(
        max_workers=10_000,
        staging_buffer_size=1_000_000,
        dispatch_buffer_size=1_000_000,
        history_size=1_000_000,
        finished_job_retention=10_000_000,
    )
    assert scheduler.get_metrics_snapshot().workers_max == 10_000


async def test_one_name_rule_for_every_way_of_naming_a_job(
    autojump_clock: object, wall: MockWallClock
) -> None:
    longest = "n" * 200
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        named = await s.add_job(tk.Never(), job, name=longest)
        assert s.get_job_details(named).name == longest
        unnamed = await s.add_job(tk.Never(), job)
        assert s.get_job_details(unnamed).name == "job"  # name=None: the function's name
        text = await s.add_job(tk.Never(), job, name=" rapport quotidien, été 日本 ")
        assert s.get_job_details(text).name == " rapport quotidien, été 日本 "
        result = await s.add_jobs(
            [
                tk.JobRequest(tk.Never(), job, name=""),
                tk.JobRequest(tk.Never(), job, name="ok"),
                tk.JobRequest(tk.Never(), job, name=longest + "n"),
            ]
        )
        assert [refusal.index for refusal in result.refused] == [0, 2]
        for refusal in result.refused:
            assert isinstance(refusal.error, tk.InvalidArgument)
            assert str(refusal.error).startswith("name must be 1 to 200 characters")
        with pytest.raises(tk.InvalidArgument, match="name must be 1 to 200 characters"):
            await s.update_job(named, name=longest + "n")
        assert s.get_job_details(named).name == longest  # unchanged
        await s.update_job(named, name="renamed")
        assert s.get_job_details(named).name == "renamed"
