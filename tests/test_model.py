"""Stateful model test: a real scheduler against a simple, independent model of the spec.

Hypothesis draws operations one at a time (interactively, with ``st.data()``) and runs them on
a real scheduler under ``MockClock(autojump_threshold=0)`` and a ``MockWallClock``; the whole
sequence runs inside one ``trio.run``, because the scheduler's nursery must outlive every step.
After every step the observed runs must equal the runs the model predicts, and the queries and
metrics must agree with it.

To keep the model small, time is laid out so that nothing is ever ambiguous: regular
occurrences fall on whole seconds, attempts take 0 s (or 1.2 s until their timeout), retries
wait 0.4 s, and operations happen at a quarter past or a quarter to a second.  There are more
workers than jobs, and every schedule is at least 3 s apart, longer than the longest chain of
attempts (1.2 + 0.4 + 1.2 s), so runs never queue for a worker or overlap an occurrence.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

NY = ZoneInfo("America/New_York")
#: Trio time 0 is two minutes before New York's 2026 spring-forward gap.
WALL0 = datetime(2026, 3, 8, 6, 58, tzinfo=UTC)
TIMEOUT = 1.2
RETRY_DELAY = 0.4
MAX_JOBS = 8

BEHAVIOURS = ["succeed", "fail", "raise", "hang"]
OUTCOME_OF = {
    "succeed": tk.Outcome.SUCCEEDED,
    "fail": tk.Outcome.FAILED,
    "raise": tk.Outcome.ERRORED,
    "hang": tk.Outcome.TIMED_OUT,
}

#: (scheduled_for in trio seconds, attempt, triggered, started at, outcome, ended at)
Run = tuple[float, int, bool, float, tk.Outcome, float]


def _wall(t: float) -> datetime:
    return WALL0 + timedelta(seconds=t)


def _trio(wall: datetime) -> float:
    # Milliseconds: converting between the clocks in floats can cost a microsecond.
    return round((wall - WALL0).total_seconds(), 3)


@attrs.define
class ModelJob:
    """What the specification says one job does, in Trio seconds."""

    kind: str
    behaviour: str
    retry: bool
    next_after: Callable[[float], float | None]
    first_after: Callable[[float], float | None]
    state: str = "live"  # live | paused | cancelled (completion: see completes_at)
    completes_at: float | None = None
    next_due: float | None = None
    busy_until: float = -math.inf
    retry_at: tuple[float, float, bool] | None = None  # (time, scheduled_for, triggered)
    last_fired: float = -math.inf
    had_occurrence: bool = False
    runs: list[Run] = attrs.Factory(list)
    #: MaxRuns(n) lifetime (None: Forever); occurrences whose last attempt has started.
    max_runs: int | None = None
    occurrences: int = 0

    def idle(self, now: float) -> bool:
        return self.busy_until <= now and self.retry_at is None

    def finished(self, now: float) -> bool:
        completed = self.completes_at is not None and self.completes_at <= now
        return self.state == "cancelled" or completed

    def plan(self, due: float | None) -> None:
        if due is not None and due <= self.last_fired:
            due = self.next_after(self.last_fired)
        self.next_due = due
        if due is None:
            if self.had_occurrence:
                self.completes_at = self.busy_until  # when the attempt in flight ends
        else:
            self.had_occurrence = True

    def attempt(self, start: float, scheduled_for: float, number: int, triggered: bool) -> float:
        """Record one attempt and plan its follow-up; return when it ends."""
        outcome = OUTCOME_OF[self.behaviour]
        end = start + (TIMEOUT if self.behaviour == "hang" else 0.0)
        self.runs.append((scheduled_for, number, triggered, start, outcome, end))
        self.busy_until = end
        failed = outcome is not tk.Outcome.SUCCEEDED
        if failed and self.retry and number == 1 and self.state == "live":
            self.retry_at = (end + RETRY_DELAY, scheduled_for, triggered)
            return end
        self.occurrences += 1  # the occurrence's last attempt: it counts for MaxRuns
        lifetime_over = self.max_runs is not None and self.occurrences >= self.max_runs
        if self.state == "live" and lifetime_over:  # the lifetime ends the lineage
            self.next_due = None
            self.completes_at = end
            return end
        # An update during the run has planned the next occurrence already.
        if not triggered and self.state == "live" and self.next_due is None:
            self.plan(self.next_after(scheduled_for))
        elif triggered and self.state == "live" and self.had_occurrence and self.next_due is None:
            self.completes_at = end
        return end

    def advance(self, now: float, until: float) -> None:
        """Play every attempt that starts from *now* to before *until*."""
        while self.state in ("live", "paused") and self.completes_at is None:
            regular = None
            # A regular occurrence waits for the whole chain of attempts in flight.
            if self.state == "live" and self.next_due is not None and self.retry_at is None:
                regular = max(self.next_due, self.busy_until, now)
            retry = self.retry_at[0] if self.retry_at else None
            starts = [s for s in (regular, retry) if s is not None and s < until]
            if not starts:
                return
            if retry is not None and retry == min(starts):
                assert self.retry_at is not None
                _, scheduled_for, triggered = self.retry_at
                self.retry_at = None
                self.attempt(retry, scheduled_for, 2, triggered)
            else:
                assert regular is not None
                assert self.next_due is not None
                due = self.next_due
                self.next_due = None
                self.last_fired = due
                self.attempt(regular, due, 1, False)


#: A schedule's (next_after, first_after) in Trio seconds.
Pair = tuple[Callable[[float], float | None], Callable[[float], float | None]]


def _interval(anchor: float, every: int) -> Pair:
    def next_after(t: float) -> float | None:
        return anchor + (math.floor((t - anchor) / every) + 1) * every

    return next_after, next_after


def _every_four_seconds() -> Pair:
    # Cron "*/4 * * * * *" in New York: a wildcard schedule, so the gap changes nothing.
    def next_after(t: float) -> float | None:
        return (math.floor(t / 4) + 1) * 4.0

    return next_after, next_after


def _fixed(instants: list[float]) -> Pair:
    def next_after(t: float) -> float | None:
        return next((x for x in instants if x > t), None)

    return next_after, next_after


def _once(at: float) -> Pair:
    def next_after(t: float) -> float | None:
        return at if at > t else None

    # A Once already past is due the moment it is added.
    return next_after, lambda t: max(at, t)


def _never() -> Pair:
    return (lambda t: None), (lambda t: None)


# WeekdayTimes in New York: Sunday 02:00:30 is in the gap (runs at 03:00:00 EDT = trio 120);
# 03:00:40 EDT is trio 160; a week later both exist (06:00:30 and 07:00:40 UTC).
WEEKDAY = tk.WeekdayTimes([("sun", "02:00:30"), ("sun", "03:00:40")], tz=NY)
WEEKDAY_FIRES = [120.0, 160.0, 7 * 86400 - 3450.0, 7 * 86400 + 160.0]


class Harness:
    def __init__(self, s: tk.Scheduler, data: st.DataObject) -> None:
        self.s = s
        self.data = data
        self.ids: list[tk.JobId] = []
        self.model: list[ModelJob] = []
        self.now = 0.25

    async def step(self) -> None:
        ops = ["advance", "advance", "add", "cancel", "pause", "resume", "trigger", "update"]
        if not self.model:
            ops = ["add", "advance"]
        op = self.data.draw(st.sampled_from(ops), label="op")
        await getattr(self, op)()
        await trio.testing.wait_all_tasks_blocked()  # let the scheduler settle; time stands still
        self.check()

    async def add(self) -> None:
        if len(self.model) >= MAX_JOBS:
            return
        kind = self.data.draw(st.sampled_from(["interval", "once", "never", "cron", "weekday"]))
        behaviour = self.data.draw(st.sampled_from(BEHAVIOURS), label="behaviour")
        retry = self.data.draw(st.booleans(), label="retry")
        t = self.now
        schedule: tk.abc.Schedule
        if kind == "interval":
            # Anchored on the whole-second grid, so that no occurrence falls on an operation.
            every = self.data.draw(st.sampled_from([3, 4, 5, 7]), label="every")
            schedule, fns = tk.Interval(every, start=WALL0), _interval(0, every)
        elif kind == "once":
            delay = self.data.draw(st.sampled_from([-5, 0, 1, 3]), label="delay")
            at = math.floor(t) + delay
            schedule, fns = tk.Once(_wall(at)), _once(at)
        elif kind == "never":
            schedule, fns = tk.Never(), _never()
        elif kind == "cron":
            schedule, fns = tk.Cron("*/4 * * * * *", tz=NY), _every_four_seconds()
        else:
            schedule, fns = WEEKDAY, _fixed(WEEKDAY_FIRES)
        max_runs = self.data.draw(st.sampled_from([None, None, 1, 2, 3]), label="max runs")
        job = ModelJob(kind, behaviour, retry, fns[0], fns[1], max_runs=max_runs)
        job.plan(job.first_after(t))
        self.model.append(job)
        self.ids.append(
            await self.s.add_job(
                schedule,
                self._job_fn(behaviour),
                retry=tk.FixedDelay(1, RETRY_DELAY) if retry else None,
                timeout=TIMEOUT,
                lifetime=tk.MaxRuns(max_runs) if max_runs else None,
            )
        )
        job.advance(t, t + 1e-9)  # a job due now (Once in the past) starts at once

    @staticmethod
    def _job_fn(behaviour: str) -> Callable[[], Awaitable[bool]]:
        async def job() -> bool:
            if behaviour == "raise":
                raise RuntimeError("planned failure")
            if behaviour == "hang":
                await trio.sleep_forever()
            return behaviour == "succeed"

        return job

    def _pick(self) -> tuple[int, ModelJob]:
        index = self.data.draw(st.integers(0, len(self.model) - 1), label="job")
        return index, self.model[index]

    async def advance(self) -> None:
        delta = self.data.draw(st.sampled_from([0.5, 1.0, 2.0, 3.5, 7.0, 30.0]), label="dt")
        target = self.now + delta
        for job in self.model:
            job.advance(self.now, target)
        await trio.sleep_until(target)
        self.now = target

    async def cancel(self) -> None:
        index, job = self._pick()
        interrupt = self.data.draw(st.booleans(), label="interrupt")
        await self.s.cancel_job(self.ids[index], interrupt=interrupt)
        # A cancel with interrupt reaches the running attempt also when the job was
        # cancelled already (by a plain cancel that let the attempt go on).
        if not job.finished(self.now) or job.state == "cancelled":
            job.state = "cancelled"
            job.retry_at = None
            job.next_due = None
            running = job.runs and job.busy_until > self.now
            if interrupt and running:
                scheduled_for, number, triggered, start, _, _ = job.runs[-1]
                job.runs[-1] = (
                    scheduled_for,
                    number,
                    triggered,
                    start,
                    tk.Outcome.CANCELLED,
                    self.now,
                )
                job.busy_until = self.now

    async def pause(self) -> None:
        index, job = self._pick()
        if job.finished(self.now):
            with pytest.raises(tk.JobFinished):
                await self.s.pause_job(self.ids[index])
            return
        if job.busy_until > self.now:
            return  # the model does not pause a job with an attempt in flight
        await self.s.pause_job(self.ids[index])
        job.state = "paused"
        job.next_due = None
        job.retry_at = None  # a pending retry is dropped

    async def resume(self) -> None:
        index, job = self._pick()
        if job.finished(self.now):
            with pytest.raises(tk.JobFinished):
                await self.s.resume_job(self.ids[index])
            return
        await self.s.resume_job(self.ids[index])
        if job.state == "paused":
            job.state = "live"
            job.plan(job.first_after(max(self.now, job.last_fired)))
            job.advance(self.now, self.now + 1e-9)

    async def trigger(self) -> None:
        index, job = self._pick()
        if job.finished(self.now):
            with pytest.raises(tk.JobFinished):
                await self.s.trigger_job(self.ids[index])
            return
        if job.state != "live" or not job.idle(self.now):
            return
        await self.s.trigger_job(self.ids[index])
        job.attempt(self.now, self.now, 1, True)

    async def update(self) -> None:
        index, job = self._pick()
        if job.kind != "interval" or job.state != "live" or job.finished(self.now):
            return
        if job.completes_at is not None:
            return  # its last attempt is running: the lineage ends with it
        every = self.data.draw(st.sampled_from([3, 5, 11]), label="new every")
        await self.s.update_job(self.ids[index], schedule=tk.Interval(every, start=WALL0))
        job.next_after, job.first_after = _interval(0, every)
        job.had_occurrence = False
        if job.retry_at is not None and job.busy_until <= self.now:
            job.retry_at = None  # a new schedule drops a retry waiting for its time
        # Planned at once, also while an attempt runs (it is queued after that attempt).
        job.plan(job.first_after(self.now))

    def check(self) -> None:
        states = {
            "live": {tk.JobState.SCHEDULED},
            "paused": {tk.JobState.PAUSED},
            "cancelled": {tk.JobState.CANCELLED},
        }
        finished = 0
        for job_id, job in zip(self.ids, self.model, strict=True):
            details = self.s.get_job_details(job_id)
            observed = [
                (_trio(r.scheduled_for), r.attempt, r.triggered, _trio(r.started_at), r.outcome)
                for r in details.last_runs
            ]
            # Attempts still running are not in the history yet.
            done = [
                (round(s, 3), attempt, triggered, round(start, 3), outcome)
                for s, attempt, triggered, start, outcome, end in job.runs
                if end <= self.now
            ]
            assert observed == done, (job, observed)
            regular = [(r[0], r[1]) for r in job.runs if not r[2]]
            assert len(set(regular)) == len(regular), "an occurrence ran twice"
            expected_states = states[job.state]
            if job.state == "live" and job.busy_until > self.now:
                expected_states = {tk.JobState.RUNNING}
            elif job.state == "live" and job.finished(self.now):
                expected_states = {tk.JobState.COMPLETED}
            assert details.state in expected_states, (job, details.state)
            if job.state == "live" and job.next_due is not None and job.idle(self.now):
                assert details.next_run_at == _wall(job.next_due)
            finished += len(observed)
        metrics = self.s.get_metrics_snapshot()
        assert metrics.runs_started == metrics.runs_finished + metrics.workers_active
        assert metrics.jobs_submitted == len(self.model)


STEPS = 50
#: 200 examples in CI; `nox -s thorough` (10,000 for the other properties) runs 2,000.
MODEL_EXAMPLES = max(200, settings().max_examples // 5)


@settings(max_examples=MODEL_EXAMPLES)
@given(data=st.data())
@pytest.mark.parametrize("queue", [tk.IndexedHeapQueue, tk.HeapQueue])
def test_scheduler_matches_the_model(
    queue: Callable[[], tk.abc.JobQueue], data: st.DataObject
) -> None:
    async def scenario() -> None:
        wall = MockWallClock(WALL0)
        async with tk.open_scheduler(
            max_workers=MAX_JOBS + 2, wall_clock=wall, queue=queue(), history_size=1000
        ) as s:
            harness = Harness(s, data)
            await trio.sleep_until(harness.now)
            for _ in range(STEPS):
                await harness.step()
            await s.shutdown_force()

    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


@settings(max_examples=MODEL_EXAMPLES // 2)
@given(data=st.data())
def test_wall_clock_jumps_never_lose_repeat_or_advance_an_occurrence(data: st.DataObject) -> None:
    """Random jumps and waits: each occurrence runs once, late or counted, and never early."""
    schedules = {
        "interval": tk.Interval(7, start=WALL0),
        "cron": tk.Cron("*/10 * * * *", tz=NY),
    }
    seen: dict[str, list[tuple[datetime, datetime]]] = {name: [] for name in schedules}

    async def scenario() -> None:
        wall = MockWallClock(WALL0)

        def recorder(name: str) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                seen[name].append((tk.current_job().scheduled_for, wall.now()))

            return job

        async with tk.open_scheduler(max_workers=2, wall_clock=wall, max_sleep=30) as s:
            ids = {
                name: await s.add_job(schedule, recorder(name))
                for name, schedule in schedules.items()
            }
            for _ in range(STEPS):
                if data.draw(st.booleans(), label="jump?"):
                    seconds = data.draw(
                        st.sampled_from([-7200, -600, -30, 30, 600, 7200]), label="jump"
                    )
                    # Jump between dispatches: a run handed over on time and then seeing the
                    # clock step back before its first line is not an early fire.
                    await trio.testing.wait_all_tasks_blocked()
                    wall.jump(seconds)
                else:
                    await trio.sleep(data.draw(st.sampled_from([1, 13, 90, 400]), label="wait"))
            await trio.sleep(1)
            for name, job_id in ids.items():
                runs = seen[name]
                fires = [scheduled for scheduled, _ in runs]
                assert fires == sorted(set(fires)), "an occurrence ran twice or out of order"
                assert all(started >= scheduled for scheduled, started in runs), "ran early"
                if fires:
                    # Every occurrence up to the last one run either ran or was counted.
                    schedule = schedules[name].anchored(WALL0)
                    expected = []
                    occurrence = schedule.first_after(WALL0)
                    while occurrence is not None and occurrence <= fires[-1]:
                        expected.append(occurrence)
                        occurrence = schedule.next_after(occurrence)
                    details = s.get_job_details(job_id)
                    assert len(fires) + details.misfires >= len(expected)
                    assert set(fires) <= set(expected)
            metrics = s.get_metrics_snapshot()
            assert metrics.runs_started == metrics.runs_finished + metrics.workers_active

    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
