"""Counters and gauges, and the frozen snapshot users read."""

from __future__ import annotations

import math
from bisect import bisect_left

import attrs

from ._exceptions import InvalidArgument
from ._models import Outcome

__all__ = ["BUCKETS", "Aggregate", "Metrics", "MetricsSnapshot"]


#: Upper bounds (seconds) of the histogram buckets; the last bucket is unbounded.
BUCKETS: tuple[float, ...] = (
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
    10.0,
    60.0,
    300.0,
    math.inf,
)


@attrs.frozen
class Aggregate:
    """Count, sum, maximum and a fixed-bucket histogram of a quantity in seconds.

    ``buckets`` pairs each upper bound of ``BUCKETS`` with how many measurements fell at
    or below it and above the previous bound (not cumulative).

    Example:
        ```python
        lateness = scheduler.get_metrics_snapshot().dispatch_lateness
        print(lateness.mean, lateness.max, lateness.quantile(0.99))
        ```
    """

    count: int = 0
    total: float = 0.0
    max: float = 0.0
    buckets: tuple[tuple[float, int], ...] = tuple((bound, 0) for bound in BUCKETS)

    @property
    def mean(self) -> float:
        """The average, or 0.0 before the first measurement."""
        return self.total / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """An upper bound for the *q*-quantile (0 < q <= 1), read from the histogram.

        Returns the upper bound of the bucket that holds the q-quantile, capped at ``max``;
        0.0 before the first measurement.
        """
        if not 0.0 < q <= 1.0:
            raise InvalidArgument(f"q must be in (0, 1], got {q!r}")
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for bound, count in self.buckets:
            seen += count
            if seen >= rank:
                return min(bound, self.max)
        return self.max  # pragma: no cover - the last bucket is unbounded


@attrs.define(slots=True)
class _Accumulator:
    count: int = 0
    total: float = 0.0
    max: float = 0.0
    counts: list[int] = attrs.field(factory=lambda: [0] * len(BUCKETS))

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value
        self.counts[bisect_left(BUCKETS, value)] += 1

    def freeze(self) -> Aggregate:
        return Aggregate(
            self.count, self.total, self.max, tuple(zip(BUCKETS, self.counts, strict=True))
        )


@attrs.frozen
class MetricsSnapshot:
    """A consistent, frozen view of the scheduler's metrics.

    Counters (``jobs_submitted``, ``runs_*``, ``retries_scheduled``, ``misfires``, ...) are
    cumulative for the scheduler's life; gauges (``jobs_scheduled``, ``jobs_paused``,
    ``staging_buffered``, ``workers_active``, ``queue_stale_entries``) are current.  Taking a
    snapshot is O(1).  No gauge counts a job twice: a job accepted by ``add_job`` counts in
    ``staging_buffered`` while it waits in the staging buffer, then in ``jobs_scheduled``
    once the coordinator has taken it in and planned it.

    Attributes:
        jobs_submitted: jobs accepted by ``add_job``/``try_add_job``.
        jobs_scheduled: live jobs the coordinator has taken in (scheduled, running or
            paused; not those still staged, which ``staging_buffered`` counts).
        jobs_paused: jobs currently paused.
        staging_buffered: jobs waiting in the staging buffer (state ``STAGED``).
        staging_rejected: ``try_add_job`` calls refused with ``StagingFull``.
        workers_active: workers running an attempt now.
        workers_max: the pool size.
        runs_started: attempts started; every one ends in exactly one ``runs_*`` outcome.
        runs_succeeded / runs_failed / runs_errored / runs_timed_out / runs_cancelled:
            attempts by outcome.
        retries_scheduled: retries planned after failed attempts.
        triggers: ``trigger_job`` calls that queued a run (coalesced ones are not counted).
        jobs_cancelled: lineages cancelled.
        jobs_completed: lineages that ended by schedule or lifetime.
        misfires: occurrences skipped or coalesced by misfire policies.
        runs_late: runs that started more than ``late_threshold`` after they were due
            (all workers busy, a blocked event loop): a sign of overload.
        jobs_quarantined: jobs paused by their quarantine after repeated failures.
        clock_jumps: wall-clock jumps detected (NTP steps, suspend/resume).
        events_dropped: events that subscribers missed because their buffers were full.
        queue_stale_entries: stale entries held by a ``HeapQueue``.
        jobs_unloadable: stored jobs this process cannot run, because their function does
            not import or their definition cannot be read (see ``JobDetails.error``).
        attempts_fenced: attempts of a replicated store whose outcome was refused because
            another replica had taken the job over (the lease was lost; see "Running
            several replicas").
        jobs_held: jobs this replica holds leases on (a replicated store; else 0).
        store_writes_refused: rows a durable store refused to write (a value, a constraint,
            a size): each failed its job, and every other job went on (see "Durable jobs").
        run_duration: seconds from start to end of attempts (Trio clock).
        dispatch_lateness: seconds from an occurrence's due instant to its start (wall clock).

    Example:
        ```python
        m = s.get_metrics_snapshot()
        print(m.runs_succeeded, m.runs_errored, m.workers_active, "/", m.workers_max)
        print("p99 lateness <=", m.dispatch_lateness.quantile(0.99), "s")
        ```
    """

    jobs_submitted: int
    jobs_scheduled: int
    jobs_paused: int
    staging_buffered: int
    staging_rejected: int
    workers_active: int
    workers_max: int
    runs_started: int
    runs_succeeded: int
    runs_failed: int
    runs_errored: int
    runs_timed_out: int
    runs_cancelled: int
    retries_scheduled: int
    triggers: int
    jobs_cancelled: int
    jobs_completed: int
    misfires: int
    runs_late: int
    jobs_quarantined: int
    clock_jumps: int
    events_dropped: int
    queue_stale_entries: int
    run_duration: Aggregate
    dispatch_lateness: Aggregate
    jobs_unloadable: int = 0
    attempts_fenced: int = 0
    jobs_held: int = 0
    store_writes_refused: int = 0

    @property
    def runs_finished(self) -> int:
        """Attempts that have ended, whatever the outcome."""
        return (
            self.runs_succeeded
            + self.runs_failed
            + self.runs_errored
            + self.runs_timed_out
            + self.runs_cancelled
        )


