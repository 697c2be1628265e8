"""Schedule math: ``next_after`` for common expressions, side by side with croniter.

Run with ``nox -s bench`` (or ``python -m benchmarks.bench_schedules``).  The baseline is
croniter's own ``get_next`` on the same expression and start instant, in the same process.
"""

from __future__ import annotations

import platform
import timeit
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from croniter import croniter

import turnkeeper_trio as tk

PARIS = ZoneInfo("Europe/Paris")
NY = ZoneInfo("America/New_York")
START = datetime(2026, 3, 27, 17, 3, 12, tzinfo=UTC)

CRONS = [
    ("*/5 * * * *", UTC),
    ("0 9 * * MON-FRI", PARIS),
    ("30 2 * * *", NY),
    ("0 0 1 * *", UTC),
    ("0 12 * * MON#1", PARIS),
    ("15 10 L * *", NY),
]


def _per_call(fn: object, number: int = 2000) -> float:
    timer = timeit.Timer(fn)  # type: ignore[arg-type]
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def rows() -> list[tuple[str, float, float | None]]:
    """(schedule, turnkeeper µs per next_after, croniter µs per get_next or None)."""
    out: list[tuple[str, float, float | None]] = []
    for expr, tz in CRONS:
        schedule = tk.Cron(expr, tz=tz)
        ours = _per_call(lambda s=schedule: s.next_after(START))
        local = START.astimezone(tz)
        iterator = croniter(expr, local)  # parsed once, like ours

        def get_next(it: croniter = iterator, t: datetime = local) -> datetime:
            return it.get_next(datetime, start_time=t)

        theirs = _per_call(get_next)
        out.append((f"Cron({expr!r}, {tz})", ours, theirs))
    weekday = tk.WeekdayTimes([("mon", time(9)), ("wed", time(9)), ("fri", time(17, 30))], tz=PARIS)
    out.append(
        ("WeekdayTimes(3 times, Europe/Paris)", _per_call(lambda: weekday.next_after(START)), None)
    )
    interval = tk.Interval(300, start=START)
    out.append(("Interval(300 s)", _per_call(lambda: interval.next_after(START)), None))
    rrule = tk.RRule("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18", tz=PARIS)
    out.append(
        ("RRule(last Friday 18:00, Europe/Paris)", _per_call(lambda: rrule.next_after(START)), None)
    )
    workdays = tk.Cron("0 9 * * *", tz=PARIS).excluding(
        tk.Weekdays("sat", "sun") | tk.Holidays("FR")
    )
    out.append(
        (
            "Cron(09:00) excluding weekends and FR holidays",
            _per_call(lambda: workdays.next_after(START)),
            None,
        )
    )
    union = tk.Cron("0 9 * * MON-FRI", tz=PARIS) | tk.Cron("0 12 * * SAT", tz=PARIS)
    out.append(("Cron | Cron", _per_call(lambda: union.next_after(START)), None))
    return out


def report(measured: list[tuple[str, float, float | None]] | None = None) -> str:
    """The table of *measured* rows (measured now if not given)."""
    lines = [
        "### `next_after` (µs per call, best of 5; lower is better; target ≤ 100 µs)",
        "",
        f"Python {platform.python_version()} on {platform.machine()}",
        "",
        "| schedule | turnkeeper_trio | croniter `get_next` (baseline) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for name, ours, theirs in measured if measured is not None else rows():
        base = f"{theirs:.1f}" if theirs is not None else "n/a"
        ratio = f"{theirs / ours:.1f}x faster" if theirs is not None else ""
        lines.append(f"| `{name}` | {ours:.1f} | {base} | {ratio} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
