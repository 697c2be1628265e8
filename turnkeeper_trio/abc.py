"""Base classes and protocols for your own strategies.

Subclass these to plug your own schedule, retry policy, lifetime, misfire policy or queue
into the scheduler; implement ``WallClock`` to supply "now", and ``JobStore`` to keep jobs
somewhere else than the built-in stores.
"""

from ._lifetime import Lifetime as Lifetime
from ._misfire import MisfireDecision as MisfireDecision
from ._misfire import MisfirePolicy as MisfirePolicy
from ._queue import JobQueue as JobQueue
from ._retry import RetryPolicy as RetryPolicy
from ._schedule import Schedule as Schedule
from ._store import Batch as Batch
from ._store import JobRow as JobRow
from ._store import JobStore as JobStore
from ._store import Loaded as Loaded
from ._store import RunRow as RunRow
from ._store import SkipRow as SkipRow
from ._store import WriteRefused as WriteRefused
from ._wallclock import WallClock as WallClock

__all__ = [
    "Batch",
    "JobQueue",
    "JobRow",
    "JobStore",
    "Lifetime",
    "Loaded",
    "MisfireDecision",
    "MisfirePolicy",
    "RetryPolicy",
    "RunRow",
    "Schedule",
    "SkipRow",
    "WallClock",
    "WriteRefused",
]
