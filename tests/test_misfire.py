"""Misfire policies: late occurrences after a long run, a blocked worker pool, or a clock jump."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

from .conftest import START

T = datetime(2026, 1, 1, tzinfo=UTC)
EVERY_10 = tk.Interval(10, start=T)


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("policy", "due", "now", "run_for", "skipped", "next_due"),
    [
        (tk.Coalesce(), 10, 10, 10, 0, None),
        (tk.Coalesce(), 10, 45, 40, 3, None),
        (tk.Coalesce(grace=10), 10, 45, 40, 3, None),
        (tk.Coalesce(grace=3), 10, 45, None, 4, 50),
        (tk.CatchUp(), 10, 45, 10, 0, None),
        (tk.CatchUp(limit=2), 10, 45, 30, 2, None),
        (tk.CatchUp(grace=12), 10, 45, 40, 3, None),
        (tk.CatchUp(grace=4), 10, 45, None, 4, 50),
    ],
)
def test_decisions(
    policy: tk.abc.MisfirePolicy,
    due: int,
    now: int,
    run_for: int | None,
    skipped: int,
    next_due: int | None,
) -> None:
    decision = policy.decide(EVERY_10, at(due), at(now))
    assert decision.run_for == (None if run_for is None else at(run_for))
    assert decision.skipped == skipped
    assert decision.next_due == (None if next_due is None else at(next_due))


def test_an_interval_backlog_is_counted_exactly_at_once() -> None:
    every_second = tk.Interval(1, start=T)
    decision = tk.Coalesce().decide(every_second, at(1), at(10**7))
    assert decision.run_for == at(10**7)
    assert decision.skipped == 10**7 - 1
    assert decision.counted_exactly


class Counting(tk.abc.Schedule):
    """Wraps a schedule and counts its ``next_after`` calls: the cost of a decision."""

    def __init__(self, inner: tk.abc.Schedule) -> None:
        self.inner = inner
        self.calls = 0

    def next_after(self, after: datetime) -> datetime | None:
        self.calls += 1
        return self.inner.next_after(after)


MONTH = 30 * 86400
# Two wall-clock schedules that fire very often: every second, and every minute of the day.
EVERY_SECOND = tk.Cron("* * * * * *")
EVERY_MINUTE = tk.WeekdayTimes.every_day(*(f"{h:02}:{m:02}" for h in range(24) for m in range(60)))


@pytest.mark.parametrize(("schedule", "spacing"), [(EVERY_SECOND, 1), (EVERY_MINUTE, 60)])
def test_coalesce_after_a_month_runs_the_latest_real_occurrence_cheaply(
    schedule: tk.abc.Schedule, spacing: int
) -> None:
    counting = Counting(schedule)
    now = at(MONTH + 0.5)
    decision = tk.Coalesce().decide(counting, at(spacing), now)
    assert decision.run_for == at(MONTH)  # a real occurrence, the most recent one
    assert schedule.next_after(at(MONTH)) == at(MONTH + spacing)
    # More than MAX_COUNTED were missed and cron cannot count them: a flagged lower bound.
    assert decision.skipped >= 1000
    assert not decision.counted_exactly
    assert counting.calls <= 1200  # not one call per missed occurrence (2.6 million)


@pytest.mark.parametrize(("schedule", "spacing"), [(EVERY_SECOND, 1), (EVERY_MINUTE, 60)])
def test_catch_up_after_a_month_runs_exactly_the_newest_limit(
    schedule: tk.abc.Schedule, spacing: int
) -> None:
    counting = Counting(schedule)
    now = at(MONTH + 0.5)
    decision = tk.CatchUp(limit=5).decide(counting, at(spacing), now)
    assert decision.run_for == at(MONTH - 4 * spacing)  # the oldest of the newest five
    assert decision.skipped >= 1000 - 5  # a lower bound: at least MAX_COUNTED were late
    assert not decision.counted_exactly
    assert counting.calls <= 5000
    # Replaying from there, each later decision runs the next of the five, in order.
    ran: list[datetime | None] = [decision.run_for]
    while True:
        assert ran[-1] is not None
        following = schedule.next_after(ran[-1])
        if following is None or following > now:
            break
        ran.append(tk.CatchUp(limit=5).decide(schedule, following, now).run_for)
    assert ran == [at(MONTH - k * spacing) for k in (4, 3, 2, 1, 0)]


def test_a_small_backlog_is_counted_exactly() -> None:
    decision = tk.Coalesce().decide(EVERY_SECOND, at(1), at(500.5))
    assert (decision.run_for, decision.skipped, decision.counted_exactly) == (at(500), 499, True)


def test_policies_validate_their_arguments() -> None:
    with pytest.raises(tk.InvalidArgument, match="grace must be >= 0"):
        tk.Coalesce(grace=-1)
    with pytest.raises(tk.InvalidArgument, match="limit must be >= 1"):
        tk.CatchUp(limit=0)


async def _run_with_one_long_run(
    wall: MockWallClock, policy: tk.abc.MisfirePolicy
) -> tuple[list[tuple[datetime, datetime]], tk.JobDetails, tk.MetricsSnapshot]:
    """Interval(10) whose first run takes 35 s: the occurrences at 20, 30, 40 fall due meanwhile."""
    seen: list[tuple[datetime, datetime]] = []

    async def job() -> None:
        seen.append((tk.current_job().scheduled_for, wall.now()))
        if len(seen) == 1:
            await trio.sleep(35)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall, misfire=policy) as s:
        job_id = await s.add_job(tk.Interval(10), job)
        await trio.sleep(56)
        return seen, s.get_job_details(job_id), s.get_metrics_snapshot()


def _secs(pairs: list[tuple[datetime, datetime]]) -> list[tuple[float, float]]:
    return [((a - START).total_seconds(), (b - START).total_seconds()) for a, b in pairs]


async def test_coalesce_after_a_long_run(autojump_clock: object, wall: MockWallClock) -> None:
    seen, details, metrics = await _run_with_one_long_run(wall, tk.Coalesce())
    # (scheduled_for, started): 20 and 30 are coalesced into the run for 40, started at 45.
    assert _secs(seen) == [(10, 10), (40, 45), (50, 50)]
    assert details.misfires == metrics.misfires == 2


async def test_grace_skips_occurrences_that_are_too_late(
    autojump_clock: object, wall: MockWallClock
) -> None:
    seen, _, metrics = await _run_with_one_long_run(wall, tk.Coalesce(grace=3))
    assert _secs(seen) == [(10, 10), (50, 50)]
    assert metrics.misfires == 3


async def test_catch_up_replays_missed_occurrences(
    autojump_clock: object, wall: MockWallClock
) -> None:
    seen, _, metrics = await _run_with_one_long_run(wall, tk.CatchUp())
    assert _secs(seen) == [(10, 10), (20, 45), (30, 45), (40, 45), (50, 50)]
    assert metrics.misfires == 0


async def test_catch_up_limit_bounds_the_replay(
    autojump_clock: object, wall: MockWallClock
) -> None:
    seen, _, metrics = await _run_with_one_long_run(wall, tk.CatchUp(limit=2))
    assert _secs(seen) == [(10, 10), (30, 45), (40, 45), (50, 50)]
    assert metrics.misfires == 1


async def test_per_job_policy_overrides_the_scheduler_default(
    autojump_clock: object, wall: MockWallClock
) -> None:
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, misfire=tk.CatchUp()) as s:
        job_id = await s.add_job(tk.Never(), _noop, misfire=tk.Coalesce(grace=1))
        assert s.get_job_details(job_id).misfire == tk.Coalesce(grace=1)
        other = await s.add_job(tk.Never(), _noop)
        assert s.get_job_details(other).misfire == tk.CatchUp()


async def _noop() -> None:
    pass


async def test_grace_applies_to_runs_that_wait_for_a_busy_worker(
    autojump_clock: object, wall: MockWallClock
) -> None:
    ran: list[str] = []

    async def hog() -> None:
        ran.append("hog")
        await trio.sleep(30)

    async def punctual() -> None:
        ran.append("punctual")

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Once(START), hog)
        job_id = await s.add_job(
            tk.Once(START + timedelta(seconds=1)), punctual, misfire=tk.Coalesce(grace=5)
        )
        await trio.sleep(40)
        details = s.get_job_details(job_id)
    assert ran == ["hog"]
    assert details.misfires == 1
    assert details.state is tk.JobState.COMPLETED


@pytest.mark.parametrize(
    ("policy", "expected", "misfires"),
    [
        # Noticed at wall +3690 s: the occurrences 60 ... 3660 are all due, the last 30 s late.
        (tk.Coalesce(), [3660], 60),
        (tk.Coalesce(grace=10), [], 61),
        (tk.CatchUp(limit=3), [3540, 3600, 3660], 58),
        (tk.CatchUp(grace=100), [3600, 3660], 59),
    ],
)
async def test_forward_jump_goes_through_the_misfire_policy(
    autojump_clock: object,
    wall: MockWallClock,
    policy: tk.abc.MisfirePolicy,
    expected: list[int],
    misfires: int,
) -> None:
    seen: list[datetime] = []

    async def job() -> None:
        seen.append(tk.current_job().scheduled_for)

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Interval(60), job, misfire=policy)
        await trio.sleep(30)
        wall.jump(3630)
        await trio.sleep(31)
        metrics = s.get_metrics_snapshot()
    assert [(x - START).total_seconds() for x in seen] == expected
    assert metrics.misfires == misfires
    assert metrics.clock_jumps == 1
