"""Lifetime strategies: how long a job lineage lives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

import attrs

from ._validation import check_aware, check_int

__all__ = ["Forever", "Lifetime", "MaxRuns", "Until"]


class Lifetime(ABC):
    """Decides whether a job lineage goes on to its next occurrence.

    The coordinator asks ``allows`` before scheduling each regular occurrence; when it
    answers ``False`` the job is *completed*.  A schedule with no next fire also completes it.

    Example:
        ```python
        @attrs.frozen
        class Weekdays(tk.abc.Lifetime):
            def allows(self, *, runs: int, next_fire: datetime) -> bool:
                return next_fire.weekday() < 5   # the lineage ends at its first weekend run
        ```
    """

    __slots__ = ()

    @abstractmethod
    def allows(self, *, runs: int, next_fire: datetime) -> bool:
        """Return whether the occurrence at *next_fire* may be scheduled.

        Args:
            runs: how many occurrences of the job have run so far (each counts once,
                however many retry attempts it took; manual triggers count too).
            next_fire: the aware instant of the occurrence being considered.
        """


@attrs.frozen
class Forever(Lifetime):
    """The default: the lineage lives until cancelled or until its schedule has no next time.

    Example:
        ```python
        await s.add_job(tk.Cron("0 * * * *"), sync, lifetime=tk.Forever())   # the default
        ```
    """

    def allows(self, *, runs: int, next_fire: datetime) -> bool:
        """Always ``True``."""
        return True


def _positive(_instance: object, _attribute: object, value: int) -> None:
    check_int("n", value, minimum=1)


@attrs.frozen
class MaxRuns(Lifetime):
    """End the lineage after *n* occurrences have run.

    Example:
        ```python
        await s.add_job(Interval(60), poll, lifetime=MaxRuns(10))   # ten polls, then done
        ```
    """

    n: int = attrs.field(validator=_positive)

    def allows(self, *, runs: int, next_fire: datetime) -> bool:
        """``True`` while fewer than *n* occurrences have run."""
        return runs < self.n


def _aware(_instance: object, _attribute: object, value: datetime) -> None:
    check_aware("when", value)


@attrs.frozen
class Until(Lifetime):
    """End the lineage at *when*: no occurrence after that instant is scheduled.

    Example:
        ```python
        await s.add_job(Cron("*/5 * * * *"), watch, lifetime=Until(campaign_end))
        ```
    """

    when: datetime = attrs.field(validator=_aware)

    def allows(self, *, runs: int, next_fire: datetime) -> bool:
        """``True`` for occurrences at or before *when*."""
        return next_fire.timestamp() <= self.when.timestamp()
