"""Wall clocks: where schedules read "now"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["DatabaseClock", "SystemWallClock", "WallClock"]


@runtime_checkable
class WallClock(Protocol):
    """Anything with ``now() -> aware datetime``.

    Schedules are evaluated against this clock; everything relative (retry delays, timeouts,
    sleeping) uses Trio's clock.  Inject one with ``open_scheduler(wall_clock=...)``.

    Example:
        ```python
        class ShiftedClock:
            def now(self) -> datetime:
                return datetime.now(UTC) + timedelta(hours=1)

        tk.open_scheduler(max_workers=2, wall_clock=ShiftedClock())
        ```
    """

    def now(self) -> datetime:
        """Return the current instant as an aware datetime."""
        ...


@attrs.frozen
class SystemWallClock:
    """The operating system's clock, in UTC. The default.

    Example:
        ```python
        tk.open_scheduler(max_workers=4, wall_clock=tk.SystemWallClock())   # the default
        ```
    """

    def now(self) -> datetime:
        """Return ``datetime.now(UTC)``."""
        return datetime.now(UTC)


class _Offset(Protocol):
    offset: float


@attrs.frozen
class DatabaseClock:
    """A replica's wall clock corrected to the database's (internal).

    *source* measures the offset (database minus *clock*) at each round trip; schedules are
    then evaluated on the database's time, so clock skew between replicas cannot make one of
    them fire early or late.
    """

    clock: WallClock
    source: _Offset

    def now(self) -> datetime:
        """The database's time, as estimated from the replica's clock."""
        return self.clock.now() + timedelta(seconds=self.source.offset)
