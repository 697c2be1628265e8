"""The exception-group policy: each nursery we open hands back a lone exception as itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collapse_single_group"]


@contextmanager
def collapse_single_group() -> Iterator[None]:
    """Re-raise a one-exception group produced by the nursery inside this block, unwrapped.

    Trio wraps whatever leaves a nursery in a ``BaseExceptionGroup``.  The scheduler's
    nurseries are an implementation detail, so when a single exception comes out (the user's
    own error from the ``async with`` body, a ``KeyboardInterrupt`` from a job, ...) it is
    raised as itself.  Groups with several exceptions are left alone: each one matters.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        exc = group.exceptions[0]
        # Keep the exception's own cause; hide the group it travelled in.
        raise exc from exc.__cause__
