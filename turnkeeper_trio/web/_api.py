"""The dashboard's JSON API: what its pages show, and the actions they offer, for scripts.

Served beside the pages, under the dashboard's mount (``{mount}/api/...``):

- ``GET api/jobs``: every job, one summary each;
- ``GET api/jobs/{key}``: one job's details;
- ``GET api/jobs/{key}/runs``: its last runs, latest first;
- ``POST api/jobs/{key}/{action}``: ``pause``, ``resume``, ``trigger`` (a JSON body may give
  ``{"idempotency_key": "..."}``), ``cancel`` (``{"interrupt": true}``) and ``interrupt``;
  each is logged (INFO, logger ``turnkeeper_trio.web``) with the body's ``note``, if any.

Authentication is the dashboard's token as a bearer header (``Authorization: Bearer ...``,
compared in constant time), never a cookie, so a browser cannot be made to send it on
another site's behalf and no CSRF token is needed.  Reads follow the pages' rule: anyone
who can reach the dashboard may read (a wrong token, when one is sent to a dashboard that
has one, is refused so that a script learns of it).  Actions need the token; a dashboard
made without one refuses them (403).  Errors are ``{"error": "..."}`` with the status.

Uses only the public package, as the pages do, and never shows a job's argument values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote_to_bytes

try:
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('turnkeeper_trio.web needs the "web" extra') from exc

import turnkeeper_trio as tk

__all__ = ["API_ACTIONS", "JobsApi", "job_json", "run_json", "summary_json"]

#: The actions the API offers: those of the pages, and nothing more.
API_ACTIONS = ("pause", "resume", "trigger", "cancel", "interrupt")
_MAX_BODY = 16 * 1024
#: Every method is routed here, so that a wrong one gets a JSON 405 (not an HTML page).
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


class _Refused(Exception):
    """A request answered with ``{"error": message}`` and *status*."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def summary_json(details: tk.JobDetails) -> dict[str, Any]:
    """One job as an item of ``GET api/jobs``: key, name, state, next run, schedule."""
    return {
        "key": details.id.key,
        "name": details.name,
        "state": details.state.value,
        "next_run_at": _iso(details.next_run_at),
        "schedule": repr(details.schedule),
    }


def run_json(record: tk.RunRecord) -> dict[str, Any]:
    """One attempt, as an item of ``GET api/jobs/{key}/runs``."""
    error = record.error
    return {
        "run_id": record.run_id,
        "attempt": record.attempt,
        "scheduled_for": _iso(record.scheduled_for),
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at),
        "duration": record.duration,
        "outcome": record.outcome.value,
        "triggered": record.triggered,
        "error": None
        if error is None
        else {"type": error.type, "message": error.message, "traceback": error.traceback},
    }


def job_json(details: tk.JobDetails) -> dict[str, Any]:
    """One job's details, as ``GET api/jobs/{key}`` answers (never its argument values)."""
    counts = details.counts
    error = details.error
    return {
        **summary_json(details),
        "function": details.function,
        "arguments": details.arguments,
        "retry": None if details.retry is None else repr(details.retry),
        "timeout": details.timeout,
        "lifetime": repr(details.lifetime),
        "misfire": repr(details.misfire),
        "on_crash": details.on_crash,
        "quarantine_after": details.quarantine_after,
        "quarantined": details.quarantined,
        "consecutive_failures": details.consecutive_failures,
        "jitter": details.jitter,
        "added_at": _iso(details.added_at),
        "attempt": details.attempt,
        "runs": details.runs,
        "misfires": details.misfires,
        "trigger_pending": details.trigger_pending,
        "counts": {
            "succeeded": counts.succeeded,
            "failed": counts.failed,
            "errored": counts.errored,
            "timed_out": counts.timed_out,
            "cancelled": counts.cancelled,
        },
        "error": None
        if error is None
        else {"type": error.type, "message": error.message, "traceback": error.traceback},
        "skipped": [
            {
                "first": _iso(skip.first),
                "last": _iso(skip.last),
                "count": skip.count,
                "reason": skip.reason,
                "exact": skip.exact,
            }
            for skip in details.skipped
        ],
    }