@attrs.define(slots=True)
class Metrics:
    """The coordinator's mutable counters (internal). Gauges are read when snapshotting."""

    workers_max: int
    jobs_submitted: int = 0
    staging_rejected: int = 0
    workers_active: int = 0
    runs_started: int = 0
    retries_scheduled: int = 0
    triggers: int = 0
    jobs_cancelled: int = 0
    jobs_completed: int = 0
    misfires: int = 0
    runs_late: int = 0
    jobs_quarantined: int = 0
    clock_jumps: int = 0
    events_dropped: int = 0
    attempts_fenced: int = 0
    store_writes_refused: int = 0
    outcomes: dict[Outcome, int] = attrs.field(factory=lambda: dict.fromkeys(Outcome, 0))
    run_duration: _Accumulator = attrs.field(factory=_Accumulator)
    dispatch_lateness: _Accumulator = attrs.field(factory=_Accumulator)

    def snapshot(
        self,
        *,
        jobs_live: int,
        jobs_paused: int,
        staging_buffered: int,
        stale: int,
        unloadable: int = 0,
        held: int = 0,
    ) -> MetricsSnapshot:
        """Freeze the counters together with the current gauges."""
        outcomes = self.outcomes
        return MetricsSnapshot(
            jobs_submitted=self.jobs_submitted,
            jobs_scheduled=jobs_live,
            jobs_paused=jobs_paused,
            staging_buffered=staging_buffered,
            staging_rejected=self.staging_rejected,
            workers_active=self.workers_active,
            workers_max=self.workers_max,
            runs_started=self.runs_started,
            runs_succeeded=outcomes[Outcome.SUCCEEDED],
            runs_failed=outcomes[Outcome.FAILED],
            runs_errored=outcomes[Outcome.ERRORED],
            runs_timed_out=outcomes[Outcome.TIMED_OUT],
            runs_cancelled=outcomes[Outcome.CANCELLED],
            retries_scheduled=self.retries_scheduled,
            triggers=self.triggers,
            jobs_cancelled=self.jobs_cancelled,
            jobs_completed=self.jobs_completed,
            misfires=self.misfires,
            runs_late=self.runs_late,
            jobs_quarantined=self.jobs_quarantined,
            clock_jumps=self.clock_jumps,
            events_dropped=self.events_dropped,
            queue_stale_entries=stale,
            run_duration=self.run_duration.freeze(),
            dispatch_lateness=self.dispatch_lateness.freeze(),
            jobs_unloadable=unloadable,
            attempts_fenced=self.attempts_fenced,
            jobs_held=held,
            store_writes_refused=self.store_writes_refused,
        )
