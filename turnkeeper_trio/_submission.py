"""Checking what callers submit: new jobs (``add_job``) and changes (``update_job``).

Everything here runs in the caller's task, before anything reaches the coordinator, so bad
input fails at the call site with a typed error naming the argument.
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Final, cast

from ._exceptions import InvalidArgument
from ._lifetime import Forever, Lifetime, Until
from ._misfire import MisfirePolicy
from ._retry import RetryPolicy
from ._schedule import Schedule
from ._validation import (
    MAX_NAME_LENGTH,
    check_async_fn,
    check_int,
    check_jitter,
    check_name,
    check_optional_seconds,
)

__all__ = [
    "UNSET",
    "Signatures",
    "Unset",
    "check_instance",
    "check_lifetime",
    "check_name",
    "check_quarantine",
    "check_submission",
    "default_name",
    "listed",
    "validate_changes",
]


class Unset(enum.Enum):
    """The type of ``UNSET``: "this argument was not given" (``None`` is a real value)."""

    UNSET = enum.auto()


UNSET: Final = Unset.UNSET


def check_instance(name: str, value: object, kind: type, example: str) -> None:
    """Raise ``TypeError`` unless *value* is a *kind*; the message shows an *example*."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__name__} such as {example}, got {value!r}")


def listed(values: object, argument: str, kind: str) -> list[object]:
    """A batch argument read into a list; ``TypeError`` naming it if it is not iterable."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"{argument} must be an iterable of {kind}, got {values!r}")
    return list(values)


def check_quarantine(value: object) -> int | None:
    """``quarantine_after``: ``None`` or an int of at least 1."""
    return None if value is None else check_int("quarantine_after", value, minimum=1)


class Signatures:
    """Checks that a job's args bind to its function, caching what each function accepts.

    ``inspect.signature`` and ``Signature.bind`` cost microseconds; jobs are often added by
    the thousand with the same function, so each function's range of positional argument
    counts is worked out once (the cache is bounded) and a submission costs a comparison.
    """

    _LIMIT = 1024

    def __init__(self) -> None:
        self._cache: dict[object, tuple[int, float, inspect.Signature] | None] = {}

    def _accepts(self, fn: Callable[..., Any]) -> tuple[int, float, inspect.Signature] | None:
        try:
            return self._cache[fn]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable object: not cached
            return _accepts(fn)
        if len(self._cache) >= self._LIMIT:
            self._cache.clear()
        accepts = self._cache[fn] = _accepts(fn)
        return accepts

    def check(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Raise ``TypeError`` naming ``args`` if ``fn(*args)`` could never be called."""
        accepts = self._accepts(fn)
        if accepts is None:
            return
        low, high, signature = accepts
        if low <= len(args) <= high:
            return
        try:
            signature.bind(*args)
        except TypeError as exc:
            raise TypeError(
                f"args: {args!r} cannot be passed to {default_name(fn)}{signature}: {exc}"
            ) from None


