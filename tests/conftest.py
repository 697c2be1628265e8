from __future__ import annotations

import faulthandler
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, settings

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # a Monday

# CI runs a fixed, reproducible set of examples; `nox -s thorough` explores far more.
settings.register_profile(
    "ci",
    max_examples=500,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("TURNKEEPER_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _watchdog() -> Iterator[None]:
    """Fail fast if a test hangs (an autojump clock deadlocks by jumping forever).

    A test still running after ten minutes of real time dumps every thread's traceback to
    stderr (pytest captures at the sys level only, so the dump is visible) and ends the run,
    instead of holding CI until its own limit.  Ten minutes leaves room for hypothesis to
    shrink a real failure, which can take minutes for the model tests.
    """
    faulthandler.dump_traceback_later(600, exit=True, file=sys.__stderr__ or sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL server for the whole session (see ``tests/pg.py``).

    Under ``CI=true`` a machine without the server is a failure, never a skip.
    """
    from tests.pg import Cluster, ServerMissing

    try:
        import psycopg  # noqa: F401

        cluster = Cluster().start()
    except (ServerMissing, ImportError) as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_dsn(pg_cluster: Any) -> str:
    """A fresh database on the session's server, for one test."""
    dsn: str = pg_cluster.database()
    return dsn
