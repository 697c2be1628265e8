"""Base classes and protocols for your own strategies.

Subclass these to plug your own schedule, retry policy, lifetime, misfire policy or queue
into the scheduler; implement ``WallClock`` to supply "now".
"""

from ._lifetime import Lifetime as Lifetime
from ._misfire import MisfireDecision as MisfireDecision
from ._misfire import MisfirePolicy as MisfirePolicy
from ._queue import JobQueue as JobQueue
from ._retry import RetryPolicy as RetryPolicy
from ._schedule import Schedule as Schedule
from ._wallclock import WallClock as WallClock

__all__ = [
    "JobQueue",
    "Lifetime",
    "MisfireDecision",
    "MisfirePolicy",
    "RetryPolicy",
    "Schedule",
    "WallClock",
]
