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
    ("cron reversed range", lambda s: tk.Cron("0 0 * * 5-1"), tk.InvalidSchedule, "day-of-week"),
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
