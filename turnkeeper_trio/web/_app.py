"""``Dashboard``: the ASGI application (Starlette for routing and requests, Jinja2 for pages).

Why these parts: Starlette is a small, well-kept ASGI toolkit that runs on Trio (through
AnyIO), so its routing, request parsing, cookies and responses need not be written again;
Jinja2 escapes every value by default, which is what makes a job named
``<script>alert(1)</script>`` harmless. Nothing here starts a thread: the static files are
read once, at construction, and served from memory (Starlette's ``StaticFiles`` would read
them in a worker thread), form bodies are parsed with the standard library, and Starlette's
own refusals (404, 405) go through an async handler here (older Starlettes run their default
one in a worker thread).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode

import trio

try:
    import jinja2
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, RedirectResponse, Response
    from starlette.routing import Route
    from starlette.types import Message, Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'turnkeeper_trio.web needs the "web" extra: pip install -e ".[web]" in a clone of '
        'the repository (pip install "turnkeeper-trio[web]" once it is on an index)'
    ) from exc

from .._events import Event, JobEvent, RunFinished, Subscription
from .._exceptions import (
    InvalidArgument,
    JobFinished,
    JobNotFound,
    JobNotLoaded,
    SchedulerClosed,
    SchedulerNotRunning,
    TurnKeeperError,
)
from .._models import JobId, JobState
from .._postgres import PostgresStore
from .._scheduler import Scheduler
from .._store import StoreError
from . import _present as present
from ._api import JobsApi
from ._paths import confine
from ._probes import PROBE_PATHS, answer_probe
from ._sessions import Session, Sessions, check_token, same

__all__ = ["Dashboard"]

#: The actions the pages offer, each a POST to ``actions/<name>``.
ACTIONS = ("pause", "resume", "trigger", "cancel", "interrupt")
_DONE = {
    "pause": "paused",
    "resume": "resumed",
    "trigger": "triggered",
    "cancel": "cancelled",
    "interrupt": "interrupted",
}
#: What the page says after an action, by the ``done`` query value (and whether it did it).
_NOTICES = {
    **{done: (f"Done: {done}.", True) for done in _DONE.values()},
    "not-running": ("Nothing was running: there was no attempt to interrupt.", False),
}
_COOKIE = "turnkeeper_session"
_MAX_FORM = 16 * 1024
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class _Refused(Exception):
    """A request the dashboard answers with an error page (status, message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _check_int(name: str, value: object, minimum: int, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if not minimum <= value <= maximum:
        raise InvalidArgument(f"{name} must be between {minimum} and {maximum}, got {value!r}")
    return value


class Dashboard:
    """An operator's web page for a running scheduler: jobs, runs, metrics and replicas.

    An ASGI application: serve it with any ASGI server that runs on Trio (hypercorn's trio
    worker is the reference), alone or mounted beside the service's own routes, in the same
    Trio run as the scheduler.

    Args:
        scheduler: the scheduler to show (running, or stopped: a stopped one is read-only).
        token: the secret that enables actions (pause, resume, trigger, cancel, interrupt).
            Without it the dashboard is read-only and offers no login. With it, logging in
            by the token sets a session cookie (HttpOnly, SameSite=Strict, Secure over
            https) valid for *session_max_age* seconds of the scheduler's wall clock, and
            every state-changing request must be a POST carrying the page's CSRF token.
            A random secret: at least 16 characters, at least 5 different ones, no
            whitespace at either end; make one with
            ``python -c "import secrets; print(secrets.token_urlsafe(32))"``. Logging out
            ends a session on this dashboard; ``revoke_sessions()`` ends them all here;
            changing the token ends them on every replica.
        title: the name shown in the page header and the browser tab.
        page_size: jobs per page on the jobs page (1 to 1000).
        session_max_age: seconds a login lasts (60 to 30 days).

    Raises:
        TypeError: an argument of the wrong type (naming it).
        InvalidArgument: a weak token (blank, shorter than 16 characters, whitespace at
            either end, fewer than 5 different characters), or a size out of range.

    Example:
        ```python
        from hypercorn.config import Config
        from hypercorn.trio import serve
        from turnkeeper_trio.web import Dashboard

        async with tk.open_scheduler(max_workers=4) as scheduler:
            app = Dashboard(scheduler, token=os.environ["DASHBOARD_TOKEN"])
            config = Config()
            config.bind = ["127.0.0.1:8000"]
            await serve(app, config)
        ```
    """

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        token: str | None = None,
        title: str = "turnkeeper_trio",
        page_size: int = 50,
        session_max_age: float = 12 * 3600,
    ) -> None:
        if not isinstance(scheduler, Scheduler):
            raise TypeError(
                f"scheduler must be a turnkeeper_trio.Scheduler, got {type(scheduler).__name__}"
            )
        token = check_token(token)
        if not isinstance(title, str):
            raise TypeError(f"title must be a str, got {type(title).__name__} {title!r}")
        self.scheduler = scheduler
        self.title = title
        self.page_size = _check_int("page_size", page_size, 1, 1000)
        if not isinstance(session_max_age, int | float) or isinstance(session_max_age, bool):
            raise TypeError(f"session_max_age must be a number, got {session_max_age!r}")
        if not 60 <= session_max_age <= 30 * 86400:
            raise InvalidArgument(
                f"session_max_age must be between 60 s and 30 days, got {session_max_age!r}"
            )
        self.session_max_age = float(session_max_age)
        self._sessions = None if token is None else Sessions(token, self.session_max_age, self._now)
        package = resources.files(__package__)
        self._static = {
            name: (package / "static" / name).read_bytes()
            for name in ("dashboard.css", "dashboard.js")
        }
        self._templates = jinja2.Environment(
            loader=jinja2.PackageLoader(__package__, "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates.filters["seconds"] = _seconds_text
        routes = [
            Route("/", self._jobs, name="jobs"),
            Route("/job", self._job, name="job"),
            Route("/metrics", self._metrics, name="metrics"),
            Route("/replicas", self._replicas, name="replicas"),
            Route("/login", self._login, methods=["GET", "POST"], name="login"),
            Route("/logout", self._logout, methods=["POST"], name="logout"),
            Route("/actions/{action}", self._action, methods=["POST"], name="action"),
            Route("/static/{name}", self._static_file, name="static"),
            # The JSON API (``_api.py``): the same reads and actions, by bearer token.
            *JobsApi(
                scheduler, None if self._sessions is None else self._sessions.is_token
            ).routes(),
        ]
        self._app = Starlette(routes=routes, exception_handlers={HTTPException: self._http_refusal})
        self._events = _EventStream(scheduler)

    @property
    def read_only(self) -> bool:
        """Whether actions are off (no ``token`` was given)."""
        return self._sessions is None

    def revoke_sessions(self) -> None:
        """End every session of this dashboard now: each operator must log in again.

        Copies of their cookies are refused from now on. This reaches this dashboard
        only: with replicas, each serving a ``Dashboard`` with the same token, call it on
        each, or change the token (and restart them), which ends every session everywhere.
        Does nothing on a read-only dashboard.

        Example:
            ```python
            dashboard = Dashboard(scheduler, token=token)
            ...
            dashboard.revoke_sessions()  # a laptop was lost: everybody logs in again
            ```
        """
        if self._sessions is not None:
            self._sessions.end_all()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] == "http" and _route_path(scope) == "/events":
            await self._events(scope, receive, send)
            return
        if scope["type"] == "http" and _route_path(scope) in PROBE_PATHS:
            await answer_probe(self.scheduler, _route_path(scope), scope, send)
            return
        await self._app(scope, receive, send)

    # ------------------------------------------------------------------ sessions

    def _session(self, request: Request) -> Session | None:
        """The session of a valid, live session cookie, or ``None``."""
        if self._sessions is None:
            return None
        return self._sessions.check(request.cookies.get(_COOKIE, ""))

    def _now(self) -> float:
        """Now, by the scheduler's wall clock (the database's, with ``PostgresStore``)."""
        return self.scheduler.wall_clock.now().timestamp()

    def _authorize(self, request: Request, form: dict[str, str]) -> Session:
        if self._sessions is None:
            raise _Refused(403, "This dashboard is read-only: it was started without a token.")
        session = self._session(request)
        if session is None:
            raise _Refused(403, "Log in with the dashboard's token first.")
        if not same(form.get("csrf", ""), self._sessions.csrf(session)):
            raise _Refused(403, "The form's CSRF token is missing or wrong: reload the page.")
        return session

    # ------------------------------------------------------------------ rendering

    def _render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        session = self._session(request)
        csrf = "" if session is None or self._sessions is None else self._sessions.csrf(session)
        base = _base(request)
        html = self._templates.get_template(template).render(
            title=self.title,
            base=base,
            page=template.removesuffix(".html"),
            read_only=self.read_only,
            logged_in=session is not None,
            csrf=csrf,
            state_text=_scheduler_state(self.scheduler),
            here=_here(request),
            **context,
        )
        return HTMLResponse(html, status, headers=_SECURITY_HEADERS)

    def _error(self, request: Request, refused: _Refused) -> HTMLResponse:
        return self._render(request, "message.html", refused.status, message=refused.message)

    async def _http_refusal(self, request: Request, exc: Exception) -> Response:
        """Starlette's own refusals (no such page, wrong method) as the dashboard's pages."""
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            message = "There is no such page on this dashboard."
        elif exc.status_code == 405:
            message = f"This address does not answer a {request.method} request."
        else:  # pragma: no cover - Starlette raises no other status here
            message = exc.detail
        response = self._error(request, _Refused(exc.status_code, message))
        response.headers.update(exc.headers or {})
        return response

    async def _guarded(
        self, request: Request, handler: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        try:
            return await handler(request)
        except _Refused as refused:
            return self._error(request, refused)

    # ------------------------------------------------------------------ pages

    async def _jobs(self, request: Request) -> Response:
        return await self._guarded(request, self._jobs_page)

    async def _jobs_page(self, request: Request) -> Response:
        query = request.query_params
        state_text = query.get("state", "")
        state = None
        if state_text:
            try:
                state = JobState(state_text)
            except ValueError:
                raise _Refused(
                    400, f"state must be one of {_states()}, got {state_text!r}"
                ) from None
        sort = query.get("sort", "next")
        if sort not in present.SORTS:
            raise _Refused(400, f"sort must be one of {', '.join(present.SORTS)}, got {sort!r}")
        order = query.get("order", "asc")
        if order not in ("asc", "desc"):
            raise _Refused(400, f"order must be asc or desc, got {order!r}")
        number = _page_number(query.get("page", "1"))
        name = query.get("name", "")[:200]
        page = present.page_of(
            self.scheduler.list_all_jobs(),
            state=state,
            name=name,
            sort=sort,
            descending=order == "desc",
            number=number,
            size=self.page_size,
        )
        rows = []
        for summary in page.items:
            try:
                rows.append(present.job_row(self.scheduler.get_job_details(summary.id)))
            except JobNotFound:  # aged out between the list and the details
                continue
        filters = {"state": state_text, "name": name, "sort": sort, "order": order}
        await trio.lowlevel.checkpoint()
        return self._render(
            request,
            "jobs.html",
            rows=rows,
            listing=page,
            filters=filters,
            states=[s.value for s in JobState],
            sorts=present.SORTS,
            link=lambda **changes: "?" + urlencode({**filters, **changes}),
            done=_done(query.get("done", "")),
        )

    def _find(self, key: str) -> JobId:
        for summary in self.scheduler.list_all_jobs():
            if summary.id.key == key:
                return summary.id
        raise _Refused(404, f"No job with key {key!r} (it may have finished and aged out).")

    async def _job(self, request: Request) -> Response:
        return await self._guarded(request, self._job_page)

    async def _job_page(self, request: Request) -> Response:
        key = request.query_params.get("key", "")
        if not key:
            raise _Refused(400, "key is required: /job?key=<the job's key>")
        job_id = self._find(key)
        try:
            details = self.scheduler.get_job_details(job_id)
        except JobNotFound:
            raise _Refused(404, f"No job with key {key!r} (it has aged out).") from None
        tz = present.zone_of(details.schedule)
        now = self.scheduler.wall_clock.now()
        preview_error: str | None = None
        try:
            fires = present.job_fires(details, now)
        except Exception as exc:  # a user-defined schedule or lifetime failed: show why
            fires = present.JobFires(())
            preview_error = f"{type(exc).__name__}: {exc}"
        runs = [
            {
                "record": record,
                "scheduled": present.moment(record.scheduled_for, tz),
                "started": present.moment(record.started_at, tz),
            }
            for record in reversed(details.last_runs)
        ]
        skipped = [
            {
                "range": skip,
                "first": present.moment(skip.first, tz),
                "last": present.moment(skip.last, tz),
            }
            for skip in details.skipped
        ]
        await trio.lowlevel.checkpoint()
        return self._render(
            request,
            "job.html",
            details=details,
            key=key,
            row=present.job_row(details),
            added=present.moment(details.added_at, tz),
            fires=fires,
            preview_error=preview_error,
            runs=runs,
            skipped=skipped,
            done=_done(request.query_params.get("done", "")),
        )

    async def _metrics(self, request: Request) -> Response:
        snapshot = self.scheduler.get_metrics_snapshot()
        await trio.lowlevel.checkpoint()
        return self._render(
            request,
            "metrics.html",
            counters=present.figures(snapshot, present.COUNTERS),
            gauges=present.figures(snapshot, present.GAUGES),
            charts=[
                present.chart("Dispatch lateness", snapshot.dispatch_lateness),
                present.chart("Run duration", snapshot.run_duration),
            ],
            finished=snapshot.runs_finished,
        )

    async def _replicas(self, request: Request) -> Response:
        store = self.scheduler.store
        if not isinstance(store, PostgresStore):
            return self._render(
                request, "replicas.html", replicas=None, store=type(store).__name__, error=None
            )
        try:
            replicas = await store.replicas()
        except StoreError as exc:
            return self._render(
                request,
                "replicas.html",
                status=503,
                replicas=None,
                store="PostgresStore",
                error=str(exc),
            )
        return self._render(
            request, "replicas.html", replicas=replicas, store="PostgresStore", error=None
        )

    # ------------------------------------------------------------------ login

    async def _login(self, request: Request) -> Response:
        if self._sessions is None:
            return self._error(
                request,
                _Refused(403, "This dashboard is read-only: it was started without a token."),
            )
        if request.method == "GET":
            return self._render(request, "login.html", wrong=False)
        form = await _form(request)
        if not self._sessions.is_token(form.get("token", "")):
            return self._render(request, "login.html", status=403, wrong=True)
        response = RedirectResponse(_base(request) + "/", status_code=303)
        response.set_cookie(
            _COOKIE,
            self._sessions.issue(),
            max_age=int(self.session_max_age),
            path=_base(request) + "/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    async def _logout(self, request: Request) -> Response:
        return await self._guarded(request, self._log_out)

    async def _log_out(self, request: Request) -> Response:
        session = self._authorize(request, await _form(request))
        assert self._sessions is not None  # authorized
        self._sessions.end(session)  # a copy of the cookie is refused from now on
        response = RedirectResponse(_base(request) + "/", status_code=303)
        response.delete_cookie(_COOKIE, path=_base(request) + "/", httponly=True, samesite="strict")
        return response

    # ------------------------------------------------------------------ actions

    async def _action(self, request: Request) -> Response:
        return await self._guarded(request, self._act)

    async def _act(self, request: Request) -> Response:
        form = await _form(request)
        self._authorize(request, form)
        action = request.path_params["action"]
        if action not in ACTIONS:
            raise _Refused(404, f"No action {action!r}: one of {', '.join(ACTIONS)}.")
        job_id = self._find(form.get("key", ""))
        s = self.scheduler
        done = _DONE[action]
        try:
            if action == "pause":
                await s.pause_job(job_id)
            elif action == "resume":
                await s.resume_job(job_id)
            elif action == "trigger":
                await s.trigger_job(job_id)
            elif action == "cancel":
                await s.cancel_job(job_id, interrupt=form.get("interrupt") == "1")
            elif not await s.interrupt_job(job_id):
                done = "not-running"
        except (SchedulerClosed, SchedulerNotRunning) as exc:
            raise _Refused(503, f"The scheduler is not running: {exc}") from None
        except (JobFinished, JobNotLoaded, JobNotFound) as exc:
            raise _Refused(409, f"Cannot {action} {job_id.key!r}: {exc}") from None
        except TurnKeeperError as exc:
            raise _Refused(409, f"Cannot {action} {job_id.key!r}: {exc}") from None
        base = _base(request)
        if "back" not in form:  # a form of its own: the job's page
            back = f"{base}/job?{urlencode({'key': job_id.key})}"
        else:  # where the click was, if that is within the dashboard; else its root
            back = confine(form["back"], base) or f"{base}/"
        separator = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{separator}done={done}", status_code=303)

    # ------------------------------------------------------------------ static files

    async def _static_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = self._static.get(name)
        if body is None:
            return Response("not found", 404, media_type="text/plain")
        suffix = name[name.rindex(".") :]
        return Response(
            body,
            headers={
                "content-type": _STATIC_TYPES[suffix],
                "cache-control": "public, max-age=300",
                "x-content-type-options": "nosniff",
            },
        )


class _EventStream:
    """``GET events``: the scheduler's events as server-sent events, for live pages.

    Plain ASGI, so that the stream is one Trio nursery: one task forwards events, one waits
    for the client to go away. Events that arrive together are sent as one message.
    """

    #: Seconds between keep-alive comments when nothing happens (for proxies' idle timeouts).
    KEEPALIVE = 15.0

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, b"GET only")
            return
        try:
            subscription = self.scheduler.subscribe(buffer_size=256)
        except SchedulerClosed:
            await _plain(send, 204, b"")
            return
        with subscription:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-store"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            await send(
                {"type": "http.response.body", "body": b"retry: 3000\n\n", "more_body": True}
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_until_disconnect, receive, nursery.cancel_scope)
                await self._forward(subscription, send)
                nursery.cancel_scope.cancel()
        # The stream is over (the scheduler stopped, or the client left): end the response.
        with contextlib.suppress(OSError):  # a server may raise once the client is gone
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _forward(self, subscription: Subscription[Event], send: Send) -> None:
        while True:
            batch: list[Event] = []
            ended = False
            # Only the wait is bounded: a send is never cut off halfway.
            with trio.move_on_after(self.KEEPALIVE):
                try:
                    batch.append(await subscription.receive())
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    ended = True
            while batch and len(batch) < 100:
                try:
                    batch.append(subscription.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
            if batch:
                await _body(send, _message(batch))
            elif ended:
                await _body(send, b"event: closed\ndata: {}\n\n")
                return
            else:
                await _body(send, b": keep-alive\n\n")


def _message(batch: list[Event]) -> bytes:
    """One server-sent event naming what happened (the page reloads its own data)."""
    events = []
    for event in batch[-20:]:
        item: dict[str, Any] = {"type": type(event).__name__}
        if isinstance(event, JobEvent):
            item["key"] = event.job_id.key
            item["name"] = event.name
        if isinstance(event, RunFinished):
            item["outcome"] = event.outcome.value
        events.append(item)
    data = json.dumps({"count": len(batch), "events": events}, separators=(",", ":"))
    return f"event: update\ndata: {data}\n\n".encode()


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _until_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _base(request: Request) -> str:
    """The path the dashboard is mounted at (``""`` at the root)."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def _form(request: Request) -> dict[str, str]:
    """A url-encoded form body, first value of each field (no multipart: none is needed)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise _Refused(415, "Send the form as application/x-www-form-urlencoded.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            raise _Refused(413, "The form is too large.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, "The form could not be read.") from None
    return {name: values[0] for name, values in fields.items()}


def _page_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise _Refused(400, f"page must be a whole number, got {text!r}") from None
    if number < 1:
        raise _Refused(400, f"page must be 1 or more, got {number}")
    return number


def _states() -> str:
    return ", ".join(state.value for state in JobState)


def _done(text: str) -> dict[str, Any] | None:
    """What the page says after an action (``?done=...``), or ``None``."""
    notice = _NOTICES.get(text)
    return None if notice is None else {"text": notice[0], "ok": notice[1]}


def _scheduler_state(scheduler: Scheduler) -> str:
    return "stopped" if scheduler.stopped else "closing" if scheduler.closing else "running"


def _seconds_text(value: float | None) -> str:
    if value is None or math.isnan(value):
        return ""
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"
