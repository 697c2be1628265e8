"""What the dashboard's pages show, as plain values for the templates (no HTML here).

Everything a page shows is computed here from the scheduler's public queries; the templates
only lay it out (and Jinja escapes every value).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

import attrs

from .._boundary import checked_allows
from .._cron import Cron
from .._metrics import Aggregate, MetricsSnapshot
from .._models import JobDetails, JobState, JobSummary, RunRecord
from .._preview import Fire as PreviewFire
from .._preview import describe_cron, preview_fires
from .._schedule import Schedule
from .._simple_schedules import Interval, Never, Once
from .._weekday import WeekdayTimes

__all__ = [
    "SORTS",
    "Chart",
    "JobFires",
    "JobRow",
    "Moment",
    "Page",
    "chart",
    "job_fires",
    "job_row",
    "moment",
    "page_of",
    "schedule_text",
]

#: Sort orders of the jobs page: query value -> what it sorts by.
SORTS = ("next", "name", "state", "key")
_LAST = datetime.max.replace(tzinfo=UTC)


@attrs.frozen
class Moment:
    """An instant as the pages show it: UTC text, the job's zone, and ISO for the browser."""

    iso: str
    utc: str
    local: str | None
    zone: str | None


def _zone_name(tz: tzinfo | None) -> str | None:
    if tz is None:
        return None
    return str(getattr(tz, "key", None) or tz.tzname(None) or tz)


def zone_of(schedule: Schedule) -> tzinfo | None:
    """The zone a schedule's wall times are in, if it has one (``Cron``, ``WeekdayTimes``)."""
    tz = getattr(schedule, "tz", None)
    return tz if isinstance(tz, tzinfo) else None


def moment(at: datetime | None, tz: tzinfo | None = None) -> Moment | None:
    """*at* for display; in *tz* too when it is not UTC."""
    if at is None:
        return None
    utc = at.astimezone(UTC)
    local = None
    zone = _zone_name(tz)
    if tz is not None and zone not in ("UTC", "Etc/UTC"):
        local = f"{at.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}"
    return Moment(utc.isoformat(), f"{utc:%Y-%m-%d %H:%M:%S} UTC", local, zone)


def _seconds(value: timedelta) -> str:
    total = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if total >= size and total % size == 0:
            return f"{int(total // size)} {unit}"
    return f"{total:g} s"


def schedule_text(schedule: Schedule) -> str:
    """A short text for a schedule: ``cron 0 2 * * *``, ``every 10 s``, ``manual only``."""
    if isinstance(schedule, Cron):
        return f"cron {schedule.expr}"
    if isinstance(schedule, Interval):
        return f"every {_seconds(schedule.every)}"  # the anchor is on the job's page
    if isinstance(schedule, Once):
        return f"once at {schedule.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if isinstance(schedule, Never):
        return "manual only (trigger)"
    if isinstance(schedule, WeekdayTimes):
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        shown = [f"{days[day]} {at:%H:%M}" for day, at in schedule.times[:6]]
        more = f" (+{len(schedule.times) - 6} more)" if len(schedule.times) > 6 else ""
        return ", ".join(shown) + more
    return repr(schedule)


def describe(schedule: Schedule) -> str | None:
    """A sentence for a cron schedule, where the ``describe`` extra is installed."""
    return describe_cron(schedule.expr) if isinstance(schedule, Cron) else None


@attrs.frozen
class JobRow:
    """One row of the jobs page."""

    key: str
    id: str
    name: str
    schedule: str
    description: str | None
    state: str
    next_run: Moment | None
    last_outcome: str | None
    last_duration: float | None


def job_row(details: JobDetails) -> JobRow:
    """The jobs page's row for one job."""
    last: RunRecord | None = details.last_runs[-1] if details.last_runs else None
    return JobRow(
        key=details.id.key,
        id=str(details.id),
        name=details.name,
        schedule=schedule_text(details.schedule),
        description=describe(details.schedule),
        state=details.state.value,
        next_run=moment(details.next_run_at, zone_of(details.schedule)),
        last_outcome=None if last is None else last.outcome.value,
        last_duration=None if last is None else last.duration,
    )


@attrs.frozen
class Page:
    """One page of a filtered, sorted list of jobs."""

    items: tuple[JobSummary, ...]
    number: int
    pages: int
    total: int


