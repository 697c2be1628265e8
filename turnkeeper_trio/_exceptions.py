"""The exceptions turnkeeper_trio raises.

Every error is a :class:`TurnKeeperError`, and each one is also the standard (or Trio)
exception that code written without turnkeeper_trio in mind would catch::

    Exception
     └── TurnKeeperError
          ├── StagingFull       (+ trio.WouldBlock)          try_add_job found the buffer full
          ├── SchedulerClosed   (+ trio.ClosedResourceError) the scheduler is shutting down
          ├── JobNotFound       (+ LookupError)              no job has that id
          │    └── JobFinished                               it has completed or was cancelled
          ├── InvalidSchedule   (+ ValueError)               a schedule cannot be built
          └── InvalidArgument   (+ ValueError)               another argument is out of range

Wrong *types* raise a plain :class:`TypeError` whose message names the argument.
Exceptions raised by your own jobs are never wrapped: they are recorded as run outcomes.
"""

from __future__ import annotations

import trio

__all__ = [
    "InvalidArgument",
    "InvalidSchedule",
    "JobFinished",
    "JobNotFound",
    "SchedulerClosed",
    "StagingFull",
    "TurnKeeperError",
]


class TurnKeeperError(Exception):
    """Base class of every error raised by turnkeeper_trio itself."""


class StagingFull(TurnKeeperError, trio.WouldBlock):
    """``try_add_job`` found the staging buffer full; use ``add_job`` to wait for room."""


class SchedulerClosed(TurnKeeperError, trio.ClosedResourceError):
    """The scheduler has begun shutting down, or has stopped; it accepts no more changes."""


class JobNotFound(TurnKeeperError, LookupError):
    """No job with this id is known to the scheduler (or it has aged out of retention)."""


class JobFinished(JobNotFound):
    """The job has completed or was cancelled, so it can no longer be changed or triggered."""


class InvalidSchedule(TurnKeeperError, ValueError):
    """A schedule's definition is invalid; the message names the part at fault."""


class InvalidArgument(TurnKeeperError, ValueError):
    """An argument is outside its accepted range; the message names it and the range."""
