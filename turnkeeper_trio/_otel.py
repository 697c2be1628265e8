"""OpenTelemetry: a span per attempt and the scheduler's metrics, through the API only.

Turned on by ``open_scheduler(..., otel=True)`` (the ``otel`` extra: ``opentelemetry-api``).
Like every instrumented library, it only talks to the OpenTelemetry *API*: nothing is
exported until the application installs and configures an SDK (a tracer and a meter
provider).  Off (the default), no code of this module runs: the hot path checks one
attribute.

What is recorded:

* a span per attempt, named after the job, of kind ``INTERNAL``, following the semantic
  conventions of a FaaS timer trigger where they apply (``faas.trigger = "timer"``,
  ``faas.cron`` for a cron schedule, ``faas.time`` the occurrence's instant), with
  ``turnkeeper.job.key``, ``turnkeeper.job.name``, ``turnkeeper.occurrence_id``,
  ``turnkeeper.attempt``, ``turnkeeper.lateness_s`` and ``turnkeeper.outcome``.  It is the
  current span while the job runs (the job's own spans are its children); an error sets
  its status to ``ERROR`` with an exception event; it links to the span that was current
  when the job was added (``add_job``) or triggered (``trigger_job``);
* metrics through the meter ``turnkeeper_trio``: ``turnkeeper.runs`` (counter, by
  ``outcome``), ``turnkeeper.run.duration`` and ``turnkeeper.run.lateness`` (histograms,
  seconds), ``turnkeeper.occurrences.skipped`` (counter, by ``reason``), and the gauges
  ``turnkeeper.jobs.scheduled``, ``turnkeeper.staging.buffered`` and
  ``turnkeeper.workers.active``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import Token
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._exceptions import InvalidArgument

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, SpanContext

    from ._job import Job, Run
    from ._metrics import MetricsSnapshot
    from ._models import ErrorInfo, Outcome

__all__ = ["Telemetry", "current_link"]

_NAME = "turnkeeper_trio"


def _version() -> str:
    try:
        return version("turnkeeper-trio")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


def current_link() -> SpanContext | None:
    """The span context current in the calling task, if it is a valid one (to link to)."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return context if context.is_valid else None


class Telemetry:
    """The scheduler's tracer and instruments (internal; made when ``otel=True``)."""

    def __init__(self, snapshot: Callable[[], MetricsSnapshot]) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:
            raise InvalidArgument(
                "otel=True needs the OpenTelemetry API: install the 'otel' extra (pip install "
                "-e '.[otel]' in a clone of turnkeeper_trio), or pip install opentelemetry-api"
            ) from exc
        self._trace = trace
        self.tracer = trace.get_tracer(_NAME, _version())
        meter = metrics.get_meter(_NAME, _version())
        self.runs = meter.create_counter(
            "turnkeeper.runs", unit="{run}", description="Attempts that ended, by outcome."
        )
        self.duration = meter.create_histogram(
            "turnkeeper.run.duration", unit="s", description="Seconds an attempt ran."
        )
        self.lateness = meter.create_histogram(
            "turnkeeper.run.lateness",
            unit="s",
            description="Seconds from an occurrence's (jittered) start to its attempt's start.",
        )
        self.skipped = meter.create_counter(
            "turnkeeper.occurrences.skipped",
            unit="{occurrence}",
            description="Occurrences that did not run, by reason.",
        )
        self._snapshot = snapshot
        for name, field, description in (
            ("turnkeeper.jobs.scheduled", "jobs_scheduled", "Live jobs taken in."),
            ("turnkeeper.staging.buffered", "staging_buffered", "Jobs in the staging buffer."),
            ("turnkeeper.workers.active", "workers_active", "Workers running an attempt."),
        ):
            meter.create_observable_gauge(
                name, callbacks=[self._gauge(field)], description=description
            )

    def _gauge(self, field: str) -> Callable[[Any], Iterable[Any]]:
        from opentelemetry.metrics import Observation

        def observe(options: Any) -> Iterable[Any]:
            yield Observation(getattr(self._snapshot(), field))

        return observe

    # ------------------------------------------------------------------ spans

    def start(self, run: Run, started_at: float) -> tuple[Span, Token[Context]]:
        """Open *run*'s span and make it current in the worker's task (until ``stop``)."""
        from opentelemetry import context, trace
        from opentelemetry.trace import Link, SpanContext, SpanKind

        job = run.job
        scheduled = run.scheduled_for.timestamp()
        attributes: dict[str, Any] = {
            "faas.trigger": "timer",
            "faas.time": run.scheduled_for.isoformat(),
            "turnkeeper.job.key": job.id.key or str(job.id),
            "turnkeeper.job.name": job.name,
            "turnkeeper.occurrence_id": run.context().occurrence_id,
            "turnkeeper.attempt": run.attempt,
            "turnkeeper.run.kind": run.kind.value,
            "turnkeeper.lateness_s": max(started_at - scheduled - run.offset, 0.0),
        }
        self.lateness.record(attributes["turnkeeper.lateness_s"], {"job": job.name})
        expr = getattr(job.schedule, "expr", None)
        if isinstance(expr, str):
            attributes["faas.cron"] = expr
        links = [Link(origin) for origin in job.links if isinstance(origin, SpanContext)]
        span = self.tracer.start_span(
            job.name, kind=SpanKind.INTERNAL, attributes=attributes, links=links
        )
        token = context.attach(trace.set_span_in_context(span))
        return span, token

    def stop(
        self,
        run: Run,
        handle: tuple[Span, Token[Context]],
        outcome: Outcome,
        error: ErrorInfo | None,
        exc: BaseException | None,
        duration: float,
    ) -> None:
        """Close *run*'s span with its *outcome*, and count the attempt."""
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        span, token = handle
        context.detach(token)
        span.set_attribute("turnkeeper.outcome", outcome.value)
        if error is not None:
            if exc is not None:
                span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{error.type}: {error.message}"))
        elif outcome.value != "succeeded":
            span.set_status(Status(StatusCode.ERROR, outcome.value))
        span.end()
        attributes = {"outcome": outcome.value, "job": run.job.name}
        self.runs.add(1, attributes)
        self.duration.record(duration, attributes)

    def occurrences_skipped(self, job: Job, reason: str, count: int) -> None:
        """*count* occurrences of *job* did not run, for *reason*."""
        self.skipped.add(count, {"reason": reason, "job": job.name})
