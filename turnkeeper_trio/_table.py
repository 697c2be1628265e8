"""The job table: one scheduler's jobs by number, and how long finished ones are kept.

It holds the records and the counts the gauges show (live, paused); which state a job is in
is the coordinator's decision, told to the table through :meth:`JobTable.phase_changed`.
Finished jobs stay queryable until more than ``retention`` have finished or they are older
than ``retention_age`` seconds of Trio time, so memory stays bounded.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator

import attrs
import trio

from ._compat import in_trio_run
from ._exceptions import InvalidArgument
from ._job import Job
from ._models import JobId
from ._state import Phase

__all__ = ["JobTable"]


@attrs.define(eq=False)
class JobTable:
    """The jobs of one scheduler (internal)."""

    owner: object
    retention: int
    retention_age: float
    _jobs: dict[int, Job] = attrs.field(factory=dict)
    #: Finished jobs, oldest first, with the Trio time they finished.
    _finished_order: deque[tuple[int, float]] = attrs.field(factory=deque)
    #: Jobs not yet final, and paused ones among them.
    live: int = 0
    paused: int = 0

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: Job) -> None:
        """Record a job just taken in."""
        self._jobs[job.key] = job
        self.live += 1

    def by_key(self, key: int) -> Job | None:
        """The job with this number, if it is still known."""
        return self._jobs.get(key)

    def get(self, job_id: JobId) -> Job | None:
        """The job *job_id* names, after dropping finished jobs that have aged out."""
        self.forget_finished()
        return self._jobs.get(job_id.value)

    def check_id(self, job_id: object) -> JobId:
        """Refuse anything but a ``JobId`` of this scheduler (or one built by hand)."""
        if not isinstance(job_id, JobId):
            raise TypeError(f"job_id must be a JobId (returned by add_job), got {job_id!r}")
        if job_id.scheduler is not None and job_id.scheduler is not self.owner:
            raise InvalidArgument(
                f"job_id: {job_id} belongs to another scheduler; use it with the scheduler "
                "whose add_job returned it"
            )
        return job_id

    def phase_changed(self, job: Job, old: Phase, new: Phase) -> None:
        """Keep the counts right for a job that went from phase *old* to *new*."""
        if old is Phase.PAUSED:
            self.paused -= 1
        if new is Phase.PAUSED:
            self.paused += 1
        if new.is_final:
            self.live -= 1
            now = trio.current_time()
            self._finished_order.append((job.id.value, now))
            self._sweep(now - self.retention_age)

    def forget_finished(self) -> None:
        """Drop finished jobs beyond the retention count or older than the retention age."""
        if not self._finished_order:
            return
        # Queried after trio.run has returned: nothing ages any more.
        in_run = in_trio_run()
        self._sweep(trio.current_time() - self.retention_age if in_run else -math.inf)

    def _sweep(self, oldest: float) -> None:
        order = self._finished_order
        while order and (len(order) > self.retention or order[0][1] < oldest):
            self._jobs.pop(order.popleft()[0], None)
