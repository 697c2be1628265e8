from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def wall() -> MockWallClock:
    """A wall clock driven by the (autojump) Trio clock, starting on Monday 2026-01-05 12:00 UTC."""
    return MockWallClock(START)


@pytest.fixture(params=["indexed", "heap"])
def queue_factory(request: pytest.FixtureRequest) -> Callable[[], tk.abc.JobQueue]:
    """Both queue strategies, for tests whose behaviour must not depend on the choice."""
    if request.param == "indexed":
        return tk.IndexedHeapQueue
    return tk.HeapQueue


class Recorder:
    """An async job that records when it ran and returns scripted results."""

    def __init__(self, wall: MockWallClock, results: list[object] | None = None) -> None:
        self.wall = wall
        self.results = list(results or [])
        self.calls: list[tuple[datetime, tk.JobContext]] = []
        self.trio_times: list[float] = []

    async def __call__(self, *args: object) -> object:
        self.calls.append((self.wall.now(), tk.current_job()))
        self.trio_times.append(trio.current_time())
        if self.results:
            result = self.results.pop(0)
            if isinstance(result, BaseException):
                raise result
            return result
        return None

    @property
    def times(self) -> list[datetime]:
        return [when for when, _ in self.calls]

    @property
    def attempts(self) -> list[int]:
        return [ctx.attempt for _, ctx in self.calls]
