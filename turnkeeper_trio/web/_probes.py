"""``/healthz`` and ``/readyz``: the scheduler's health for an orchestrator's probes.

Unauthenticated, and they say only ``ok`` (200) or ``not ok`` (503): the reasons
(``Scheduler.health().reasons``) may name a database, so they stay in the logs.  Plain ASGI,
no Starlette: a probe must answer even when the dashboard's own machinery would not.
"""

from __future__ import annotations

from .._scheduler import Scheduler

try:
    from starlette.types import Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('turnkeeper_trio.web needs the "web" extra') from exc

__all__ = ["PROBE_PATHS", "Probes", "answer_probe"]

#: The probe paths, and which part of the health each one reports.
PROBE_PATHS = {"/healthz": "live", "/readyz": "ready"}
_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


async def answer_probe(scheduler: Scheduler, path: str, scope: Scope, send: Send) -> None:
    """Answer the probe at *path* (one of ``PROBE_PATHS``): 200 ``ok`` or 503 ``not ok``."""
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        await _send(send, 405, b"", [(b"allow", b"GET, HEAD")], method)
        return
    health = scheduler.health()
    good = health.live if PROBE_PATHS[path] == "live" else health.ready
    await _send(send, 200 if good else 503, b"ok\n" if good else b"not ok\n", [], method)


async def _send(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], method: str
) -> None:
    length = [(b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": _HEADERS + headers + length}
    )
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


class Probes:
    """An ASGI application that serves only ``/healthz`` and ``/readyz`` (404 elsewhere).

    For a service that wants the probes without the dashboard (``Dashboard`` serves them
    too).  ``/healthz`` answers 200 ``ok`` while ``scheduler.health().live``, else 503
    ``not ok``; ``/readyz`` the same for ``ready``.  Unauthenticated, and nothing else is
    said: the reasons go to the logs, not to whoever can reach the port.

    Args:
        scheduler: the scheduler to report on.

    Example:
        ```python
        from hypercorn.config import Config
        from hypercorn.trio import serve
        from turnkeeper_trio.web import Probes

        config = Config()
        config.bind = ["0.0.0.0:8080"]
        nursery.start_soon(serve, Probes(scheduler), config)
        ```
    """

    def __init__(self, scheduler: Scheduler) -> None:
        if not isinstance(scheduler, Scheduler):
            raise TypeError(
                f"scheduler must be a turnkeeper_trio.Scheduler, got {type(scheduler).__name__}"
            )
        self.scheduler = scheduler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
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
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path in PROBE_PATHS:
            await answer_probe(self.scheduler, path, scope, send)
        else:
            await _send(send, 404, b"not found\n", [], scope.get("method", "GET"))
