"""A Trio web service that schedules work, with the operator's dashboard mounted beside it.

    pip install -e ".[web]"     # in a clone: hypercorn (ASGI on Trio), Starlette, Jinja2
    DASHBOARD_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \
        python -m examples.web_service       # then open http://localhost:8000/dashboard/

Routes:

- ``/dashboard/``: the dashboard (``turnkeeper_trio.web.Dashboard``): jobs, runs, metrics,
  replicas, live; pause/resume/trigger/cancel after logging in with ``DASHBOARD_TOKEN``
  (read-only without it);
- the service's own JSON API, a plain ASGI app: ``GET /jobs`` (every job with its state and
  next run), ``GET /jobs/<id>`` (one job and its last runs, ``<id>`` as in ``job-3``),
  ``POST /jobs/<id>/trigger`` (run a job now, ``202 Accepted``), ``GET /metrics``.

The scheduler and the server share one nursery; SIGINT or SIGTERM stops the scheduler
gracefully, and the server stops with it.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime
from functools import partial

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

import turnkeeper_trio as tk
from turnkeeper_trio.web import Dashboard


async def refresh_cache() -> None:
    """Stands for real periodic work."""
    await trio.sleep(0.1)


async def nightly_report() -> None:
    """Stands for a daily batch job."""
    await trio.sleep(0.5)


async def rebuild_index() -> None:
    """Runs only when triggered (POST /jobs/<id>/trigger)."""
    await trio.sleep(0.2)


async def add_jobs(scheduler: tk.Scheduler) -> None:
    """The service's scheduled work."""
    await scheduler.add_job(tk.Interval(10), refresh_cache, name="refresh-cache", timeout=5)
    await scheduler.add_job(
        tk.Cron("0 2 * * *"),
        nightly_report,
        name="nightly-report",
        retry=tk.ExponentialBackoff(max_retries=3, initial=60),
    )
    await scheduler.add_job(tk.Never(), rebuild_index, name="rebuild-index")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _summary(job: tk.JobSummary | tk.JobDetails) -> dict[str, object]:
    return {
        "id": str(job.id),
        "name": job.name,
        "state": job.state.value,
        "next_run_at": _iso(job.next_run_at),
    }


def _details(details: tk.JobDetails) -> dict[str, object]:
    return {
        **_summary(details),
        "runs": details.runs,
        "last_runs": [
            {
                "scheduled_for": record.scheduled_for.isoformat(),
                "outcome": record.outcome.value,
                "duration_s": round(record.duration, 6),
                "triggered": record.triggered,
            }
            for record in details.last_runs
        ],
    }


class StatusApp:
    """The ASGI application: reads the scheduler, triggers jobs."""

    def __init__(self, scheduler: tk.Scheduler) -> None:
        self.scheduler = scheduler

    def _find(self, text: str) -> tk.JobId | None:
        for summary in self.scheduler.list_all_jobs():
            if str(summary.id) == text:
                return summary.id
        return None

    async def _route(self, method: str, path: str) -> tuple[int, object]:
        parts = [part for part in path.split("/") if part]
        if method == "GET" and parts == ["jobs"]:
            return 200, [_summary(s) for s in self.scheduler.list_all_jobs()]
        if method == "GET" and parts == ["metrics"]:
            snapshot = self.scheduler.get_metrics_snapshot()
            fields = ("runs_started", "runs_succeeded", "runs_errored", "workers_active")
            return 200, {name: getattr(snapshot, name) for name in fields}
        if len(parts) >= 2 and parts[0] == "jobs":
            job_id = self._find(parts[1])
            if job_id is None:
                return 404, {"error": f"no job {parts[1]}"}
            if method == "GET" and len(parts) == 2:
                return 200, _details(self.scheduler.get_job_details(job_id))
            if method == "POST" and parts[2:] == ["trigger"]:
                try:
                    await self.scheduler.trigger_job(job_id)
                except tk.JobFinished:
                    return 409, {"error": f"{parts[1]} has finished"}
                return 202, {"triggered": parts[1]}
        return 404, {"error": f"no route for {method} {path}"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        status, payload = await self._route(scope["method"], scope["path"])
        body = json.dumps(payload, indent=2).encode()
        start = {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})


def service_app(scheduler: tk.Scheduler, token: str | None) -> Starlette:
    """The service's routes: the dashboard at ``/dashboard``, the JSON API at the root."""
    return Starlette(
        routes=[
            Mount("/dashboard", app=Dashboard(scheduler, token=token, title="web_service")),
            Mount("/", app=StatusApp(scheduler)),
        ]
    )


async def serve_status(
    scheduler: tk.Scheduler,
    port: int,
    token: str | None = None,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the service on localhost until the scheduler stops; report the base URL."""
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    app = service_app(scheduler, token)
    # hypercorn's ASGI types are narrower than Starlette's; the app is a plain ASGI app.
    server = partial(serve, app, config, shutdown_trigger=scheduler.wait_stopped)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(server)
        task_status.started(urls[0])


async def stop_on_signal(scheduler: tk.Scheduler) -> None:
    """Stop the scheduler gracefully on SIGINT or SIGTERM."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            await scheduler.shutdown_graceful(timeout=30)
            return


async def main(
    port: int = 8000, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    """The whole service, until SIGINT or SIGTERM."""
    async with tk.open_scheduler(max_workers=4) as scheduler, trio.open_nursery() as nursery:
        await add_jobs(scheduler)
        nursery.start_soon(stop_on_signal, scheduler)
        token = os.environ.get("DASHBOARD_TOKEN") or None
        url = await nursery.start(serve_status, scheduler, port, token)
        mode = "actions after login" if token else "read-only: set DASHBOARD_TOKEN for actions"
        print(f"serving on {url}: try {url}/jobs, or {url}/dashboard/ ({mode})", flush=True)
        task_status.started(url)
        await scheduler.wait_stopped()
        nursery.cancel_scope.cancel()
    print("stopped cleanly", flush=True)


if __name__ == "__main__":
    trio.run(main)
