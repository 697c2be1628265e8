"""turnkeeper_trio: a Trio-native, in-process job scheduler.

Run async jobs on weekday+time lists, cron expressions, intervals, once, or on demand, with
retries, timeouts, backpressure, metrics and clean shutdown, inside your own Trio program.

Example:
    ```python
    import turnkeeper_trio as tk

    async with tk.open_scheduler(max_workers=4) as s:
        await s.add_job(tk.Cron("0 9 * * MON-FRI", tz=ZoneInfo("Europe/Paris")), send_report)
        await trio.sleep_forever()
    ```
"""

from . import abc as abc
from ._apply import ApplyResult as ApplyResult
from ._calendars import Calendar as Calendar
from ._calendars import CalendarUnion as CalendarUnion
from ._calendars import Dates as Dates
from ._calendars import Holidays as Holidays
from ._calendars import Weekdays as Weekdays
from ._calendars import YearlyDates as YearlyDates
from ._codec import Codec as Codec
from ._codec import StoredValueError as StoredValueError
from ._combinators import AnyOf as AnyOf
from ._combinators import Between as Between
from ._combinators import Excluded as Excluded
from ._combinators import Excluding as Excluding
from ._cron import Cron as Cron
from ._events import ClockJumped as ClockJumped
from ._events import Event as Event
from ._events import JobAdded as JobAdded
from ._events import JobCancelled as JobCancelled
from ._events import JobCompleted as JobCompleted
from ._events import JobEvent as JobEvent
from ._events import JobFailed as JobFailed
from ._events import JobPaused as JobPaused
from ._events import JobResumed as JobResumed
from ._events import JobUpdated as JobUpdated
from ._events import Misfired as Misfired
from ._events import RetryScheduled as RetryScheduled
from ._events import RunFinished as RunFinished
from ._events import RunStarted as RunStarted
from ._events import ShutdownStarted as ShutdownStarted
from ._events import Subscription as Subscription
from ._exceptions import InvalidArgument as InvalidArgument
from ._exceptions import InvalidSchedule as InvalidSchedule
from ._exceptions import JobFinished as JobFinished
from ._exceptions import JobNotFound as JobNotFound
from ._exceptions import JobNotLoaded as JobNotLoaded
from ._exceptions import SchedulerClosed as SchedulerClosed
from ._exceptions import SchedulerNotRunning as SchedulerNotRunning
from ._exceptions import StagingFull as StagingFull
from ._exceptions import TurnKeeperError as TurnKeeperError
from ._health import Health as Health
from ._lifetime import Forever as Forever
from ._lifetime import MaxRuns as MaxRuns
from ._lifetime import Until as Until
from ._metrics import Aggregate as Aggregate
from ._metrics import MetricsSnapshot as MetricsSnapshot
from ._misfire import CatchUp as CatchUp
from ._misfire import Coalesce as Coalesce
from ._models import BatchResult as BatchResult
from ._models import ErrorInfo as ErrorInfo
from ._models import JobContext as JobContext
from ._models import JobDetails as JobDetails
from ._models import JobId as JobId
from ._models import JobRequest as JobRequest
from ._models import JobState as JobState
from ._models import JobSummary as JobSummary
from ._models import Outcome as Outcome
from ._models import OutcomeCounts as OutcomeCounts
from ._models import Refusal as Refusal
from ._models import RunRecord as RunRecord
from ._models import SkippedRange as SkippedRange
from ._models import current_job as current_job
from ._postgres import PostgresStore as PostgresStore
from ._postgres import ReplicaInfo as ReplicaInfo
from ._postgres import StoreUnavailable as StoreUnavailable
from ._queue import HeapQueue as HeapQueue
from ._queue import IndexedHeapQueue as IndexedHeapQueue
from ._retry import ExponentialBackoff as ExponentialBackoff
from ._retry import FixedDelay as FixedDelay
from ._rrule import RRule as RRule
from ._schedule_file import ScheduleFileError as ScheduleFileError
from ._schedule_file import load_schedules as load_schedules
from ._scheduler import Scheduler as Scheduler
from ._scheduler import open_scheduler as open_scheduler
from ._simple_schedules import Interval as Interval
from ._simple_schedules import Never as Never
from ._simple_schedules import Once as Once
from ._sqlite import SQLiteStore as SQLiteStore
from ._store import MemoryStore as MemoryStore
from ._store import StoreCorrupt as StoreCorrupt
from ._store import StoreError as StoreError
from ._store import StoreLocked as StoreLocked
from ._wall import DST as DST
from ._wallclock import SystemWallClock as SystemWallClock
from ._weekday import WeekdayTimes as WeekdayTimes

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022  # plain sort order, checked by tests/test_public_api.py
    "Aggregate",
    "AnyOf",
    "ApplyResult",
    "BatchResult",
    "Between",
    "Calendar",
    "CalendarUnion",
    "CatchUp",
    "ClockJumped",
    "Coalesce",
    "Codec",
    "Cron",
    "DST",
    "Dates",
    "ErrorInfo",
    "Event",
    "Excluded",
    "Excluding",
    "ExponentialBackoff",
    "FixedDelay",
    "Forever",
    "Health",
    "HeapQueue",
    "Holidays",
    "IndexedHeapQueue",
    "Interval",
    "InvalidArgument",
    "InvalidSchedule",
    "JobAdded",
    "JobCancelled",
    "JobCompleted",
    "JobContext",
    "JobDetails",
    "JobEvent",
    "JobFailed",
    "JobFinished",
    "JobId",
    "JobNotFound",
    "JobNotLoaded",
    "JobPaused",
    "JobRequest",
    "JobResumed",
    "JobState",
    "JobSummary",
    "JobUpdated",
    "MaxRuns",
    "MemoryStore",
    "MetricsSnapshot",
    "Misfired",
    "Never",
    "Once",
    "Outcome",
    "OutcomeCounts",
    "PostgresStore",
    "RRule",
    "Refusal",
    "ReplicaInfo",
    "RetryScheduled",
    "RunFinished",
    "RunRecord",
    "RunStarted",
    "SQLiteStore",
    "ScheduleFileError",
    "Scheduler",
    "SchedulerClosed",
    "SchedulerNotRunning",
    "ShutdownStarted",
    "SkippedRange",
    "StagingFull",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreUnavailable",
    "StoredValueError",
    "Subscription",
    "SystemWallClock",
    "TurnKeeperError",
    "Until",
    "WeekdayTimes",
    "Weekdays",
    "YearlyDates",
    "abc",
    "current_job",
    "load_schedules",
    "open_scheduler",
]
