"""Argument checks shared by every public constructor and method.

Each helper raises at the call site with a message that names the argument and says what is
accepted, so bad input never reaches the coordinator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from inspect import CO_COROUTINE, iscoroutinefunction
from types import FunctionType
from typing import Any, cast

from ._exceptions import InvalidArgument

__all__ = [
    "MAX_SECONDS",
    "check_async_fn",
    "check_aware",
    "check_int",
    "check_optional_seconds",
    "check_seconds",
    "check_tz",
    "to_utc",
    "type_name",
]


#: The longest duration any argument may give: 100 years.  Longer ones cannot be added to a
#: datetime (which ends at year 9999) without overflowing somewhere, and mean a mistake.
MAX_SECONDS = 100 * 365.25 * 86400


def type_name(value: object) -> str:
    """Return the name of *value*'s type, for error messages."""
    return type(value).__name__


def check_int(name: str, value: object, *, minimum: int) -> int:
    """Return *value* if it is an ``int`` (not ``bool``) >= *minimum*, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type_name(value)} {value!r}")
    if value < minimum:
        raise InvalidArgument(f"{name} must be >= {minimum}, got {value}")
    return value


def check_seconds(
    name: str, value: object, *, allow_zero: bool = False, allow_inf: bool = False
) -> float:
    """Convert a number of seconds or a ``timedelta`` to a float, checking its range.

    Raises:
        TypeError: *value* is neither a real number nor a ``timedelta``.
        InvalidArgument: the duration is negative (or zero, unless *allow_zero*), NaN,
            infinite (unless *allow_inf*), or longer than ``MAX_SECONDS`` (100 years).
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(
            f"{name} must be a number of seconds or a datetime.timedelta, "
            f"got {type_name(value)} {value!r}"
        )
    bound = ">= 0" if allow_zero else "> 0"
    if math.isnan(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise InvalidArgument(f"{name} must be {bound} seconds, got {value!r}")
    if math.isinf(seconds):
        if allow_inf:
            return seconds
        raise InvalidArgument(f"{name} must be finite, got {value!r}")
    if seconds > MAX_SECONDS:
        raise InvalidArgument(
            f"{name} must be at most {MAX_SECONDS:.0f} seconds (100 years), got {value!r}"
        )
    return seconds


def check_optional_seconds(name: str, value: object, *, allow_zero: bool = False) -> float | None:
    """Like ``check_seconds``, but ``None`` passes through (meaning "no limit")."""
    if value is None:
        return None
    return check_seconds(name, value, allow_zero=allow_zero)


def check_aware(name: str, value: object) -> datetime:
    """Return *value* if it is a time-zone-aware ``datetime``; naive datetimes are rejected."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be an aware datetime.datetime, got {type_name(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument(
            f"{name} must be time-zone aware (e.g. datetime(..., tzinfo=ZoneInfo('Europe/Paris')) "
            f"or datetime.now(UTC)), got the naive datetime {value.isoformat()}"
        )
    return value


def check_tz(name: str, value: object) -> tzinfo:
    """Return *value* if it is a ``tzinfo`` (``ZoneInfo``, ``datetime.UTC``, ...)."""
    if not isinstance(value, tzinfo):
        raise TypeError(
            f"{name} must be a datetime.tzinfo such as zoneinfo.ZoneInfo('Europe/Paris') "
            f"or datetime.UTC, got {type_name(value)} {value!r}"
        )
    # A tzinfo that cannot say its offset would make every schedule computation fail later.
    if value.utcoffset(datetime(2000, 1, 1)) is None:
        raise InvalidArgument(f"{name} must give a UTC offset, {value!r} returned None")
    return value


def check_async_fn(name: str, fn: object) -> Callable[..., Any]:
    """Reject anything that is not an async callable, saying how to wrap a sync one."""
    # The common cases, told without inspect's walk (this runs for every add_job): an
    # `async def` function, or an object whose class defines `async def __call__`.
    kind = type(fn)
    code = fn if kind is FunctionType else vars(kind).get("__call__")
    if type(code) is FunctionType and code.__code__.co_flags & CO_COROUTINE:
        return cast("Callable[..., Any]", fn)
    if iscoroutinefunction(fn):
        return fn  # the common case: an `async def` function
    if not callable(fn):
        raise TypeError(f"{name} must be an async function, got {type_name(fn)} {fn!r}")
    target = fn
    # functools.partial and bound methods: look through to the underlying function.
    while hasattr(target, "func"):
        target = target.func
    call = vars(type(target)).get("__call__")  # an object whose class has `async def __call__`
    if iscoroutinefunction(target) or iscoroutinefunction(call):
        return fn
    raise TypeError(
        f"{name} must be an async function (defined with 'async def'), got {fn!r}. "
        "To schedule a synchronous function, wrap it: "
        "'async def job(*args): return await trio.to_thread.run_sync(fn, *args)' "
        "for blocking work, or 'async def job(*args): return fn(*args)' for quick work."
    )


def to_utc(value: datetime) -> datetime:
    """Convert an aware datetime to UTC (used for instants stored and compared internally)."""
    return value.astimezone(UTC)