def page_of(
    summaries: Iterable[JobSummary],
    *,
    state: JobState | None,
    name: str,
    sort: str,
    descending: bool,
    number: int,
    size: int,
) -> Page:
    """Filter by state and by a case-insensitive name fragment, sort, and cut one page."""
    needle = name.casefold()
    chosen = [
        s
        for s in summaries
        if (state is None or s.state is state) and (not needle or needle in s.name.casefold())
    ]
    if sort == "name":
        chosen.sort(key=lambda s: (s.name.casefold(), s.id.value), reverse=descending)
    elif sort == "state":
        chosen.sort(key=lambda s: (s.state.value, s.id.value), reverse=descending)
    elif sort == "key":
        chosen.sort(key=lambda s: (s.id.key, s.id.value), reverse=descending)
    else:  # next run, jobs with none last
        chosen.sort(key=lambda s: (s.next_run_at or _LAST, s.id.value), reverse=descending)
    pages = max(1, -(-len(chosen) // size))
    number = min(max(number, 1), pages)
    start = (number - 1) * size
    return Page(tuple(chosen[start : start + size]), number, pages, len(chosen))


@attrs.frozen
class Fire:
    """One upcoming fire time with its DST note."""

    at: Moment
    note: str | None


def _shown(schedule: Schedule, fires: Iterable[PreviewFire]) -> tuple[Fire, ...]:
    """*fires* as the pages show them, with the DST notes of the ``next`` command."""
    tz = zone_of(schedule)
    found = []
    for fire in fires:
        shown = moment(fire.at, tz)
        assert shown is not None
        found.append(Fire(shown, fire.note))
    return tuple(found)


@attrs.frozen
class JobFires:
    """A job's next regular runs, as its page lists them."""

    fires: tuple[Fire, ...]
    #: The job's lifetime ends it after the fires listed (it refused the next one).
    lifetime_ends: bool = False


def job_fires(details: JobDetails, after: datetime, count: int = 10) -> JobFires:
    """The job's next *count* regular runs after *after*, as the scheduler would plan them.

    Its schedule's fires that its lifetime lets run, asked as the planner asks it: with the
    occurrences run so far (one running or waiting for a retry counted as over) and one more
    for each fire listed before; the list stops at the first fire the lifetime refuses,
    where the job would complete.  A job that has ended runs no more: none.  A paused job's
    are the fires it would run if it were resumed now.  Raises what a user-defined schedule
    or lifetime raises (or ``BadStrategyValue`` for a lifetime's answer that is no bool).
    """
    if details.state.is_final:
        return JobFires(())
    fires = preview_fires(details.schedule, after, count)
    lifetime = details.lifetime
    runs = details.runs + (details.state is JobState.RUNNING or details.attempt > 1)
    kept: list[PreviewFire] = []
    for fire in fires:
        if not checked_allows(lifetime.allows(runs=runs + len(kept), next_fire=fire.at)):
            return JobFires(_shown(details.schedule, kept), lifetime_ends=True)
        kept.append(fire)
    return JobFires(_shown(details.schedule, kept))


@attrs.frozen
class Bar:
    """One histogram bucket as an SVG bar (coordinates in the chart's viewBox)."""

    label: str
    count: int
    x: float
    y: float
    height: float


@attrs.frozen
class Chart:
    """A histogram as bars, with its summary figures."""

    title: str
    bars: tuple[Bar, ...]
    count: int
    mean: float
    p99: float
    max: float
    width: float
    height: float
    bar_width: float


def _bound(seconds: float) -> str:
    if seconds == float("inf"):
        return "more"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def chart(title: str, aggregate: Aggregate, *, height: float = 120.0) -> Chart:
    """*aggregate*'s histogram as an SVG bar chart (the buckets are not cumulative)."""
    counts = [count for _, count in aggregate.buckets]
    tallest = max(counts) or 1
    step = 46.0
    bars = tuple(
        Bar(
            label=_bound(bound),
            count=count,
            x=index * step + 2,
            y=height - (height * count / tallest),
            height=height * count / tallest,
        )
        for index, (bound, count) in enumerate(aggregate.buckets)
    )
    return Chart(
        title=title,
        bars=bars,
        count=aggregate.count,
        mean=aggregate.mean,
        p99=aggregate.quantile(0.99),
        max=aggregate.max,
        width=step * len(bars),
        height=height,
        bar_width=step - 6,
    )


#: The snapshot's counters and gauges, in the order the metrics page lists them.
COUNTERS: Sequence[str] = (
    "jobs_submitted",
    "runs_started",
    "runs_succeeded",
    "runs_failed",
    "runs_errored",
    "runs_timed_out",
    "runs_cancelled",
    "retries_scheduled",
    "triggers",
    "jobs_cancelled",
    "jobs_completed",
    "jobs_quarantined",
    "misfires",
    "runs_late",
    "clock_jumps",
    "events_dropped",
    "staging_rejected",
    "attempts_fenced",
    "store_writes_refused",
)
GAUGES: Sequence[str] = (
    "jobs_scheduled",
    "jobs_paused",
    "staging_buffered",
    "workers_active",
    "workers_max",
    "queue_stale_entries",
    "jobs_unloadable",
    "jobs_held",
)


def figures(snapshot: MetricsSnapshot, names: Sequence[str]) -> list[tuple[str, int]]:
    """``(name, value)`` for each of *names*."""
    return [(name, int(getattr(snapshot, name))) for name in names]
