"""The exception-group policy: what leaves a nursery of ours comes out as itself.

Trio wraps whatever leaves a nursery in a ``BaseExceptionGroup``.  The scheduler's nurseries
are an implementation detail, so their groups are unwrapped the way trio unwraps its own
(``trio._util.raise_single_exception_from_group``):

* a ``KeyboardInterrupt`` or ``SystemExit`` anywhere in the group comes out first, as itself,
  so ``except KeyboardInterrupt`` works;
* ``trio.Cancelled`` siblings are dropped: cancellation is how the other tasks stopped;
* a single exception left is raised as itself, keeping its own ``__context__`` and
  ``__cause__`` (an error raised inside ``except KeyError:`` still shows the ``KeyError``);
* several real exceptions stay a group: each one matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import trio

__all__ = ["collapse_single_group", "split_job_exception"]


def _raise_as_itself(exc: BaseException) -> NoReturn:
    """Raise *exc* without letting Python replace its ``__context__`` by the group."""
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context


def _fatal(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    for exc in group.exceptions:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            return exc
        if isinstance(exc, BaseExceptionGroup) and (found := _fatal(exc)) is not None:
            return found
    return None


@contextmanager
def collapse_single_group() -> Iterator[None]:
    """Re-raise a group produced by the nursery inside this block as its one exception."""
    try:
        yield
    except BaseExceptionGroup as group:
        if (fatal := _fatal(group)) is not None:
            _raise_as_itself(fatal)
        real = [e for e in group.exceptions if not isinstance(e, trio.Cancelled)]
        if len(real) == 1:
            _raise_as_itself(real[0])
        if not real:
            _raise_as_itself(group.exceptions[0])
        raise


def split_job_exception(
    exc: BaseException,
) -> tuple[BaseException | None, BaseException | None]:
    """Split what a job raised into (its error, recorded as data; what must propagate).

    ``Cancelled`` (the scheduler's shutdown or the run's own scope) propagates and is not an
    error; other ``BaseException`` s (``KeyboardInterrupt``, ``SystemExit``) are recorded and
    propagate, never swallowed; an ``Exception`` is the job's error: recorded, it goes no
    further.
    """
    if isinstance(exc, trio.Cancelled):
        return None, exc
    if not isinstance(exc, BaseExceptionGroup):
        return exc, (None if isinstance(exc, Exception) else exc)
    cancelled, rest = exc.split(trio.Cancelled)
    if rest is None:
        return None, exc
    _errors, fatal = rest.split(Exception)
    return rest, (fatal if fatal is not None else cancelled)
