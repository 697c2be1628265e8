"""Run every benchmark and write ``benchmarks/RESULTS.md`` (``nox -s bench``)."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import trio

import turnkeeper_trio as tk

from . import bench_dispatch, bench_schedules


def main() -> None:
    header = [
        "# Benchmark results",
        "",
        f"Recorded {datetime.date.today()} with `nox -s bench` on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"trio {trio.__version__}, turnkeeper_trio {tk.__version__}.",
        "Each table compares with its baseline in the same process run.",
        "",
    ]
    body = [
        bench_schedules.report(),
        "",
        bench_dispatch.report(),
        "",
        bench_dispatch.subscriber_overhead(),
        "",
    ]
    text = "\n".join(header + body)
    Path(__file__).with_name("RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
