"""A 20,000-run soak in CI: nothing lost, metrics conserved, memory bounded."""

from __future__ import annotations

from .soak import run_soak


def test_soak_twenty_thousand_runs() -> None:
    report = run_soak(20_000)
    metrics = report.metrics
    assert report.lost == 0
    assert report.runs >= 20_000
    assert metrics.runs_started == metrics.runs_finished
    assert metrics.workers_active == 0
    assert metrics.runs_failed > 0
    assert metrics.runs_errored > 0
    assert metrics.runs_timed_out > 0
    assert metrics.jobs_cancelled > 0
    # Memory after the first quarter stays flat: history and finished jobs are bounded.
    first = report.memory[0][1]
    last = report.memory[-1][1]
    assert last - first < 2_000_000, report.lines()
