"""Stateful test with fewer workers than jobs: runs wait for a busy worker or in the buffer.

``test_model.py`` replays an exact model with a worker for every job.  Here workers are
scarce (one or two, with a dispatch buffer of 0-2), so which job a freed worker takes is a
scheduling choice; the test therefore checks the *rules* every interleaving must keep, on the
full history of attempts, after every operation:

* never more attempts at once than workers, never two of one job (no overlap);
* work conservation: once the scheduler has settled, no job that is due waits while a worker
  is idle;
* an attempt runs the job's function and arguments as they were when it *started* (updates
  of running and waiting jobs apply from the next attempt);
* nothing starts while its job is paused or after it was cancelled; a pause drops retries;
* lifetimes: ``MaxRuns(n)`` starts at most *n* occurrences, triggers included;
* never early, each regular occurrence at most once, retries of one occurrence numbered
  1, 2, ... and never before the retry delay;
* the queries answer for every job, in a state that matches the history, and the metrics add
  up.

The checks are plain functions over the recorded history, and ``test_the_checks_fail_on_bad
_histories`` feeds them histories with injected faults, to show that each can fail.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

WALL0 = datetime(2026, 5, 4, 12, tzinfo=UTC)
RETRY_DELAY = 0.25
MAX_RETRIES = 2
MAX_JOBS = 6
STEPS = 50


def _wall(t: float) -> datetime:
    return WALL0 + timedelta(seconds=t)


@attrs.define
class Attempt:
    """One attempt as the job's own code saw it."""

    job: int
    version: int
    attempt: int
    scheduled_for: float
    triggered: bool
    seq: int  # the operation count when it started
    start: float
    end: float = math.inf
    end_seq: int = 0  # the operation count when it ended


@attrs.define
class Plan:
    """What the harness did to one job, by operation count."""

    max_runs: int | None
    retry: bool
    versions: list[tuple[int, int]] = attrs.Factory(lambda: [(0, 0)])  # (seq, version)
    pauses: list[tuple[int, int | None]] = attrs.Factory(list)  # (paused at, resumed at)
    cancelled_at: int | None = None
    never: bool = False
    triggers: list[int] = attrs.Factory(list)  # seq of each trigger_job


