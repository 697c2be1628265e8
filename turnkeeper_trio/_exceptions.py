"""The exceptions turnkeeper_trio raises.

Every error is a ``TurnKeeperError``, and each one is also the standard (or Trio)
exception that code written without turnkeeper_trio in mind would catch:

```text
Exception
 └── TurnKeeperError
      ├── StagingFull       (+ trio.WouldBlock)          try_add_job found the buffer full
      ├── SchedulerClosed   (+ trio.ClosedResourceError) the scheduler is shutting down
      ├── SchedulerNotRunning (+ RuntimeError)           it was never started
      ├── JobNotFound       (+ LookupError)              no job has that id
      ├── JobFinished       (+ RuntimeError)             it completed, failed or was cancelled
      ├── InvalidSchedule   (+ ValueError)               a schedule cannot be built
      ├── InvalidArgument   (+ ValueError)               another argument is out of range
      │    └── ScheduleFileError                         a schedule file has problems
      ├── JobNotLoaded      (+ RuntimeError)             stored job this process cannot run
      ├── StoredValueError  (+ ValueError)               a stored value cannot be read back
      └── StoreError                                     a durable store cannot be used
           ├── StoreLocked                               another scheduler has it open
           ├── StoreCorrupt                              unreadable file or newer schema
           └── StoreUnavailable                          database server unreachable (retry)
```

``StoredValueError`` and the ``StoreError`` family are defined beside the stores that
raise them, and exported from ``turnkeeper_trio`` like the others.  ``StoreUnavailable``
is raised by ``PostgresStore`` when the server cannot be reached: by ``open_scheduler``
before the block's body runs, and by ``PostgresStore.replicas()`` or a command for a job
another replica holds during an outage (call again).

Wrong *types* raise a plain ``TypeError`` whose message names the argument.
Exceptions raised by your own jobs are never wrapped: they are recorded as run outcomes.
"""

from __future__ import annotations

import trio

__all__ = [
    "InvalidArgument",
    "InvalidSchedule",
    "JobFinished",
    "JobNotFound",
    "JobNotLoaded",
    "SchedulerClosed",
    "SchedulerNotRunning",
    "StagingFull",
    "TurnKeeperError",
]


class TurnKeeperError(Exception):
    """Base class of every error raised by turnkeeper_trio itself.

    Example:
        ```python
        try:
            await s.cancel_job(job)
        except tk.TurnKeeperError as exc:   # any of this library's own errors
            log.warning("could not cancel %s: %s", job, exc)
        ```
    """


class StagingFull(TurnKeeperError, trio.WouldBlock):
    """``try_add_job`` found the staging buffer full; use ``add_job`` to wait for room.

    Example:
        ```python
        try:
            s.try_add_job(tk.Once(when), send)
        except tk.StagingFull:
            await s.add_job(tk.Once(when), send)   # or shed the load
        ```
    """


class SchedulerClosed(TurnKeeperError, trio.ClosedResourceError):
    """The scheduler has begun shutting down, or has stopped; it accepts no more changes.

    Example:
        ```python
        try:
            await s.add_job(tk.Once(when), send)
        except tk.SchedulerClosed:
            ...   # shutting down: the job was not accepted
        ```
    """


class JobNotFound(TurnKeeperError, LookupError):
    """No job with this id is known to the scheduler (or it has aged out of retention).

    Example:
        ```python
        try:
            s.get_job_details(job)
        except tk.JobNotFound:
            ...   # never added here, or finished long enough ago to have aged out
        ```
    """


class SchedulerNotRunning(TurnKeeperError, RuntimeError):
    """The scheduler was never started, so nothing would take in a job submitted to it.

    Start it first: ``async with tk.open_scheduler(...)``, or ``await nursery.start(s.run)``.

    Example:
        ```python
        s = tk.Scheduler(max_workers=2)
        await nursery.start(s.run)      # without this, add_job raises SchedulerNotRunning
        await s.add_job(tk.Interval(60), poll)
        ```
    """


class JobFinished(TurnKeeperError, RuntimeError):
    """The job has completed, failed or was cancelled: it can no longer be changed or triggered.

    The job was found (its details can still be read); it is just over.  Not a
    ``JobNotFound``.

    Example:
        ```python
        try:
            await s.trigger_job(job)
        except tk.JobFinished:
            ...   # it completed or was cancelled: nothing to trigger
        ```
    """


class InvalidSchedule(TurnKeeperError, ValueError):
    """A schedule's definition is invalid; the message names the part at fault.

    Example:
        ```python
        try:
            tk.Cron("0 0 30 2 *")
        except tk.InvalidSchedule as exc:
            print(exc)   # says the expression can never fire
        ```
    """


class InvalidArgument(TurnKeeperError, ValueError):
    """An argument is outside its accepted range; the message names it and the range.

    Example:
        ```python
        try:
            await s.add_job(tk.Interval(60), poll, timeout=-1)
        except tk.InvalidArgument as exc:
            print(exc)   # timeout must be positive ..., got -1
        ```
    """


class JobNotLoaded(TurnKeeperError, RuntimeError):
    """The job is in the store but this process cannot run it, so it cannot change it.

    Its function does not import here, or its stored definition cannot be read (the
    reason is in ``JobDetails.error``).  Deploy code that has the function, or call
    ``add_job`` with the job's key and a function this code has: that replaces the
    definition and the job runs again from where it was.

    Example:
        ```python
        try:
            await s.pause_job(job)
        except tk.JobNotLoaded as exc:
            log.warning("cannot pause %s here: %s", job.key, exc)
        ```
    """