class JobsApi:
    """The JSON API of one dashboard (its routes are mounted beside the pages).

    Args:
        scheduler: the dashboard's scheduler.
        is_token: checks a bearer token in constant time; ``None`` for a read-only
            dashboard (actions refused with 403).
    """

    def __init__(self, scheduler: tk.Scheduler, is_token: Callable[[str], bool] | None) -> None:
        self.scheduler = scheduler
        self.is_token = is_token

    def routes(self) -> list[Route]:
        """The Starlette routes, relative to the dashboard's root."""
        return [
            Route("/api/jobs", self._list, methods=_METHODS),
            Route("/api/jobs/{rest:path}", self._job, methods=_METHODS),
            Route("/api/{rest:path}", self._elsewhere, methods=_METHODS),
        ]

    # ------------------------------------------------------------------ plumbing

    def _check_token(self, request: Request, *, required: bool) -> None:
        header = request.headers.get("authorization")
        if self.is_token is None:
            if required:
                raise _Refused(403, "This dashboard is read-only: it was started without a token.")
            return  # reads are open, as the pages are
        if header is None:
            if required:
                raise _Refused(
                    401,
                    "An action needs the dashboard's token: Authorization: Bearer <token>.",
                    {"www-authenticate": "Bearer"},
                )
            return
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not self.is_token(given.strip()):
            raise _Refused(401, "The bearer token is wrong.", {"www-authenticate": "Bearer"})

    async def _answer(
        self, request: Request, handler: Callable[[Request], Awaitable[Any]]
    ) -> Response:
        try:
            body = await handler(request)
        except _Refused as refused:
            return JSONResponse(
                {"error": refused.message},
                refused.status,
                headers={**_HEADERS, **refused.headers},
            )
        return JSONResponse(body, headers=_HEADERS)

    def _find(self, key: str) -> tk.JobDetails:
        for summary in self.scheduler.list_all_jobs():
            if summary.id.key == key:
                try:
                    return self.scheduler.get_job_details(summary.id)
                except tk.JobNotFound:
                    break  # aged out between the list and the details
        raise _Refused(404, f"No job with key {key!r} (it may have finished and aged out).")

    # ------------------------------------------------------------------ reads

    async def _list(self, request: Request) -> Response:
        return await self._answer(request, self._listing)

    async def _elsewhere(self, request: Request) -> Response:
        return await self._answer(request, _nothing_here)

    async def _listing(self, request: Request) -> list[dict[str, Any]]:
        _method(request, "GET", "HEAD")
        self._check_token(request, required=False)
        items = []
        for summary in self.scheduler.list_all_jobs():
            try:
                items.append(summary_json(self.scheduler.get_job_details(summary.id)))
            except tk.JobNotFound:  # aged out between the list and the details
                continue
        return items

    async def _job(self, request: Request) -> Response:
        return await self._answer(request, self._one)

    async def _one(self, request: Request) -> Any:
        key, tail = _key_and_tail(request)
        if tail is not None and tail != "runs" and tail not in API_ACTIONS:
            raise _Refused(404, f"No {tail!r} here: runs, or an action ({', '.join(API_ACTIONS)}).")
        if tail is None or tail == "runs":
            _method(request, "GET", "HEAD")
            self._check_token(request, required=False)
            details = self._find(key)
            if tail is None:
                return job_json(details)
            return [run_json(r) for r in reversed(details.last_runs)]
        _method(request, "POST")
        self._check_token(request, required=True)
        options = await _options(request)
        return await self._act(key, tail, options)

    # ------------------------------------------------------------------ actions

    async def _act(self, key: str, action: str, options: dict[str, Any]) -> dict[str, Any]:
        s = self.scheduler
        job_id = self._find(key).id
        note = options.get("note")
        if note is not None and (not isinstance(note, str) or not 1 <= len(note) <= 500):
            raise _Refused(400, "note must be a string of 1 to 500 characters")
        # The audit line (the scheduler keeps no note): what was asked, of which job, why.
        logging.getLogger("turnkeeper_trio.web").info(
            "api: %s %r%s", action, key, "" if note is None else f" (note: {note!r})"
        )
        done = True
        try:
            if action == "pause":
                await s.pause_job(job_id)
            elif action == "resume":
                await s.resume_job(job_id)
            elif action == "trigger":
                idempotency_key = options.get("idempotency_key")
                if idempotency_key is not None and not isinstance(idempotency_key, str):
                    raise _Refused(400, "idempotency_key must be a string")
                await s.trigger_job(job_id, idempotency_key=idempotency_key)
            elif action == "cancel":
                interrupt = options.get("interrupt", False)
                if not isinstance(interrupt, bool):
                    raise _Refused(400, "interrupt must be true or false")
                await s.cancel_job(job_id, interrupt=interrupt)
            else:
                done = await s.interrupt_job(job_id)
        except (tk.SchedulerClosed, tk.SchedulerNotRunning) as exc:
            raise _Refused(503, f"The scheduler is not running: {exc}") from None
        except tk.JobNotFound:
            raise _Refused(404, f"No job with key {key!r}.") from None
        except (ValueError, TypeError) as exc:  # InvalidArgument: a bad idempotency key
            raise _Refused(400, f"Cannot {action} {key!r}: {exc}") from None
        except tk.TurnKeeperError as exc:  # JobFinished, JobNotLoaded, a store's error
            raise _Refused(409, f"Cannot {action} {key!r}: {exc}") from None
        try:
            job: dict[str, Any] | None = summary_json(s.get_job_details(job_id))
        except tk.JobNotFound:
            job = None
        return {"key": key, "action": action, "done": done, "job": job}


