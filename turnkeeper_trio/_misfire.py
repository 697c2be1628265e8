"""Misfire policies: what happens to occurrences whose time passed while they could not run.

An occurrence is *late* when it reaches the front of the queue after its due instant: the
workers were all busy, the event loop was blocked, the machine was suspended, or the wall
clock jumped forward.  Every cause goes through the same policy, applied by the coordinator
when the occurrence is taken off the queue, and again by the worker when a run that waited
for a free worker finally starts (``grace`` only).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

import attrs

from ._boundary import checked_fire
from ._schedule import Schedule
from ._validation import check_int, check_optional_seconds

__all__ = ["CatchUp", "Coalesce", "MisfireDecision", "MisfirePolicy"]

#: However long the outage, counting missed occurrences stops here (a 1-second cron after
#: a month of suspend would take seconds to count).  The count saturates; nothing runs twice.
MAX_COUNTED = 100_000


@attrs.frozen
class MisfireDecision:
    """What to do with a late occurrence.

    Attributes:
        run_for: the occurrence instant to run now, or ``None`` to run nothing now.
        skipped: how many occurrences are dropped (counted in ``misfires``).
        next_due: when nothing runs, the next occurrence to queue (``None``: the schedule
            has no more).

    Example::

        MisfireDecision(run_for=due, skipped=0)          # run the late occurrence now
        MisfireDecision(None, skipped=1, next_due=later)  # skip it, wait for `later`
    """

    run_for: datetime | None
    skipped: int
    next_due: datetime | None = None


def _grace(value: object) -> float | None:
    return check_optional_seconds("grace", value, allow_zero=True)


class MisfirePolicy(ABC):
    """Decides which late occurrences run. See :class:`Coalesce` and :class:`CatchUp`.

    Example::

        @attrs.frozen
        class SkipLate(tk.abc.MisfirePolicy):
            grace: float | None = None
            def decide(self, schedule, due, now):
                return MisfireDecision(None, 1, schedule.next_after(now))
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


def _advance(schedule: Schedule, due: datetime, now: datetime, limit: int) -> tuple[datetime, int]:
    """Step from *due* through occurrences at or before *now*, at most *limit* steps.

    Returns the occurrence reached and the number of steps taken.
    """
    steps = 0
    latest = due
    now_ts = now.timestamp()
    while steps < limit:
        following = checked_fire(schedule.next_after(latest), latest, "schedule.next_after")
        if following is None or following.timestamp() > now_ts:
            break
        latest = following
        steps += 1
    return latest, steps


@attrs.frozen
class Coalesce(MisfirePolicy):
    """The default: any number of missed occurrences become **one** late run.

    The run is for the most recent missed occurrence; the earlier ones are counted as
    misfires.  With *grace* (seconds or ``timedelta``), an occurrence more than *grace* late
    is skipped as well, and the job waits for its next regular time.

    Example::

        Coalesce()             # after a 3-hour suspend, an hourly job runs once
        Coalesce(grace=60)     # ... or not at all if it is more than a minute late
    """

    grace: float | None = attrs.field(default=None, converter=_grace)

    def decide(self, schedule: Schedule, due: datetime, now: datetime) -> MisfireDecision:
        """Coalesce the occurrences from *due* to *now* into one run (or none, past grace)."""
        latest, skipped = _advance(schedule, due, now, MAX_COUNTED)
        if skipped == MAX_COUNTED:  # saturated: do not count further, resume from now
            latest = now
        if self._too_late(latest, now):
            return MisfireDecision(None, skipped + 1, schedule.next_after(latest))
        return MisfireDecision(latest, skipped)


def _limit(value: object) -> int:
    return check_int("limit", value, minimum=1)


@attrs.frozen
class CatchUp(MisfirePolicy):
    """Replay each missed occurrence, one after the other, oldest first, up to *limit*.

    When more than *limit* occurrences were missed, the oldest ones are skipped (counted as
    misfires) and the newest *limit* run.  With *grace*, occurrences more than *grace* late
    are skipped too.

    Example::

        CatchUp(limit=24)      # a daily report job replays at most 24 missed days
    """

    limit: int = attrs.field(default=100, converter=_limit)
    grace: float | None = attrs.field(default=None, kw_only=True, converter=_grace)

    def decide(self, schedule: Schedule, due: datetime, now: datetime) -> MisfireDecision:
        """Run the oldest missed occurrence still within *limit* and *grace*."""
        _, later = _advance(schedule, due, now, MAX_COUNTED)
        skipped = max(0, later + 1 - self.limit)
        current: datetime | None = _advance(schedule, due, now, skipped)[0] if skipped else due
        now_ts = now.timestamp()
        while current is not None and current.timestamp() <= now_ts:
            if not self._too_late(current, now):
                return MisfireDecision(current, skipped)
            skipped += 1
            current = schedule.next_after(current)
        return MisfireDecision(None, skipped, current)
