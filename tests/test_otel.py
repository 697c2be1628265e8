"""OpenTelemetry: a span per attempt and the metrics, checked from the SDK's in-memory exporters.

The SDK's providers are process-wide, so one tracer provider and one meter provider are
installed for this module, and the exporters are cleared before each test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

otel_trace = pytest.importorskip("opentelemetry.trace")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry import metrics  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode  # noqa: E402

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SPANS = InMemorySpanExporter()
READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def _providers() -> None:
    """Install the SDK's providers (once per process: OpenTelemetry allows no second)."""
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    otel_trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))


@pytest.fixture(autouse=True)
def _clear() -> None:
    SPANS.clear()


TRACER = otel_trace.get_tracer("tests")


async def work(label: str) -> None:
    with TRACER.start_as_current_span(f"inside {label}"):
        pass


async def fail(label: str) -> None:
    raise ValueError(f"bad {label}")


def spans(name: str) -> list[Any]:
    return [span for span in SPANS.get_finished_spans() if span.name == name]


Points = dict[tuple[tuple[str, Any], ...], Any]


def collect() -> dict[str, Points]:
    """One collection by the reader: each metric's data points, by their attributes (sorted).

    (One collection for all of them: some SDK releases hand a histogram's points to the
    first collection only.)
    """
    found: dict[str, Points] = {}
    data = READER.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for m in scope.metrics:
                points = found.setdefault(m.name, {})
                for point in m.data.data_points:
                    points[tuple(sorted((point.attributes or {}).items()))] = point
    return found


async def test_each_attempt_is_a_span_linked_to_where_the_job_was_added(
    autojump_clock: Any,
) -> None:
    wall = MockWallClock(START)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, otel=True) as s:
        with TRACER.start_as_current_span("request") as request:
            job = await s.add_job(tk.Cron("*/5 * * * *"), work, "cron", key="five", name="five")
        await trio.sleep(5 * 60 + 1)
        with TRACER.start_as_current_span("api call") as api:
            await s.trigger_job(job)
        await trio.sleep(1)
    first, triggered = spans("five")
    assert first.kind is otel_trace.SpanKind.INTERNAL
    attributes = dict(first.attributes)
    assert attributes["faas.trigger"] == "timer"
    assert attributes["faas.cron"] == "*/5 * * * *"
    assert attributes["faas.time"] == "2026-01-05T12:05:00+00:00"
    assert attributes["turnkeeper.job.key"] == "five"
    assert attributes["turnkeeper.occurrence_id"].startswith("five@")
    assert attributes["turnkeeper.attempt"] == 1
    assert attributes["turnkeeper.outcome"] == "succeeded"
    assert first.status.status_code is StatusCode.UNSET
    assert [link.context for link in first.links] == [request.get_span_context()]
    # A trigger links to the span that asked for it too.
    assert [link.context for link in triggered.links] == [
        request.get_span_context(),
        api.get_span_context(),
    ]
    # The attempt's span is current while the job runs: the job's own spans are children.
    (inside, _) = spans("inside cron")
    assert inside.parent is not None
    assert inside.parent.span_id == first.context.span_id


async def test_a_failed_attempt_has_an_error_status_and_an_exception_event(
    autojump_clock: Any,
) -> None:
    async with tk.open_scheduler(max_workers=1, otel=True) as s:
        job = await s.add_job(tk.Never(), fail, "x", name="failing")
        await s.trigger_job(job)
        await trio.sleep(1)
    (span,) = spans("failing")
    assert span.status.status_code is StatusCode.ERROR
    assert "ValueError: bad x" in (span.status.description or "")
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "ValueError"
    assert span.attributes["turnkeeper.outcome"] == "errored"


async def test_metrics_count_runs_by_outcome_and_skipped_occurrences_by_reason(
    autojump_clock: Any,
) -> None:
    wall = MockWallClock(START)
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, otel=True) as s:
        ok = await s.add_job(tk.Never(), work, "m", name="metrics-ok")
        bad = await s.add_job(tk.Never(), fail, "m", name="metrics-bad")
        for job in (ok, ok, bad):
            await s.trigger_job(job)
            await trio.sleep(1)
        await s.add_job(tk.Interval(1), work, "late", name="metrics-late")
        await trio.sleep(0.5)
        wall.jump(10)  # a forward jump: the missed occurrences are coalesced and counted
        await trio.sleep(2)
        collected = collect()
    runs = collected["turnkeeper.runs"]
    skipped = collected["turnkeeper.occurrences.skipped"]
    gauges = collected["turnkeeper.workers.active"]
    durations = collected["turnkeeper.run.duration"]
    assert runs[(("job", "metrics-ok"), ("outcome", "succeeded"))].value == 2
    assert runs[(("job", "metrics-bad"), ("outcome", "errored"))].value == 1
    assert skipped[(("job", "metrics-late"), ("reason", "misfire"))].value >= 8
    assert gauges  # the gauges are observed when the reader collects
    assert durations[(("job", "metrics-ok"), ("outcome", "succeeded"))].count == 2


async def test_nothing_is_traced_unless_asked(autojump_clock: Any) -> None:
    async with tk.open_scheduler(max_workers=1) as s:
        job = await s.add_job(tk.Never(), work, "off", name="untraced")
        await s.trigger_job(job)
        await trio.sleep(1)
    assert spans("untraced") == []
    assert len(spans("inside off")) == 1  # the job's own span, with no attempt span around it
    with pytest.raises(TypeError, match="otel"):
        tk.Scheduler(max_workers=1, otel="yes")  # type: ignore[arg-type]
