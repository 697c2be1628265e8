"""Misfire policies: what happens to occurrences whose time passed while they could not run.

An occurrence is *late* when it reaches the front of the queue after its due instant: the
workers were all busy, the event loop was blocked, the machine was suspended, or the wall
clock jumped forward.  Every cause goes through the same policy, applied by the coordinator
when the occurrence is taken off the queue, and again by the worker when a run that waited
for a free worker finally starts (``grace`` only).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from datetime import UTC, datetime

import attrs

from ._boundary import BadStrategyValue, checked_fire
from ._schedule import Schedule
from ._validation import check_int, check_optional_seconds

__all__ = ["CatchUp", "Coalesce", "MisfireDecision", "MisfirePolicy", "checked_decision"]

#: Missed occurrences are counted one by one up to this many; past it (a 1-second cron after
#: a month of suspend) the count is a lower bound, flagged as such (``counted_exactly``).  A
#: schedule that can count cheaply (``Interval``) is always counted exactly.
MAX_COUNTED = 1_000

#: The instant search below resolves to a microsecond, datetime's resolution.
_RESOLUTION = 1e-6


@attrs.frozen
class MisfireDecision:
    """What to do with a late occurrence.

    Attributes:
        run_for: the occurrence instant to run now, or ``None`` to run nothing now.
        skipped: how many occurrences are dropped (counted in ``misfires``).
        next_due: when nothing runs, the next occurrence to queue (``None``: the schedule
            has no more).
        counted_exactly: ``False`` when *skipped* is a lower bound (more than
            ``MAX_COUNTED`` occurrences were missed and the schedule cannot count them).

    Example:
        ```python
        MisfireDecision(run_for=due, skipped=0)          # run the late occurrence now
        MisfireDecision(None, skipped=1, next_due=later)  # skip it, wait for `later`
        ```
    """

    run_for: datetime | None
    skipped: int
    next_due: datetime | None = None
    counted_exactly: bool = True


def _grace(value: object) -> float | None:
    return check_optional_seconds("grace", value, allow_zero=True)


class MisfirePolicy(ABC):
    """Decides which late occurrences run. See ``Coalesce`` and ``CatchUp``.

    Example:
        ```python
        @attrs.frozen
        class SkipLate(tk.abc.MisfirePolicy):
            grace: float | None = None
            def decide(self, schedule, due, now):
                return MisfireDecision(None, 1, schedule.next_after(now))
        ```
    """

    __slots__ = ()

    #: Occurrences later than this many seconds are skipped; ``None`` (the default for a
    #: policy that does not set it): no limit.
    grace: float | None = None

    @abstractmethod
    def decide(self, schedule: Schedule, due: datetime, now: datetime) -> MisfireDecision:
        """Choose what runs when the occurrence *due* is taken off the queue at *now* (later)."""

    def _too_late(self, due: datetime, now: datetime) -> bool:
        return self.grace is not None and (now - due).total_seconds() > self.grace


def _next(schedule: Schedule, after: datetime) -> datetime | None:
    return checked_fire(schedule.next_after(after), after, "schedule.next_after")


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _latest(schedule: Schedule, due: datetime, now: datetime) -> datetime:
    """The most recent occurrence at or before *now*; *due* is one, and is not after *now*.

    A bisection on the instant ``x`` for "the first occurrence after ``x`` is not after
    *now*": about 40 ``next_after`` calls for any outage, instead of one per occurrence.
    """
    now_ts = now.timestamp()
    following = _next(schedule, due)
    if following is None or following.timestamp() > now_ts:
        return due
    lo, hi = following.timestamp(), now_ts  # an occurrence at lo; none after now
    best = following
    while hi - lo > _RESOLUTION:
        mid = lo + (hi - lo) / 2
        candidate = _next(schedule, _at(mid))
        if candidate is not None and candidate.timestamp() <= now_ts:
            lo, best = max(mid, candidate.timestamp()), candidate
        else:
            hi = mid
    return best


def _count(schedule: Schedule, after: datetime, until: datetime, limit: int) -> tuple[int, bool]:
    """Occurrences in ``(after, until]``: ``(count, exact)``, stepping at most *limit* times."""
    counted = schedule.count_between(after, until)
    if counted is not None:
        return counted, True
    steps, current, until_ts = 0, after, until.timestamp()
    while steps < limit:
        following = _next(schedule, current)
        if following is None or following.timestamp() > until_ts:
            return steps, True
        current, steps = following, steps + 1
    return steps, False


def _newest(schedule: Schedule, due: datetime, latest: datetime, count: int) -> datetime:
    """The oldest of the *count* newest occurrences up to *latest* (all after *due*).

    Gallops back from *latest* until a window holds *count* occurrences, then walks it.
    """
    width = 1.0
    start = latest
    while True:
        start = max(_at(latest.timestamp() - width), due)
        found, _ = _count(schedule, start, latest, count)
        if found >= count or start == due:
            break
        width *= 2
    window: deque[datetime] = deque(maxlen=count)
    current = _next(schedule, start)
    while current is not None and current.timestamp() <= latest.timestamp():
        window.append(current)
        current = _next(schedule, current)
    return window[0]


@attrs.frozen
class Coalesce(MisfirePolicy):
    """The default: any number of missed occurrences become **one** late run.

    The run is for the most recent missed occurrence; the earlier ones are counted as
    misfires.  With *grace* (seconds or ``timedelta``), an occurrence more than *grace* late
    is skipped as well, and the job waits for its next regular time.

    Example:
        ```python
        Coalesce()             # after a 3-hour suspend, an hourly job runs once
        Coalesce(grace=60)     # ... or not at all if it is more than a minute late
        ```
    """

    grace: float | None = attrs.field(default=None, converter=_grace)

    def decide(self, schedule: Schedule, due: datetime, now: datetime) -> MisfireDecision:
        """Coalesce the occurrences from *due* to *now* into one run (or none, past grace)."""
        following = _next(schedule, due)
        if following is None or following.timestamp() > now.timestamp():
            # The common case, late by moments: nothing else was missed.
            if self._too_late(due, now):
                return MisfireDecision(None, 1, following)
            return MisfireDecision(due, 0)
        latest = _latest(schedule, due, now)
        skipped, exact = _count(schedule, due, latest, MAX_COUNTED)
        if self._too_late(latest, now):
            return MisfireDecision(None, skipped + 1, _next(schedule, latest), exact)
        return MisfireDecision(latest, skipped, counted_exactly=exact)


def _limit(value: object) -> int:
    return check_int("limit", value, minimum=1)


@attrs.frozen
class CatchUp(MisfirePolicy):
    """Replay each missed occurrence, one after the other, oldest first, up to *limit*.

    When more than *limit* occurrences were missed, the oldest ones are skipped (counted as
    misfires) and the newest *limit* run.  With *grace*, occurrences more than *grace* late
    are skipped too.

    Example:
        ```python
        CatchUp(limit=24)      # a daily report job replays at most 24 missed days
        ```
    """

    limit: int = attrs.field(default=100, converter=_limit)
    grace: float | None = attrs.field(default=None, kw_only=True, converter=_grace)

    def decide(self, schedule: Schedule, due: datetime, now: datetime) -> MisfireDecision:
        """Run the oldest missed occurrence still within *limit* and *grace*."""
        following = _next(schedule, due)
        if following is None or following.timestamp() > now.timestamp():
            latest, later, exact = due, 0, True  # the common case: only *due* was missed
        else:
            latest = _latest(schedule, due, now)
            later, exact = _count(schedule, due, latest, max(MAX_COUNTED, self.limit))
        skipped = max(0, later + 1 - self.limit)
        current: datetime | None = due
        if skipped:  # more than `limit` missed: the newest `limit` run, oldest first
            current = _newest(schedule, due, latest, self.limit)
        now_ts = now.timestamp()
        while current is not None and current.timestamp() <= now_ts:
            if not self._too_late(current, now):
                return MisfireDecision(current, skipped, counted_exactly=exact)
            skipped += 1
            current = _next(schedule, current)
        return MisfireDecision(None, skipped, current, exact)


def checked_decision(value: object, due: datetime) -> MisfireDecision:
    """A misfire decision for the late occurrence *due* (the strategy boundary's check)."""
    where = "misfire policy's decide"
    if not isinstance(value, MisfireDecision):
        shown = f"{type(value).__name__} {value!r}"
        raise BadStrategyValue(f"{where} returned {shown}, not a MisfireDecision")
    if isinstance(value.skipped, bool) or not isinstance(value.skipped, int) or value.skipped < 0:
        raise BadStrategyValue(f"{where}: skipped must be an int >= 0, got {value.skipped!r}")
    checked_fire(value.run_for, None, f"{where} (run_for)")
    if value.run_for is None:
        # Nothing runs now: what is queued next must come after the occurrence it replaces,
        # or the same occurrence would be decided on again and again.
        checked_fire(value.next_due, None, f"{where} (next_due)")
        if value.next_due is not None and value.next_due.timestamp() <= due.timestamp():
            raise BadStrategyValue(
                f"{where} ran nothing and gave a next_due that is not after the late "
                f"occurrence {due.isoformat()}: {value.next_due.isoformat()}"
            )
    return value


def last_skipped(schedule: Schedule, due: datetime, count: int, bound: datetime) -> datetime:
    """The newest of *count* skipped occurrences from *due*, all before or at *bound*.

    Used to record a skipped range; a schedule that raises here gets *due* (the range's
    first occurrence) rather than failing the job over a record.
    """
    if count <= 1 or bound <= due:
        return due
    try:
        return _latest(schedule, due, bound)
    except Exception:
        return due
