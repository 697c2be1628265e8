"""``MockWallClock``: a wall clock driven by Trio's (mock) clock, for tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import attrs
import trio

from ._compat import in_trio_run
from ._exceptions import InvalidArgument
from ._validation import MAX_SECONDS, check_aware

__all__ = ["MockWallClock"]


@attrs.define(eq=False)
class MockWallClock:
    """A wall clock that reads ``start + (trio.current_time() - t0) + jumps``.

    With ``trio.testing.MockClock(autojump_threshold=0)`` (pytest-trio's ``autojump_clock``)
    the scheduler then lives through days of schedule in milliseconds.  ``t0`` is Trio's time
    when the clock is built, or at its first reading if it is built before ``trio.run``.
    ``jump`` moves the wall clock without moving Trio's clock, like an NTP step or a
    suspend/resume.

    Example:
        ```python
        async def test_daily_report(autojump_clock):
            clock = MockWallClock(datetime(2026, 3, 27, 8, 0, tzinfo=PARIS))
            async with tk.open_scheduler(max_workers=1, wall_clock=clock) as s:
                await s.add_job(tk.Cron("0 9 * * *", tz=PARIS), report)
                await trio.sleep(3600)      # instantly, with the autojump clock
        ```
    """

    start: datetime = attrs.field()
    _t0: float | None = attrs.field(default=None, init=False)
    _offset: timedelta = attrs.field(default=timedelta(0), init=False)

    @start.validator
    def _check_start(self, _attribute: object, value: object) -> None:
        check_aware("start", value)

    def __attrs_post_init__(self) -> None:
        # Built outside trio.run: start counting at the first reading.
        self._t0 = trio.current_time() if in_trio_run() else None

    def now(self) -> datetime:
        """Return the simulated current instant, expressed in *start*'s time zone."""
        current = trio.current_time()
        if self._t0 is None:
            self._t0 = current
        # Add in UTC: adding to a zoned datetime would add wall time and ignore DST.
        elapsed = self._offset + timedelta(seconds=current - self._t0)
        return (self.start.astimezone(UTC) + elapsed).astimezone(self.start.tzinfo)

    def jump(self, seconds: float | timedelta) -> None:
        """Step the wall clock by *seconds* (negative: backwards) without moving Trio's clock.

        Raises:
            TypeError: *seconds* is not a number or ``timedelta``.
            InvalidArgument: *seconds* is not finite, or more than 100 years either way.
        """
        if isinstance(seconds, timedelta):
            amount = seconds.total_seconds()
        elif isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError(
                f"seconds must be a number or a datetime.timedelta, got {type(seconds).__name__}"
            )
        else:
            amount = float(seconds)
        if not math.isfinite(amount):
            raise InvalidArgument(f"seconds must be finite, got {seconds!r}")
        if abs(amount) > MAX_SECONDS:
            raise InvalidArgument(
                f"seconds must be at most {MAX_SECONDS:.0f} (100 years) either way, got {seconds!r}"
            )
        self._offset += timedelta(seconds=amount)