async def _nothing_here(request: Request) -> Any:
    raise _Refused(404, "No such address in the API: api/jobs, api/jobs/<key>, ...")


def _method(request: Request, *allowed: str) -> None:
    if request.method not in allowed:
        raise _Refused(
            405,
            f"This address does not answer a {request.method} request.",
            {"allow": ", ".join(allowed)},
        )


def _key_and_tail(request: Request) -> tuple[str, str | None]:
    """The job's key and what follows it (``runs``, an action, or ``None``).

    A key may hold ``/`` (sent as ``%2F``): the server decodes the path, so the key's
    segment is read from the raw path when the server gives it.
    """
    rest: str = request.path_params["rest"]
    segments = _raw_segments(request, rest) or rest.split("/")
    if len(segments) == 1 and segments[0]:
        return segments[0], None
    if len(segments) == 2 and segments[0] and segments[1]:
        return segments[0], segments[1]
    raise _Refused(404, "Address a job as api/jobs/<key>, with a / in the key sent as %2F.")


def _raw_segments(request: Request, rest: str) -> list[str] | None:
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return None
    parts = raw.split(b"?")[0].split(b"/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i : i + 2] == [b"api", b"jobs"]:
            tail = parts[i + 2 :]
            try:
                decoded = [unquote_to_bytes(p).decode("utf-8") for p in tail]
            except UnicodeDecodeError:
                return None
            if "/".join(decoded) == rest:
                return decoded
    return None


async def _options(request: Request) -> dict[str, Any]:
    """An action's JSON body (an object), or ``{}`` when there is none."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise _Refused(413, "The body is too large.")
    if not body.strip():
        return {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _Refused(415, "Send an action's options as application/json.")
    try:
        options = json.loads(body)
    except ValueError:
        raise _Refused(400, "The body is not JSON.") from None
    if not isinstance(options, dict):
        raise _Refused(400, "The body must be a JSON object.")
    return options