def _accepts(fn: Callable[..., Any]) -> tuple[int, float, inspect.Signature] | None:
    """How many positional args *fn* takes: ``(fewest, most, signature)``, if it says."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins and C callables have none to read
        return None
    low, high = 0, 0.0
    kinds = inspect.Parameter
    for parameter in signature.parameters.values():
        if parameter.kind is kinds.VAR_POSITIONAL:
            high = math.inf
        elif parameter.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD):
            high += 1
            if parameter.default is kinds.empty:
                low += 1
        elif parameter.kind is kinds.KEYWORD_ONLY and parameter.default is kinds.empty:
            return 1, 0.0, signature  # a required keyword-only argument: never callable so
    return low, high, signature


def check_lifetime(lifetime: object, now: datetime) -> None:
    """Refuse an ``Until`` that has already passed: the job could never run."""
    if (
        type(lifetime) is not Forever
        and isinstance(lifetime, Until)
        and lifetime.when.timestamp() < now.timestamp()
    ):
        raise InvalidArgument(
            f"lifetime: {lifetime!r} is already past (now is {now.isoformat()}); "
            "the job would end before its first run"
        )


def default_name(fn: Callable[..., Any]) -> str:
    """A job's name when none is given: its function's qualified name.

    ``module.Class.method``'s is ``"Class.method"``, a nested function's
    ``"outer.<locals>.inner"``; cut to ``MAX_NAME_LENGTH`` characters, as any name.
    """
    target = fn
    while hasattr(target, "func"):  # functools.partial
        target = target.func
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    return str(name or repr(fn))[:MAX_NAME_LENGTH]


#: The lifetime of a job added without one (immutable, so one instance serves every job).
FOREVER: Final = Forever()


def check_submission(
    schedule: object,
    async_fn: object,
    retry: object,
    lifetime: object,
    misfire: object,
    seen: set[tuple[str, type]] | None = None,
) -> tuple[Lifetime, MisfirePolicy]:
    """Check the strategy arguments of ``add_job``; return the lifetime and misfire policy.

    *misfire* is the job's own or, when it gave none, the scheduler's default.  *seen*
    caches the ``(argument, type)`` pairs already checked (an instance check on an ABC is
    decided by the type, and jobs are added by the thousand with the same few types).
    """
    if lifetime is None:
        lifetime = FOREVER
    if seen is None:
        seen = set()
    _check_kind(seen, "schedule", schedule, Schedule, "Cron('0 9 * * MON-FRI')")
    check_async_fn("async_fn", async_fn)
    if retry is not None:
        _check_kind(seen, "retry", retry, RetryPolicy, "ExponentialBackoff(max_retries=3)")
    _check_kind(seen, "lifetime", lifetime, Lifetime, "MaxRuns(10)")
    _check_kind(seen, "misfire", misfire, MisfirePolicy, "Coalesce()")
    return cast("Lifetime", lifetime), cast("MisfirePolicy", misfire)  # checked just above


def _check_kind(
    seen: set[tuple[str, type]], name: str, value: object, kind: type, example: str
) -> None:
    pair = (name, type(value))
    if pair in seen:
        return
    check_instance(name, value, kind, example)
    if len(seen) < _SEEN_LIMIT:
        seen.add(pair)


#: At most this many argument types are remembered as checked (the cache stays small).
_SEEN_LIMIT = 256


def validate_changes(
    *,
    schedule: Schedule | Unset,
    async_fn: Callable[..., Awaitable[object]] | Unset,
    args: tuple[Any, ...] | Unset,
    name: str | Unset,
    retry: RetryPolicy | Unset | None,
    timeout: float | timedelta | Unset | None,
    lifetime: Lifetime | Unset,
    misfire: MisfirePolicy | Unset,
    quarantine_after: int | Unset | None,
    jitter: float | timedelta | Unset | None = UNSET,
) -> dict[str, object]:
    """Check ``update_job``'s arguments; return the given ones by their public names."""
    changes: dict[str, object] = {}
    if not isinstance(schedule, Unset):
        check_instance("schedule", schedule, Schedule, "Cron('0 9 * * *')")
        changes["schedule"] = schedule
    if not isinstance(async_fn, Unset):
        changes["async_fn"] = check_async_fn("async_fn", async_fn)
    if not isinstance(args, Unset):
        if not isinstance(args, tuple):
            raise TypeError(f"args must be a tuple, got {type(args).__name__}")
        changes["args"] = args
    if not isinstance(name, Unset):
        changes["name"] = check_name(name)
    if not isinstance(retry, Unset):
        if retry is not None:
            check_instance("retry", retry, RetryPolicy, "FixedDelay(3, 10)")
        changes["retry"] = retry
    if not isinstance(timeout, Unset):
        changes["timeout"] = check_optional_seconds("timeout", timeout)
    if not isinstance(lifetime, Unset):
        check_instance("lifetime", lifetime, Lifetime, "MaxRuns(10)")
        changes["lifetime"] = lifetime
    if not isinstance(misfire, Unset):
        check_instance("misfire", misfire, MisfirePolicy, "Coalesce()")
        changes["misfire"] = misfire
    if not isinstance(quarantine_after, Unset):
        changes["quarantine_after"] = check_quarantine(quarantine_after)
    if not isinstance(jitter, Unset):
        changes["jitter"] = 0.0 if jitter is None else check_jitter(jitter)
    return changes
