"""Expose scheduler metrics to Prometheus (the optional extra ``prometheus``).

Install it with ``pip install -e ".[prometheus]"`` in a clone (or ``pip install
prometheus-client``).

Example:
    ```python
    from prometheus_client import REGISTRY
    from turnkeeper_trio.prometheus import SchedulerCollector

    REGISTRY.register(SchedulerCollector({"reports": reports_scheduler, "sync": sync_scheduler}))
    ```

Every family carries a ``scheduler`` label, so several schedulers share one registry.
Reading the metrics takes one O(1) snapshot per scheduler per scrape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ._metrics import Aggregate, MetricsSnapshot
from ._scheduler import Scheduler

__all__ = ["SchedulerCollector"]

_COUNTERS = {
    "jobs_submitted": "Jobs accepted by add_job/try_add_job.",
    "staging_rejected": "try_add_job calls refused because the staging buffer was full.",
    "runs_started": "Attempts started.",
    "retries_scheduled": "Retries planned after failed attempts.",
    "triggers": "trigger_job calls that queued a run.",
    "jobs_cancelled": "Job lineages cancelled.",
    "jobs_completed": "Job lineages ended by their schedule or lifetime.",
    "jobs_quarantined": "Jobs paused by their quarantine.",
    "misfires": "Occurrences skipped or coalesced by misfire policies.",
    "runs_late": "Runs that started later than late_threshold after they were due.",
    "clock_jumps": "Wall-clock jumps detected.",
    "events_dropped": "Events that subscribers missed because their buffers were full.",
    "attempts_fenced": "Attempts whose outcome was refused: another replica took the job over.",
    "store_writes_refused": "Job rows the store refused to write (each failed its job).",
}
_GAUGES = {
    "jobs_scheduled": "Live jobs taken in (scheduled, running or paused; not staged).",
    "jobs_paused": "Paused jobs.",
    "staging_buffered": "Jobs waiting in the staging buffer.",
    "workers_active": "Workers running an attempt.",
    "workers_max": "Size of the worker pool.",
    "queue_stale_entries": "Stale entries held by a HeapQueue.",
    "jobs_unloadable": "Stored jobs this process cannot run (function not importable).",
    "jobs_held": "Jobs this replica holds leases on (a replicated store).",
}
_OUTCOMES = ("succeeded", "failed", "errored", "timed_out", "cancelled")


def _cumulative_buckets(aggregate: Aggregate) -> list[tuple[str, float]]:
    """Prometheus buckets are cumulative, keyed by their upper bound as text."""
    cumulative = 0
    buckets: list[tuple[str, float]] = []
    for bound, count in aggregate.buckets:
        cumulative += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
    return buckets


class SchedulerCollector(Collector):
    """A Prometheus collector for one or more schedulers, named by the ``scheduler`` label.

    Args:
        schedulers: a mapping from label value to scheduler, or a single scheduler (labelled
            ``"default"``).
        namespace: the prefix of every metric name.

    Example:
        ```python
        from prometheus_client import REGISTRY
        REGISTRY.register(SchedulerCollector({"reports": scheduler}))
        ```
    """

    def __init__(
        self, schedulers: Mapping[str, Scheduler] | Scheduler, *, namespace: str = "turnkeeper"
    ) -> None:
        if isinstance(schedulers, Scheduler):
            schedulers = {"default": schedulers}
        for label, scheduler in schedulers.items():
            if not isinstance(label, str) or not isinstance(scheduler, Scheduler):
                raise TypeError("schedulers must map label strings to Scheduler objects")
        self._schedulers = dict(schedulers)
        self._namespace = namespace

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families for every scheduler (called by the registry per scrape)."""
        snapshots = {label: s.get_metrics_snapshot() for label, s in self._schedulers.items()}
        ns = self._namespace
        for field, doc in _COUNTERS.items():
            counter = CounterMetricFamily(f"{ns}_{field}", doc, labels=["scheduler"])
            for label, snap in snapshots.items():
                counter.add_metric([label], getattr(snap, field))
            yield counter
        runs = CounterMetricFamily(
            f"{ns}_runs_finished", "Attempts finished, by outcome.", labels=["scheduler", "outcome"]
        )
        for label, snap in snapshots.items():
            for outcome in _OUTCOMES:
                runs.add_metric([label, outcome], getattr(snap, f"runs_{outcome}"))
        yield runs
        for field, doc in _GAUGES.items():
            gauge = GaugeMetricFamily(f"{ns}_{field}", doc, labels=["scheduler"])
            for label, snap in snapshots.items():
                gauge.add_metric([label], getattr(snap, field))
            yield gauge
        yield from self._histograms(snapshots)

    def _histograms(self, snapshots: dict[str, MetricsSnapshot]) -> Iterator[Metric]:
        ns = self._namespace
        for field, doc in (
            ("run_duration", "Seconds from the start to the end of attempts."),
            ("dispatch_lateness", "Seconds from an occurrence's due time to its start."),
        ):
            family = HistogramMetricFamily(f"{ns}_{field}_seconds", doc, labels=["scheduler"])
            for label, snap in snapshots.items():
                aggregate: Aggregate = getattr(snap, field)
                family.add_metric([label], _cumulative_buckets(aggregate), aggregate.total)
            yield family
