"""What differs across the Trio releases the dependency range allows (``trio>=0.25``)."""

from __future__ import annotations

from collections.abc import Callable

import trio

__all__ = ["in_trio_run"]


def _in_trio_run() -> bool:
    # Before trio 0.29: only trio's own token lookup runs here, so a RuntimeError can only
    # mean "not inside trio.run" (never an error raised by user code).
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


#: Whether the caller runs inside ``trio.run``: trio's own check where it has one (0.29+).
in_trio_run: Callable[[], bool] = getattr(trio.lowlevel, "in_trio_run", _in_trio_run)
