"""The staging buffer: accepted submissions waiting for the coordinator to take them in.

A bounded, ordered buffer with exact accounting: it holds at most ``size`` submissions, and
``len()`` is what the ``staging_buffered`` gauge shows.  (A Trio memory channel of size N lets
N + 1 through while its receiver waits, since the receiver takes one straight from the
sender.)  Submissions stay findable by id until taken in, so a command for a job that is
still staged applies after its submission.  Two parking lots do the waiting: the intake task
parks until something is staged (or reported), ``add_job`` parks until there is room.
Nothing polls.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import trio

from ._exceptions import SchedulerClosed
from ._job import JobSpec

__all__ = ["StagingBuffer"]


@attrs.define(eq=False)
class StagingBuffer:
    """Submissions accepted by ``add_job``/``try_add_job``, oldest first (internal)."""

    size: int
    _specs: dict[int, JobSpec] = attrs.field(factory=dict)
    #: Where the intake task parks; ``put`` wakes it (shared with the workers' reports, so
    #: one task takes in both).
    arrived: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)
    _room: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)
    closed: bool = False

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._specs.values())

    @property
    def full(self) -> bool:
        """Whether a submission would have to wait."""
        return len(self._specs) >= self.size

    def get(self, key: int) -> JobSpec | None:
        """The staged submission with this job number, if it is still waiting."""
        return self._specs.get(key)

    def put(self, spec: JobSpec) -> None:
        """Accept *spec* (the caller checked for room) and wake the intake."""
        self._specs[spec.id.value] = spec
        if self.arrived:
            self.arrived.unpark_all()

    async def wait_for_room(self) -> None:
        """Wait until a submission fits, or raise ``SchedulerClosed`` if the buffer closes."""
        while self.full and not self.closed:
            await self._room.park()
        if self.closed:
            raise SchedulerClosed("the scheduler stopped before the job was accepted")

    def take(self, key: int) -> JobSpec | None:
        """Remove and return the submission with this job number, making room for another."""
        spec = self._specs.pop(key, None)
        if spec is not None:
            self._room.unpark()
        return spec

    def take_all(self) -> list[JobSpec]:
        """Remove and return every waiting submission, oldest first."""
        specs = list(self._specs.values())
        self._specs.clear()
        self._room.unpark(count=len(specs))
        return specs

    def close(self) -> None:
        """Refuse further submissions; wake every ``add_job`` waiting for room."""
        self.closed = True
        self._room.unpark_all()
