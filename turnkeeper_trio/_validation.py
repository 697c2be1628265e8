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
    "MAX_BUFFER_SIZE",
    "MAX_HISTORY_SIZE",
    "MAX_JITTER",
    "MAX_NAME_LENGTH",
    "MAX_RETENTION",
    "MAX_SECONDS",
    "MAX_WORKERS",
    "check_async_fn",
    "check_aware",
    "check_int",
    "check_jitter",
    "check_name",
    "check_optional_seconds",
    "check_seconds",
    "check_tz",
    "to_utc",
    "type_name",
]


#: The longest duration any argument may give: 100 years.  Longer ones cannot be added to a
#: datetime (which ends at year 9999) without overflowing somewhere, and mean a mistake.
MAX_SECONDS = 100 * 365.25 * 86400

# The largest sizes a scheduler accepts.  Each is far above what a process can use well (a
# worker is a task, every buffered job and remembered attempt is memory), and low enough that
# a typo (an extra zero or three) fails at the call instead of eating the machine's memory
# or overflowing a database integer.

#: ``max_workers``: at most 10,000 attempts at once (each worker is a Trio task).
MAX_WORKERS = 10_000
#: ``staging_buffer_size`` and ``dispatch_buffer_size``.
MAX_BUFFER_SIZE = 1_000_000
#: ``history_size``: attempts remembered per job (in memory and in a durable store).
MAX_HISTORY_SIZE = 1_000_000
#: ``finished_job_retention``: finished jobs kept queryable.
MAX_RETENTION = 10_000_000
#: A job's ``name``: at most 200 characters, as a ``key``.
MAX_NAME_LENGTH = 200


def type_name(value: object) -> str:
    """Return the name of *value*'s type, for error messages."""
    return type(value).__name__


def check_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> int:
    """Return *value* if it is an ``int`` (not ``bool``) in ``[minimum, maximum]``, else raise.

    Raises:
        TypeError: *value* is not an ``int``.
        InvalidArgument: it is below *minimum* or above *maximum* (when one is given).
    """
    accepted = f">= {minimum}" if maximum is None else f"from {minimum:,} to {maximum:,}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int {accepted}, got {type_name(value)} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        shown = f"{value:,}" if abs(value) < 10**30 else f"an int of {len(str(value))} digits"
        raise InvalidArgument(f"{name} must be {accepted}, got {shown}")
    return value


def check_name(value: object, argument: str = "name") -> str:
    r"""A job's name: 1 to ``MAX_NAME_LENGTH`` characters, not only whitespace.

    One rule for every store: a name must also be text every database can hold, so it may
    not contain NUL (``\x00``) or a lone surrogate (``\ud800``-``\udfff``, which has no
    UTF-8 encoding).

    Raises:
        TypeError: *value* is not a ``str``.
        InvalidArgument: it is empty, only whitespace, too long, or holds such a character.
    """
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, got {type_name(value)}")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidArgument(
            f"{argument} must be 1 to {MAX_NAME_LENGTH} characters, got {len(value):,} "
            f"characters starting {value[:20]!r}"
        )
    if not value or value.isspace():
        raise InvalidArgument(
            f"{argument} must be 1 to {MAX_NAME_LENGTH} characters, not only whitespace, "
            f"got {value!r}; leave it out (None) to use the function's name"
        )
    if "\x00" in value or not _encodable(value):
        raise InvalidArgument(
            f"{argument} must not contain NUL ('\\x00') or lone surrogates "
            f"('\\ud800'-'\\udfff'), which no database can store, got {value!r}"
        )
    return value


def _encodable(text: str) -> bool:
    """Whether *text* has a UTF-8 encoding (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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


#: The longest jitter a job may ask for (seconds): a day.
MAX_JITTER = 86_400.0


def check_jitter(value: object) -> float:
    """``jitter``: seconds or a ``timedelta``, from 0 to ``MAX_JITTER`` (a day)."""
    seconds = check_seconds("jitter", value, allow_zero=True)
    if seconds > MAX_JITTER:
        raise InvalidArgument(
            f"jitter must be from 0 to {MAX_JITTER:,.0f} seconds (a day), got {seconds!r}"
        )
    return seconds
