"""A Trio service that runs scheduled jobs and serves their metrics on localhost.

    python -m examples.prometheus_service      # then: curl http://127.0.0.1:9108/metrics

Needs the optional extra: ``pip install -e ".[prometheus]"`` in a clone.  The HTTP side is a few
lines of plain Trio (``trio.serve_tcp``), so the service has no thread and no web framework.
"""

from __future__ import annotations

from functools import partial

import trio
from prometheus_client import CollectorRegistry, generate_latest

import turnkeeper_trio as tk
from turnkeeper_trio.prometheus import SchedulerCollector


async def serve_metrics(registry: CollectorRegistry, stream: trio.SocketStream) -> None:
    """Answer one HTTP request with the registry's exposition text."""
    async with stream:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return
            request += chunk
        body = generate_latest(registry)
        ok = request.startswith(b"GET /metrics ")
        status = b"200 OK" if ok else b"404 Not Found"
        await stream.send_all(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; version=0.0.4\r\n"
            b"Content-Length: " + str(len(body) if ok else 0).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + (body if ok else b"")
        )


async def heartbeat() -> None:
    pass


async def main(
    port: int = 9108, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run a scheduler and the metrics endpoint until cancelled; report the bound port."""
    async with tk.open_scheduler(max_workers=2) as scheduler, trio.open_nursery() as nursery:
        await scheduler.add_job(tk.Interval(1), heartbeat, name="heartbeat")
        registry = CollectorRegistry()
        registry.register(SchedulerCollector({"main": scheduler}))
        listeners = await nursery.start(
            partial(trio.serve_tcp, partial(serve_metrics, registry), port, host="127.0.0.1")
        )
        task_status.started(listeners[0].socket.getsockname()[1])


if __name__ == "__main__":
    trio.run(main)
