"""The strategy boundary: every value a user strategy returns is checked where it is called.

Schedules, retry policies, misfire policies and lifetimes are user code.  Whatever they
return is checked here before the scheduler uses it: the right type, an aware datetime, a
finite number in range, a time that moves forward.  A bad value raises
``BadStrategyValue``, which the coordinator treats like an exception raised by the
strategy itself: that one job fails (``FAILED``, the message in ``JobDetails.error``), and
nothing else is touched.  Pure: no trio, no clock.  (A misfire decision is checked by
``_misfire.checked_decision``, beside the class it checks.)
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from ._schedule import Schedule
from ._validation import MAX_SECONDS

if TYPE_CHECKING:
    from ._misfire import MisfirePolicy

__all__ = [
    "BadStrategyValue",
    "checked_allows",
    "checked_delay",
    "checked_fire",
    "checked_grace",
    "checked_schedule",
]


class BadStrategyValue(Exception):
    """A user strategy returned a value the scheduler cannot use (internal)."""


def _shown(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def checked_fire(value: object, after: datetime | None, where: str) -> datetime | None:
    """A fire time: ``None`` or an aware datetime strictly after *after* (if given)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise BadStrategyValue(f"{where} returned {_shown(value)}, not a datetime or None")
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadStrategyValue(
            f"{where} returned a naive datetime ({value.isoformat()}); return an aware one"
        )
    if after is not None and value.timestamp() <= after.timestamp():
        raise BadStrategyValue(
            f"{where} returned {value.isoformat()}, which is not after {after.isoformat()}: "
            "a schedule must move forward"
        )
    return value


def checked_schedule(value: object) -> Schedule:
    """What ``Schedule.anchored`` returned: a schedule."""
    if not isinstance(value, Schedule):
        raise BadStrategyValue(f"schedule.anchored returned {_shown(value)}, not a Schedule")
    return value


def checked_delay(value: object, where: str = "retry policy's next_delay") -> float | None:
    """A retry delay: ``None`` or a real number of seconds from 0 to 100 years."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadStrategyValue(f"{where} returned {_shown(value)}, not seconds or None")
    if math.isnan(value) or not 0 <= value <= MAX_SECONDS:
        raise BadStrategyValue(
            f"{where} returned {value!r}, not a number of seconds from 0 to 100 years"
        )
    return float(value)


def checked_allows(value: object, where: str = "lifetime's allows") -> bool:
    """A lifetime's answer: a real ``bool``."""
    if not isinstance(value, bool):
        raise BadStrategyValue(f"{where} returned {_shown(value)}, not a bool")
    return value


def checked_grace(policy: MisfirePolicy) -> float | None:
    """A misfire policy's ``grace``: ``None`` (no limit) or seconds >= 0."""
    grace = getattr(policy, "grace", None)
    if grace is None:
        return None
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0:
        raise BadStrategyValue(
            f"misfire policy {policy!r}: grace must be None or seconds >= 0, got {_shown(grace)}"
        )
    return float(grace)
