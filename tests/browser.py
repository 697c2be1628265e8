"""A real scheduler behind a real server, and headless Chromium, for the dashboard's browser tests.

``Service`` runs a scheduler and hypercorn (its trio worker) in a Trio run of their own, in a
thread of the test process, so that a synchronous Playwright test can drive the page while
the test checks the scheduler itself (through ``trio.from_thread``). The browser is Debian's
``chromium`` (Playwright's own download cannot reach the network here); a missing browser or
Playwright skips the tests, except under ``CI=true``, where it fails them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

import turnkeeper_trio as tk
from turnkeeper_trio.web import Dashboard

T = TypeVar("T")

#: Where screenshots go (kept by CI as artifacts; look at them).
ARTIFACTS = Path(
    os.environ.get(
        "TURNKEEPER_ARTIFACTS", Path(__file__).resolve().parent.parent / "build" / "screenshots"
    )
)
#: Chromium's flags for a machine with a closed network, run as root.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """The system's Chromium, if installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable(reason: str) -> NoReturn:
    """Skip, or under ``CI=true`` fail: CI must run the browser tests."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the browser tests need {reason} under CI=true")
    pytest.skip(f"no browser: {reason}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module's tests."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        unavailable("Chromium (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (``expect(locator).to_have_count(2)``)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


class Service:
    """A scheduler with a dashboard on 127.0.0.1, in a Trio run on its own thread."""

    def __init__(
        self,
        setup: Callable[[tk.Scheduler], Awaitable[None]],
        *,
        token: str | None = None,
        store: tk.abc.JobStore | None = None,
        title: str = "turnkeeper_trio",
        app: Callable[[tk.Scheduler], Any] | None = None,
    ) -> None:
        self.setup = setup
        self.app = app
        self.token = token
        self.store = store
        self.title = title
        self.url = ""
        self.scheduler: tk.Scheduler | None = None
        self._ready = threading.Event()
        self._trio_token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, name="dashboard-service")

    def __enter__(self) -> Service:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError("the dashboard service did not start") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None and self._trio_token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._stop.set, trio_token=self._trio_token)
        self._thread.join(30)
        if self._error is not None:
            raise self._error

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # reported to the test by __enter__/__exit__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._trio_token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        kwargs: dict[str, Any] = {} if self.store is None else {"store": self.store}
        async with tk.open_scheduler(max_workers=4, **kwargs) as scheduler:
            self.scheduler = scheduler
            await self.setup(scheduler)
            config = Config()
            config.bind = ["127.0.0.1:0"]
            config.accesslog = None
            config.errorlog = None
            app = (
                Dashboard(scheduler, token=self.token, title=self.title)
                if self.app is None
                else self.app(scheduler)
            )
            async with trio.open_nursery() as nursery:
                urls: list[str] = await nursery.start(
                    lambda task_status: serve(
                        app,  # type: ignore[arg-type]  # hypercorn's ASGI types are narrower
                        config,
                        shutdown_trigger=self._stop.wait,  # type: ignore[union-attr]
                        task_status=task_status,
                    )
                )
                self.url = urls[0]
                self._ready.set()
                await self._stop.wait()
            await scheduler.shutdown_graceful(timeout=5)

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run an async function (a scheduler call) in the service's Trio run."""
        return trio.from_thread.run(fn, *args, trio_token=self._trio_token)

    def query(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a synchronous function (a scheduler query) in the service's Trio run."""
        return trio.from_thread.run_sync(fn, *args, trio_token=self._trio_token)

    def details(self, job: tk.JobId) -> tk.JobDetails:
        assert self.scheduler is not None
        return self.query(self.scheduler.get_job_details, job)
