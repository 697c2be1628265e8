"""Retry policies: exact delays, caps, jitter bounds, and retries in a running scheduler."""

from __future__ import annotations

from datetime import timedelta

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START, Recorder


def test_exponential_backoff_delays_and_cap() -> None:
    policy = tk.ExponentialBackoff(max_retries=6, initial=1, factor=3, max_delay=60)
    assert [policy.next_delay(n) for n in range(1, 8)] == [1, 3, 9, 27, 60, 60, None]


def test_exponential_backoff_defaults() -> None:
    policy = tk.ExponentialBackoff(max_retries=12)
    assert [policy.next_delay(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert policy.next_delay(12) == 300.0  # max_delay defaults to five minutes
    assert policy.next_delay(13) is None  # twelve retries, then give up
    assert policy.base_delay(10**6) == 300.0  # 2**999999 overflows a float: capped, no error


def test_fixed_delay_accepts_timedelta() -> None:
    policy = tk.FixedDelay(2, timedelta(seconds=30))
    assert [policy.next_delay(n) for n in (1, 2, 3)] == [30.0, 30.0, None]


def test_zero_retries_never_retries() -> None:
    assert tk.ExponentialBackoff(0).next_delay(1) is None
    assert tk.FixedDelay(0, 1).next_delay(1) is None


@given(
    initial=st.floats(0.001, 100),
    factor=st.floats(1, 4),
    max_delay=st.floats(0.001, 1000),
    jitter=st.floats(0, 1),
    seed=st.integers(0, 2**32),
    attempt=st.integers(1, 30),
)
def test_jitter_stays_within_its_bounds(
    initial: float, factor: float, max_delay: float, jitter: float, seed: int, attempt: int
) -> None:
    initial, max_delay = sorted((initial, max_delay))  # initial > max_delay is refused
    policy = tk.ExponentialBackoff(
        max_retries=30,
        initial=initial,
        factor=factor,
        max_delay=max_delay,
        jitter=jitter,
        seed=seed,
    )
    base = policy.base_delay(attempt)
    delay = policy.next_delay(attempt)
    assert delay is not None
    assert 0 <= delay <= max_delay
    assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9


def test_jitter_varies_and_is_reproducible_with_a_seed() -> None:
    a = tk.ExponentialBackoff(10, initial=10, jitter=0.5, seed=7)
    b = tk.ExponentialBackoff(10, initial=10, jitter=0.5, seed=7)
    delays = [a.next_delay(1) for _ in range(20)]
    assert delays == [b.next_delay(1) for _ in range(20)]
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_retries": -1}, tk.InvalidArgument, "max_retries must be >= 0"),
        ({"max_retries": 1.5}, TypeError, "max_retries must be an int"),
        (
            {"max_retries": 1, "factor": 0.5},
            tk.InvalidArgument,
            "factor must be a finite number >= 1",
        ),
        ({"max_retries": 1, "jitter": 1.5}, tk.InvalidArgument, "jitter must be from 0 to 1"),
        ({"max_retries": 1, "initial": -1}, tk.InvalidArgument, "initial must be >= 0"),
        ({"max_retries": 1, "max_delay": "5m"}, TypeError, "max_delay must be a number"),
    ],
)
def test_exponential_backoff_rejects_bad_values(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        tk.ExponentialBackoff(**kwargs)  # type: ignore[arg-type]


async def test_attempt_times_follow_exponential_backoff(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall, [False, ValueError("boom"), False, False, True])
    policy = tk.ExponentialBackoff(max_retries=4, initial=2, factor=3, max_delay=10)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Once(START), job, retry=policy)
        await trio.sleep(0.5)
        details = s.get_job_details(job_id)
        assert details.attempt == 2
        assert details.next_run_at == START + timedelta(seconds=2)
        await trio.sleep(100)
        details = s.get_job_details(job_id)
    # Attempts at 0, then +2, +6, +10 (capped), +10 (capped).
    assert job.trio_times == [0, 2, 8, 18, 28]
    assert job.attempts == [1, 2, 3, 4, 5]
    assert [r.outcome for r in details.last_runs] == [
        tk.Outcome.FAILED,
        tk.Outcome.ERRORED,
        tk.Outcome.FAILED,
        tk.Outcome.FAILED,
        tk.Outcome.SUCCEEDED,
    ]
    assert details.runs == 1  # one occurrence, five attempts
    assert details.state is tk.JobState.COMPLETED


async def test_after_the_last_retry_the_lineage_moves_on(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall, [False] * 10)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        job_id = await s.add_job(tk.Interval(100), job, retry=tk.FixedDelay(2, 5))
        await trio.sleep(215)
        metrics = s.get_metrics_snapshot()
        assert s.get_job_details(job_id).state is tk.JobState.SCHEDULED
    assert job.trio_times == [100, 105, 110, 200, 205, 210]
    assert metrics.retries_scheduled == 4
    assert metrics.runs_failed == 6


async def test_retry_delays_use_trio_time_not_the_wall_clock(
    autojump_clock: object, wall: MockWallClock
) -> None:
    job = Recorder(wall, [False, True])
    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Once(START), job, retry=tk.FixedDelay(1, 60))
        await trio.sleep(1)
        wall.jump(-3600)  # an NTP step back must not delay the retry by an hour
        await trio.sleep(100)
    assert job.trio_times == [0, 60]
