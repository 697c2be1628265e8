"""The Prometheus collector: exposition text parsed back, and the example service."""

from __future__ import annotations

import trio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import turnkeeper_trio as tk
from examples import prometheus_service
from turnkeeper_trio.prometheus import SchedulerCollector
from turnkeeper_trio.testing import MockWallClock

from .conftest import START, Recorder


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_exposition_of_two_schedulers(autojump_clock: object) -> None:
    wall = MockWallClock(START)
    async with (
        tk.open_scheduler(max_workers=2, wall_clock=wall) as a,
        tk.open_scheduler(max_workers=3, wall_clock=wall) as b,
    ):
        await a.add_job(tk.Interval(1), Recorder(wall, [False, True, True]))
        await b.add_job(tk.Never(), Recorder(wall))
        await trio.sleep(3.5)
        registry = CollectorRegistry()
        registry.register(SchedulerCollector({"a": a, "b": b}))
        samples = _samples(generate_latest(registry).decode())

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("turnkeeper_jobs_submitted_total", scheduler="a") == 1
    assert value("turnkeeper_runs_started_total", scheduler="a") == 3
    assert value("turnkeeper_runs_finished_total", scheduler="a", outcome="failed") == 1
    assert value("turnkeeper_runs_finished_total", scheduler="a", outcome="succeeded") == 2
    assert value("turnkeeper_runs_finished_total", scheduler="b", outcome="succeeded") == 0
    assert value("turnkeeper_workers_max", scheduler="a") == 2
    assert value("turnkeeper_workers_max", scheduler="b") == 3
    assert value("turnkeeper_jobs_scheduled", scheduler="b") == 1
    # Histogram: cumulative buckets ending in +Inf, with count and sum.
    assert value("turnkeeper_dispatch_lateness_seconds_count", scheduler="a") == 3
    assert value("turnkeeper_dispatch_lateness_seconds_bucket", scheduler="a", le="+Inf") == 3
    assert value("turnkeeper_dispatch_lateness_seconds_bucket", scheduler="a", le="0.001") == 3
    assert value("turnkeeper_run_duration_seconds_sum", scheduler="a") == 0.0


async def test_the_example_service_serves_metrics_on_localhost() -> None:
    async with trio.open_nursery() as nursery:
        port = await nursery.start(prometheus_service.main, 0)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            response = b""
            while chunk := await stream.receive_some(65536):
                response += chunk
        nursery.cancel_scope.cancel()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    samples = _samples(body.decode())
    assert samples[("turnkeeper_workers_max", (("scheduler", "main"),))] == 2
