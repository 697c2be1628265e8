"""Where dispatch time goes: cProfile of the throughput workload, against the floor.

The figure that explains the gap to the floor is the number of Python function calls per
job: the floor makes about a hundred (two channel hops), and so do turnkeeper_trio's tasks
and hops alone (the architecture without its logic; half that with batches);
turnkeeper_trio, with its checks, records, metrics and planning, makes several times as
many, and in CPython time goes roughly with calls.
"""

from __future__ import annotations

import cProfile
import pstats
from pathlib import Path

import trio

import turnkeeper_trio as tk

from ._common import architecture, floor
from .bench_dispatch import turnkeeper, turnkeeper_batched

N = 20_000
ROOT = Path(__file__).resolve().parent.parent


def _profile(fn: object, *args: object) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    trio.run(fn, *args)  # type: ignore[arg-type]
    profiler.disable()
    return pstats.Stats(profiler)


def _total_calls(stats: pstats.Stats) -> int:
    return sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]


def _by_area(stats: pstats.Stats) -> dict[str, float]:
    """Own time (tottime) summed by where the code lives."""
    areas: dict[str, float] = {}
    for (filename, _, _), entry in stats.stats.items():  # type: ignore[attr-defined]
        path = filename.replace("\\", "/")
        if path.startswith("<attrs generated methods turnkeeper_trio"):
            area = "building records (attrs-generated `__init__`)"
        elif "/turnkeeper_trio/" in path:
            area = "turnkeeper_trio/" + path.rsplit("/", 1)[1]
        elif "/trio/" in path:
            area = "trio (channels, cancel scopes, run loop)"
        else:
            area = "other (stdlib, attrs, builtins)"
        areas[area] = areas.get(area, 0.0) + entry[2]
    return areas


#: The hot path's stages: (module, function) -> what it does for one job.
STAGES = {
    ("_scheduler.py", "add_job"): "`add_job`: checks, staging buffer, its checkpoint",
    ("_scheduler.py", "_spec"): "of which the checks and the submission record",
    ("_coordinator.py", "ingest"): "intake: the job record, its first run planned",
    ("_coordinator.py", "next_dispatch"): "dispatch: the due run picked and decided, the run made",
    ("_worker.py", "_attempt"): "worker: call the job in its scope, classify, report",
    ("_planner.py", "started"): "start report applied: busy workers, lateness",
    ("_planner.py", "finished"): "outcome: record, metrics, the next occurrence planned",
}


def _stages(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Cumulative profiled time per job in each hot-path stage, in microseconds."""
    found = {}
    for (filename, _, function), entry in stats.stats.items():  # type: ignore[attr-defined]
        path = filename.replace("\\", "/")
        for (module, name), label in STAGES.items():
            if path.endswith(f"turnkeeper_trio/{module}") and function == name:
                found[label] = entry[3] / N * 1e6
    return [(label, found[label]) for label in STAGES.values() if label in found]


def report() -> str:
    """Calls per job and own time by module, for the floor and for turnkeeper_trio."""
    calls = {
        name: _total_calls(_profile(fn, *args)) / N
        for name, fn, args in (
            ("floor", floor, (N,)),
            ("alone", architecture, (N, False)),
            ("alone batched", architecture, (N, True)),
            ("batched", turnkeeper_batched, (N, tk.IndexedHeapQueue())),
        )
    }
    ours = _profile(turnkeeper, N, tk.IndexedHeapQueue())
    our_calls = _total_calls(ours) / N
    areas = _by_area(ours)
    total = sum(areas.values())
    lines = [
        f"### Profile of the throughput workload (cProfile, N = {N:,}, IndexedHeapQueue)",
        "",
        f"Python function calls per job: raw-Trio floor {calls['floor']:.0f}; with one job "
        f"per call, the architecture alone {calls['alone']:.0f} and turnkeeper_trio "
        f"{our_calls:.0f}; with `add_jobs` batches, the architecture alone "
        f"{calls['alone batched']:.0f} and turnkeeper_trio {calls['batched']:.0f}.  The "
        "tables below profile one job per call.",
        "",
        "| where the time is spent (own time) | share |",
        "|---|---:|",
    ]
    for area, seconds in sorted(areas.items(), key=lambda item: -item[1])[:12]:
        path = area.replace("turnkeeper_trio/", "")
        label = f"`{path}`" if area.startswith("turnkeeper_trio/") else area
        lines.append(f"| {label} | {100 * seconds / total:.0f} % |")
    lines += [
        "",
        "The hot path stage by stage (cumulative time under the profiler, which inflates every "
        "call about threefold; the stages overlap where one calls another):",
        "",
        "| stage | profiled µs per job |",
        "|---|---:|",
    ]
    for label, micros in _stages(ours):
        lines.append(f"| {label} | {micros:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
