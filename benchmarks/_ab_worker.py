"""One figure of the before/after comparison, for the turnkeeper_trio found at a given path.

``python -m benchmarks._ab_worker PATH FIGURE N`` prints one JSON number.  It imports the
package only inside the workloads, after putting *PATH* first on ``sys.path``, so that the
same file measures any version of it; ``bench_ab`` runs it for the code before the pass and for
this code, alternately.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

import trio
import trio.testing

from ._common import WORKERS, Countdown, floor, noop


async def throughput(n: int, batched: bool) -> float:
    """``bench_dispatch``'s workload (jobs/s), with ``add_job`` or ``add_jobs``."""
    import turnkeeper_trio as tk

    now = datetime.now(UTC)
    job = Countdown(n)
    start = time.perf_counter()
    async with tk.open_scheduler(
        max_workers=WORKERS, staging_buffer_size=1024, finished_job_retention=0, late_threshold=3600
    ) as s:
        if batched:
            for first in range(0, n, 1_000):
                size = min(1_000, n - first)
                await s.add_jobs([tk.JobRequest(tk.Once(now), job) for _ in range(size)])
        else:
            for _ in range(n):
                await s.add_job(tk.Once(now), job)
        await job.done.wait()
        await s.shutdown_graceful()
    return n / (time.perf_counter() - start)


async def pending(n: int, figure: str) -> float:
    """Adds/s of *n* hourly jobs, or cancels/s of a tenth of them, with *n* pending."""
    import turnkeeper_trio as tk

    async with tk.open_scheduler(
        max_workers=WORKERS, staging_buffer_size=1024, history_size=0
    ) as s:
        schedule = tk.Interval(3600)
        start = time.perf_counter()
        if figure.startswith("add_jobs"):
            ids: list[tk.JobId] = []
            for _ in range(0, n, 1_000):
                result = await s.add_jobs([tk.JobRequest(schedule, noop) for _ in range(1_000)])
                ids.extend(result.accepted)
        else:
            ids = [await s.add_job(schedule, noop) for _ in range(n)]
        await trio.testing.wait_all_tasks_blocked()
        added = n / (time.perf_counter() - start)
        if figure.startswith("add"):
            await s.shutdown_force()
            return added
        some = ids[: n // 10]
        start = time.perf_counter()
        if figure == "cancel_jobs":
            for first in range(0, len(some), 1_000):
                await s.cancel_jobs(some[first : first + 1_000])
        else:
            for job_id in some:
                await s.cancel_job(job_id)
        rate = len(some) / (time.perf_counter() - start)
        await s.shutdown_force()
        return rate


def main(argv: list[str]) -> None:
    """Print the figure *argv[1]* for the package at *argv[0]*, with size *argv[2]*."""
    path, figure, n = argv[0], argv[1], int(argv[2])
    sys.path.insert(0, path)
    if figure == "floor":
        value = n / trio.run(floor, n)
    elif figure in ("throughput", "throughput_batched"):
        value = trio.run(throughput, n, figure == "throughput_batched")
    else:
        value = trio.run(pending, n, figure)
    print(json.dumps(value))


if __name__ == "__main__":
    main(sys.argv[1:])