class CheckFailed(AssertionError):
    """A rule was broken by the recorded history."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def check_concurrency(attempts: list[Attempt], workers: int) -> None:
    """At most *workers* attempts at once, and never two of one job."""
    events = sorted(
        [(a.start, 1, a.job) for a in attempts] + [(a.end, -1, a.job) for a in attempts],
        key=lambda e: (e[0], e[1]),  # at one instant, ends before starts
    )
    running = 0
    per_job: dict[int, int] = defaultdict(int)
    for _, delta, job in events:
        running += delta
        per_job[job] += delta
        _require(running <= workers, f"{running} attempts at once with {workers} workers")
        _require(per_job[job] <= 1, f"job {job} ran two attempts at once")


def check_versions(attempts: list[Attempt], plans: list[Plan]) -> None:
    """Every attempt ran the function version current when it started."""
    for a in attempts:
        expected = [v for seq, v in plans[a.job].versions if seq <= a.seq][-1]
        _require(a.version == expected, f"{a} ran version {a.version}, not {expected}")


def check_pause_and_cancel(attempts: list[Attempt], plans: list[Plan]) -> None:
    """Nothing starts while paused or after a cancel; a pause drops a pending retry."""
    first_attempt: dict[tuple[int, float, bool], Attempt] = {}
    for a in sorted(attempts, key=lambda a: a.seq):
        plan = plans[a.job]
        for paused, resumed in plan.pauses:
            in_pause = paused <= a.seq and (resumed is None or a.seq < resumed)
            _require(not in_pause, f"{a} started while its job was paused")
        cancelled = plan.cancelled_at
        _require(cancelled is None or a.seq < cancelled, f"{a} started after a cancel")
        key = (a.job, a.scheduled_for, a.triggered)
        if a.attempt == 1:
            first_attempt[key] = a
            continue
        previous = first_attempt.get(key)
        _require(previous is not None, f"{a} is a retry of an occurrence that never ran")
        assert previous is not None
        # No retry is planned while paused, and a pending one is dropped by a pause (an
        # attempt that runs on after a resume is retried as usual).
        ended = previous.end_seq
        dropped = any(
            (p <= ended and (r is None or r > ended)) or ended < p <= a.seq for p, r in plan.pauses
        )
        _require(not dropped, f"{a} is a retry that a pause should have dropped")
        first_attempt[key] = a


def check_lifetimes_and_order(attempts: list[Attempt], plans: list[Plan]) -> None:
    """MaxRuns bounds the occurrences; nothing early, no occurrence twice, retries in order."""
    by_job: dict[int, list[Attempt]] = defaultdict(list)
    for a in attempts:
        by_job[a.job].append(a)
    for job, runs in by_job.items():
        runs.sort(key=lambda a: a.start)
        limit = plans[job].max_runs
        occurrences = [a for a in runs if a.attempt == 1]
        _require(
            limit is None or len(occurrences) <= limit,
            f"job {job} ran {len(occurrences)} occurrences under MaxRuns({limit})",
        )
        regular = [a.scheduled_for for a in occurrences if not a.triggered]
        _require(len(regular) == len(set(regular)), f"job {job} ran an occurrence twice")
        last: dict[tuple[float, bool], Attempt] = {}
        for a in runs:
            _require(a.start >= a.scheduled_for - 1e-6, f"{a} started before it was due")
            key = (a.scheduled_for, a.triggered)
            previous = last.get(key)
            if a.attempt > 1:
                _require(
                    previous is not None and previous.attempt == a.attempt - 1,
                    f"{a} does not follow attempt {a.attempt - 1}",
                )
                assert previous is not None
                # A trigger while the retry waits runs it at once.
                hurried = any(previous.seq <= t <= a.seq for t in plans[job].triggers)
                waited = a.start >= previous.end + RETRY_DELAY - 1e-6
                _require(waited or hurried, f"{a} retried early")
                _require(a.attempt <= 1 + MAX_RETRIES, f"{a} is past the retry policy")
            last[key] = a


def check_history(attempts: list[Attempt], plans: list[Plan], workers: int) -> None:
    """Every rule above, on one history."""
    check_concurrency(attempts, workers)
    check_versions(attempts, plans)
    check_pause_and_cancel(attempts, plans)
    check_lifetimes_and_order(attempts, plans)


class Harness:
    def __init__(self, s: tk.Scheduler, data: st.DataObject, workers: int) -> None:
        self.s = s
        self.data = data
        self.workers = workers
        self.ids: list[tk.JobId] = []
        self.plans: list[Plan] = []
        self.attempts: list[Attempt] = []
        self.seq = 0
        self.t0 = trio.current_time()

    def now(self) -> float:
        return trio.current_time() - self.t0

    def work(self, index: int) -> Callable[[int, float, bool], Awaitable[bool]]:
        async def job(version: int, duration: float, succeed: bool) -> bool:
            ctx = tk.current_job()
            record = Attempt(
                job=index,
                version=version,
                attempt=ctx.attempt,
                scheduled_for=round((ctx.scheduled_for - WALL0).total_seconds(), 6),
                triggered=ctx.triggered,
                seq=self.seq,
                start=self.now(),
            )
            self.attempts.append(record)
            try:
                await trio.sleep(duration)
            finally:
                record.end, record.end_seq = self.now(), self.seq
            return succeed

        return job

    async def step(self) -> None:
        ops = ["advance", "advance", "advance", "add", "trigger", "pause", "resume", "update"]
        ops += ["cancel"]
        op = self.data.draw(st.sampled_from(ops if self.ids else ["add"]), label="op")
        self.seq += 1
        await getattr(self, op)()
        await trio.testing.wait_all_tasks_blocked()
        self.check()

    def _pick(self) -> int:
        return self.data.draw(st.integers(0, len(self.ids) - 1), label="job")

    async def add(self) -> None:
        if len(self.ids) >= MAX_JOBS:
            return
        index = len(self.ids)
        kind = self.data.draw(st.sampled_from(["interval", "interval", "once", "never"]))
        schedule: tk.abc.Schedule
        if kind == "interval":
            every = self.data.draw(st.sampled_from([1, 2, 3]), label="every")
            # Offsets keep occurrences of different jobs apart (and off the operations).
            start = WALL0 + timedelta(seconds=0.1 * (index + 1) + 0.03)
            schedule = tk.Interval(every, start=start)
        elif kind == "once":
            schedule = tk.Once(_wall(math.floor(self.now()) + 1.05))
        else:
            schedule = tk.Never()
        retry = self.data.draw(st.booleans(), label="retry")
        max_runs = self.data.draw(st.sampled_from([None, None, 1, 2, 4]), label="max runs")
        duration = self.data.draw(st.sampled_from([0.0, 0.5, 1.3, 2.7]), label="duration")
        succeed = self.data.draw(st.booleans(), label="succeed")
        plan = Plan(max_runs=max_runs, retry=retry, never=kind == "never")
        plan.versions = [(self.seq, 0)]
        self.plans.append(plan)
        self.ids.append(
            await self.s.add_job(
                schedule,
                self.work(index),
                0,
                duration,
                succeed,
                retry=tk.FixedDelay(MAX_RETRIES, RETRY_DELAY) if retry else None,
                lifetime=tk.MaxRuns(max_runs) if max_runs else None,
            )
        )

    async def advance(self) -> None:
        dt = self.data.draw(st.sampled_from([0.25, 0.5, 1.0, 2.0, 5.0]), label="dt")
        await trio.sleep(dt)

    def _live(self, index: int) -> bool:
        state = self.s.get_job_details(self.ids[index]).state
        return not state.is_final

    async def trigger(self) -> None:
        index = self._pick()
        if not self._live(index):
            with pytest.raises(tk.JobFinished):
                await self.s.trigger_job(self.ids[index])
            return
        await self.s.trigger_job(self.ids[index])
        self.plans[index].triggers.append(self.seq)

    async def pause(self) -> None:
        index = self._pick()
        if not self._live(index):
            return
        plan = self.plans[index]
        await self.s.pause_job(self.ids[index])
        if not plan.pauses or plan.pauses[-1][1] is not None:
            plan.pauses.append((self.seq, None))

    async def resume(self) -> None:
        index = self._pick()
        if not self._live(index):
            return
        plan = self.plans[index]
        await self.s.resume_job(self.ids[index])
        if plan.pauses and plan.pauses[-1][1] is None:
            plan.pauses[-1] = (plan.pauses[-1][0], self.seq)

    async def update(self) -> None:
        index = self._pick()
        if not self._live(index):
            return
        plan = self.plans[index]
        version = plan.versions[-1][1] + 1
        details = self.s.get_job_details(self.ids[index])
        duration = self.data.draw(st.sampled_from([0.0, 0.5, 1.3]), label="new duration")
        changes: dict[str, object] = {"args": (version, duration, True)}
        if self.data.draw(st.booleans(), label="new schedule?") and not plan.never:
            every = self.data.draw(st.sampled_from([1, 2, 4]), label="new every")
            start = WALL0 + timedelta(seconds=0.1 * (index + 1) + 0.03)
            changes["schedule"] = tk.Interval(every, start=start)
        await self.s.update_job(details.id, **changes)  # type: ignore[arg-type]
        plan.versions.append((self.seq, version))

    async def cancel(self) -> None:
        index = self._pick()
        interrupt = self.data.draw(st.booleans(), label="interrupt")
        plan = self.plans[index]
        was_live = self._live(index)
        await self.s.cancel_job(self.ids[index], interrupt=interrupt)
        if was_live:
            plan.cancelled_at = self.seq

    def check(self) -> None:
        check_history(self.attempts, self.plans, self.workers)
        now = self.now()
        running = {a.job for a in self.attempts if a.end == math.inf}
        summaries = {summary.id: summary for summary in self.s.list_all_jobs()}
        assert set(summaries) == set(self.ids), "list_all_jobs lost or invented a job"
        metrics = self.s.get_metrics_snapshot()
        assert metrics.workers_active == len(running) <= self.workers
        assert metrics.runs_started == metrics.runs_finished + metrics.workers_active
        for index, job_id in enumerate(self.ids):
            details = self.s.get_job_details(job_id)
            plan = self.plans[index]
            assert summaries[job_id].state is details.state
            if index in running:
                # Paused or cancelled while it runs; final states other than CANCELLED only
                # once the last attempt is over.
                assert details.state in (
                    tk.JobState.RUNNING,
                    tk.JobState.PAUSED,
                    tk.JobState.CANCELLED,
                ), details
            elif plan.cancelled_at is not None:
                assert details.state is tk.JobState.CANCELLED
            if details.state is tk.JobState.RUNNING:
                assert index in running
            due = details.next_run_at
            if details.state is tk.JobState.SCHEDULED and due is not None:
                # Work conservation: the scheduler has settled, so a run that is due waits
                # only for a busy worker.
                # (A millisecond of slack: converting a wall instant to a Trio deadline may
                # round it a hair later.)
                late = due <= _wall(now - 1e-3)
                assert not late or len(running) == self.workers, (index, details)
            if details.state is tk.JobState.SCHEDULED and due is None:
                # A job with nothing planned waits only for a trigger (or, taken, a worker).
                assert plan.never or details.trigger_pending or len(running) == self.workers


@settings(max_examples=200, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("queue", [tk.IndexedHeapQueue, tk.HeapQueue])
def test_scarce_workers_keep_every_rule(
    queue: Callable[[], tk.abc.JobQueue], data: st.DataObject
) -> None:
    workers = data.draw(st.sampled_from([1, 2]), label="workers")
    buffer = data.draw(st.sampled_from([0, 1, 2]), label="dispatch buffer")

    async def scenario() -> None:
        wall = MockWallClock(WALL0)
        async with tk.open_scheduler(
            max_workers=workers,
            dispatch_buffer_size=buffer,
            wall_clock=wall,
            queue=queue(),
            history_size=10_000,
            finished_job_retention=10_000,
            late_threshold=3600,
        ) as s:
            harness = Harness(s, data, workers)
            for _ in range(STEPS):
                await harness.step()
            await s.shutdown_force()

    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


def test_the_checks_fail_on_bad_histories() -> None:
    """Each check rejects a history that breaks its rule (so a green run means something)."""
    plans = [Plan(max_runs=1, retry=True), Plan(max_runs=None, retry=True)]

    def attempt(job: int = 0, **changes: Any) -> Attempt:
        base = Attempt(job, 0, 1, 0.0, False, seq=1, start=0.0, end=1.0)
        return attrs.evolve(base, **changes)

    good = [attempt(), attempt(job=1, start=1.0, end=2.0)]
    check_history(good, plans, workers=1)
    bad_histories = {
        "attempts at once": [attempt(), attempt(job=1, start=0.5, end=2.0)],
        "two attempts at once": [attempt(job=1), attempt(job=1, scheduled_for=0.5, start=0.5)],
        "version": [attempt(version=1)],
        "paused": [attempt(seq=3)],
        "pause should have dropped": [
            attempt(job=1, end_seq=1),
            attempt(job=1, attempt=2, seq=4, start=2.0, end=3.0),
        ],
        "after a cancel": [attempt(job=1, seq=9)],
        "MaxRuns": [attempt(), attempt(scheduled_for=2.0, start=2.0, end=3.0)],
        "before it was due": [attempt(job=1, scheduled_for=5.0)],
        "twice": [attempt(job=1), attempt(job=1, start=2.0, end=3.0)],
        "retried early": [attempt(job=1), attempt(job=1, attempt=2, start=1.1, end=2.0)],
        "never ran": [attempt(job=1, attempt=2)],
    }
    plans_for = {
        "paused": [attrs.evolve(plans[0], pauses=[(2, None)]), plans[1]],
        "after a cancel": [plans[0], attrs.evolve(plans[1], cancelled_at=5)],
        "pause should have dropped": [plans[0], attrs.evolve(plans[1], pauses=[(2, 3)])],
    }
    for rule, history in bad_histories.items():
        with pytest.raises(CheckFailed, match=rule):
            check_history(history, plans_for.get(rule, plans), workers=2 if "two" in rule else 1)
