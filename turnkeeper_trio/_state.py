"""A job's lifecycle as one explicit value.

``Status`` says everything the scheduler knows about where a job is: its phase (active,
paused or final), the regular occurrence it waits for, a retry of an occurrence, a trigger
asked for, and the attempt it has taken (handed to the dispatch buffer, waiting for a worker,
or running).  It is immutable: the planner (``_planner.py``) computes a new one for every
command, report and wake-up, and the coordinator installs it in one place, deriving from it
the queue entries, the visible ``JobState`` and the gauges.  So the rules (no overlap,
lifetimes, pause drops retries, updates apply from the next attempt) are decided once, by
the transition, never by the order in which loose flags happen to be written.
"""

from __future__ import annotations

import enum
import math
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

import attrs

from ._models import JobState

if TYPE_CHECKING:
    from ._job import Run

__all__ = ["Phase", "Retry", "Status"]


class Phase(enum.Enum):
    """Whether a job may run: active, paused, or one of the final phases."""

    # Members are singletons compared by identity: hash them by identity too, as cheap as
    # it gets (``Enum`` hashes the member's name in Python, and these key hot dicts).
    __hash__ = object.__hash__

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"

    #: Whether the job will never run again (a plain attribute: read on every command).
    is_final: bool


for _phase in Phase:
    _phase.is_final = _phase in (Phase.COMPLETED, Phase.CANCELLED, Phase.FAILED)
del _phase
_JOB_STATE = {
    Phase.PAUSED: JobState.PAUSED,
    Phase.COMPLETED: JobState.COMPLETED,
    Phase.CANCELLED: JobState.CANCELLED,
    Phase.FAILED: JobState.FAILED,
}


@attrs.frozen(slots=True)
class Retry:
    """A further attempt of occurrence *occurrence*, due at Trio time *at*.

    *wall* is the same instant on the wall clock, computed once when the retry is planned:
    what queries show as ``next_run_at``, the same every time (the retry itself waits on
    Trio's clock, unaffected by wall-clock jumps).
    """

    occurrence: datetime
    attempt: int
    #: The occurrence came from ``trigger_job``.
    triggered: bool
    at: float
    wall: datetime | None = None


class Status(NamedTuple):
    """Where a job is in its life (internal; see the module docstring).

    A named tuple rather than a frozen attrs class: a transition makes a few of them per
    run, and ``_replace`` costs a quarter of ``attrs.evolve``.
    """

    phase: Phase = Phase.ACTIVE
    #: The next regular occurrence: queued when the job is free, kept while it is busy.
    due: datetime | None = None
    #: A retry of the current occurrence (relative, so on Trio's clock).
    retry: Retry | None = None
    #: A trigger asked for at this Trio time and not yet run (it waits for a free job).
    trigger: float | None = None
    #: The attempt taken, from dispatch until its report (at most one: no overlap).
    run: Run | None = None
    #: Whether a worker has started ``run``.
    started: bool = False
    #: Timestamp of the latest regular occurrence started: nothing fires at or before it.
    fired: float = -math.inf
    #: The schedule has planned an occurrence (so "no next occurrence" means completed).
    planned: bool = False

    @property
    def job_state(self) -> JobState:
        """The state users see."""
        if self.phase is Phase.ACTIVE:
            return JobState.RUNNING if self.started else JobState.SCHEDULED
        return _JOB_STATE[self.phase]

    @property
    def soon_at(self) -> float | None:
        """The Trio deadline of the retry or trigger the dispatcher should wake for, if any.

        (``Coordinator.install`` derives this, and the queue entry, inline on its hot path:
        only an active job that is free waits in the queue or the heap.)
        """
        if self.run is not None or self.phase is not Phase.ACTIVE:
            return None
        if self.retry is not None:
            return self.retry.at
        return self.trigger

    @property
    def attempt(self) -> int:
        """The attempt in progress or planned next (1 for a new occurrence)."""
        if self.run is not None:
            return self.run.attempt
        return self.retry.attempt if self.retry is not None else 1
