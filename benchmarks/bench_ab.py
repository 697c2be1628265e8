"""Before and after the second performance pass, side by side in this one run.

The package as it was before the pass (commit ``BASELINE``, unpacked from this repository's
history into a temporary folder) and this checkout's are measured alternately, in fresh
processes, with the same workload file (``_ab_worker``), ``REPEATS`` times each; the best of
each counts.  The batch calls did not exist before the pass: they are measured for this code
only.  Outside a git checkout nothing is measured (the report says so).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The last commit before the pass.
BASELINE = "9519f33"
REPEATS = 3
#: (figure, N, label): the figures the optimisation log compares.
FIGURES = (
    ("throughput", 100_000, "dispatch throughput, N = 100,000, `add_job` (jobs/s)"),
    ("throughput_batched", 100_000, "dispatch throughput, N = 100,000, `add_jobs` (jobs/s)"),
    ("add", 100_000, "`add_job` with 100,000 pending (/s)"),
    ("add_jobs", 100_000, "`add_jobs` with 100,000 pending (/s)"),
    ("cancel", 100_000, "`cancel_job` with 100,000 pending (/s)"),
    ("cancel_jobs", 100_000, "`cancel_jobs` with 100,000 pending (/s)"),
)
_NEW = ("throughput_batched", "add_jobs", "cancel_jobs")


def _figure(tree: Path, figure: str, n: int) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._ab_worker", str(tree), figure, str(n)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    value: float = json.loads(done.stdout.strip().splitlines()[-1])
    return value


def measure(repeats: int = REPEATS) -> dict[str, Any] | None:
    """Best of *repeats* for each figure, before and after; ``None`` outside a git checkout."""
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp)
        try:
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", BASELINE, "turnkeeper_trio"],
                check=True,
                capture_output=True,
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        results: dict[str, Any] = {"baseline": BASELINE, "rows": []}
        floors = [_figure(ROOT, "floor", 100_000) for _ in range(repeats)]
        results["floor"] = max(floors)
        for figure, n, label in FIGURES:
            old: list[float] = []
            new: list[float] = []
            for _ in range(repeats):
                if figure not in _NEW:
                    old.append(_figure(before, figure, n))
                new.append(_figure(ROOT, figure, n))
            results["rows"].append(
                {
                    "figure": figure,
                    "label": label,
                    "before": max(old, default=None),
                    "after": max(new),
                }
            )
            print(f"  before/after: {figure} done", flush=True)
        return results


def report(results: dict[str, Any] | None, changes: str) -> str:
    """The optimisation log: the figures before and after, and what changed."""
    if results is None:
        return "### Optimisation log\n\nNot measured: this is not a git checkout.\n"
    lines = [
        "### Optimisation log",
        "",
        f"Before: the package at commit {results['baseline']} (before the second pass); after: "
        "this code.  Measured in this run, alternately, in fresh processes, best of "
        f"{REPEATS}; the raw-Trio floor at N = 100,000 measured {results['floor']:,.0f} jobs/s "
        "in the same run.",
        "",
        "| figure | before the pass | now | change |",
        "|---|---:|---:|---:|",
    ]
    for row in results["rows"]:
        before, after = row["before"], row["after"]
        if before is None:
            lines.append(f"| {row['label']} | (no such call) | {after:,.0f} | |")
        else:
            lines.append(
                f"| {row['label']} | {before:,.0f} | {after:,.0f} | {after / before:.2f}x |"
            )
    lines += ["", changes]
    return "\n".join(lines)
