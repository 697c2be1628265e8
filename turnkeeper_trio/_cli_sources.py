"""Where ``python -m turnkeeper_trio jobs`` reads jobs and sends commands: three back ends.

- ``HttpSource``: a running service's dashboard, through its JSON API (``web/_api.py``),
  with the standard library's ``urllib.request``.
- ``PostgresSource``: the database of ``PostgresStore`` replicas.  Reads the job and run
  tables; a command goes the way one replica sends it to another (a row in
  ``turnkeeper_commands`` and a ``NOTIFY``), then waits until the holder marks it applied.
- ``SqliteSource``: an ``SQLiteStore`` file, read only.

Every source answers with the same JSON values, those the API answers (documented in
"Operations"), so the command line prints them the same way whatever the back end.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from ._cli_rows import details_of, run_of, summary_of
from ._codec import Codecs
from ._durable import check_key
from ._exceptions import InvalidArgument
from ._store import StoreError

__all__ = ["CliError", "HttpSource", "PostgresSource", "Source", "SqliteSource"]

_FINAL = ("completed", "cancelled", "failed")


class CliError(Exception):
    """A message for the user (exit status 2)."""


class Source(Protocol):
    """What the command line needs of a back end."""

    def jobs(self) -> list[dict[str, Any]]:
        """Every job, as a summary."""
        ...

    def job(self, key: str) -> dict[str, Any]:
        """One job's details; ``CliError`` if there is none."""
        ...

    def runs(self, key: str, count: int) -> list[dict[str, Any]]:
        """The job's last *count* runs, latest first."""
        ...

    def act(self, key: str, action: str, options: dict[str, Any]) -> dict[str, Any]:
        """Apply *action*; return ``{"key", "action", "done", "job"}``."""
        ...


# ---------------------------------------------------------------------- HTTP


class HttpSource:
    """A dashboard's JSON API at *url* (the dashboard's address, its mount path included)."""

    def __init__(self, url: str, token: str | None, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CliError(f"--url {url!r} must be an http:// or https:// address")
        self.base = url.rstrip("/") + "/api/jobs"
        self.url = url
        self.token = token
        self.timeout = timeout

    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"accept": "application/json"}
        if self.token is not None:
            headers["authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method="GET" if body is None else "POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                error = _json_error(exc.read())
            if error is None:
                raise CliError(
                    f"{self.url}: HTTP {exc.code} without the API's answer: is it the "
                    "dashboard's address (its mount path included)?"
                ) from None
            raise CliError(f"{error} (HTTP {exc.code})") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach {self.url}: {reason}") from None
        try:
            return json.loads(text)
        except ValueError:
            raise CliError(f"{self.url}: the answer is not JSON: is it the dashboard?") from None

    def jobs(self) -> list[dict[str, Any]]:
        """Every job (``GET api/jobs``)."""
        answer: list[dict[str, Any]] = self._request("")
        return answer

    def job(self, key: str) -> dict[str, Any]:
        """One job (``GET api/jobs/{key}``)."""
        answer: dict[str, Any] = self._request("/" + quote(key, safe=""))
        return answer

    def runs(self, key: str, count: int) -> list[dict[str, Any]]:
        """The last runs (``GET api/jobs/{key}/runs``)."""
        answer: list[dict[str, Any]] = self._request("/" + quote(key, safe="") + "/runs")
        return answer[:count]

    def act(self, key: str, action: str, options: dict[str, Any]) -> dict[str, Any]:
        """``POST api/jobs/{key}/{action}``."""
        answer: dict[str, Any] = self._request(f"/{quote(key, safe='')}/{action}", options)
        return answer


def _json_error(body: bytes) -> str | None:
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    error = answer.get("error") if isinstance(answer, dict) else None
    return error if isinstance(error, str) else None


# ---------------------------------------------------------------------- PostgreSQL


class PostgresSource:
    """The tables of ``PostgresStore`` replicas, and their command path.

    It does not open the store: ``PostgresStore.open`` registers a replica (a row in
    ``turnkeeper_replicas``), loads every job and would take part in the lease rounds.  It
    uses the store's connection and transaction (the same settings and error messages,
    the DSN's password left out) and the very statements a replica runs to post a command
    and to see it applied (``PostgresStore.post`` and ``applied`` run them in a thread).
    """

    def __init__(self, dsn: str, wait: float) -> None:
        try:
            from ._postgres import PostgresStore

            self.store = PostgresStore(dsn, statement_timeout=max(wait, 1.0))
        except (InvalidArgument, TypeError) as exc:
            raise CliError(f"--dsn: {exc}") from None
        # The command's origin column says who sent it.
        self.store.replica_id = f"cli:{socket.gethostname()}:{os.getpid()}"
        self.wait = wait
        self.codecs = Codecs()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise CliError(
                "--dsn needs psycopg 3: install the 'postgres' extra (pip install -e "
                "'.[postgres]' in a clone of turnkeeper_trio)"
            ) from None
        try:
            with self.store._transaction() as cur:
                cur.execute("SELECT to_regclass('turnkeeper_jobs') IS NOT NULL")
                (exists,) = cur.fetchone() or (False,)
                if not exists:
                    raise CliError(
                        f"{self.store.describe()}: no turnkeeper_trio tables in this database "
                        "(no scheduler has opened a PostgresStore on it)"
                    )
                yield cur
        except StoreError as exc:
            raise CliError(str(exc)) from None

    def _row(self, cur: Any, key: str) -> tuple[Any, ...]:
        cur.execute(
            "SELECT key, phase, next_run_at, definition, state, lease_until > now() "
            "FROM turnkeeper_jobs WHERE key = %s",
            (key,),
        )
        row = cur.fetchone()
        if row is None:
            raise CliError(f"no job with key {key!r} in {self.store.describe()}")
        return tuple(row)

    def jobs(self) -> list[dict[str, Any]]:
        """Every stored job."""
        with self._cursor() as cur:
            cur.execute(
                "SELECT key, phase, next_run_at, definition, state FROM turnkeeper_jobs "
                "ORDER BY key"
            )
            return [summary_of(self.codecs, *row) for row in cur.fetchall()]

    def job(self, key: str) -> dict[str, Any]:
        """One stored job, with its skipped ranges."""
        with self._cursor() as cur:
            row = self._row(cur, key)
            cur.execute(
                "SELECT first, last, count, reason, exact FROM turnkeeper_skipped "
                "WHERE job_key = %s ORDER BY id",
                (key,),
            )
            return details_of(self.codecs, row[:5], cur.fetchall())

    def runs(self, key: str, count: int) -> list[dict[str, Any]]:
        """The job's last runs, latest first."""
        with self._cursor() as cur:
            self._row(cur, key)
            cur.execute(
                "SELECT data FROM turnkeeper_runs WHERE job_key = %s ORDER BY id DESC LIMIT %s",
                (key, count),
            )
            return [r for (data,) in cur.fetchall() if (r := run_of(data)) is not None]

    def act(self, key: str, action: str, options: dict[str, Any]) -> dict[str, Any]:
        """Post the command, wake the replicas, and wait until the holder has applied it."""
        with self._cursor() as cur:
            _, phase, *_, live = self._row(cur, key)
        job = self.job(key)
        if phase in _FINAL:
            if action == "cancel":  # idempotent, as cancel_job is
                return {"key": key, "action": action, "done": False, "job": _short(job)}
            raise CliError(f"cannot {action} {key!r}: the job is {phase}")
        if not live:
            raise CliError(
                f"no replica holds job {key!r} (none is running, or none has registered its "
                "function): nobody could apply the command, so it was not posted"
            )
        payload = _payload(action, options)
        listener = self._listen()
        try:
            try:
                command_id = self.store._post_sync(key, action, payload)
            except StoreError as exc:
                raise CliError(str(exc)) from None
            self._until_applied(command_id, key, action, listener)
        finally:
            listener.close()
        done = job["state"] == "running" if action == "interrupt" else True
        return {"key": key, "action": action, "done": done, "job": _short(self.job(key))}

    def _listen(self) -> Any:
        try:
            conn = self.store._connect()
        except StoreError as exc:
            raise CliError(str(exc)) from None
        conn.autocommit = True
        from ._postgres import CHANNEL

        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _until_applied(self, command_id: int, key: str, action: str, listener: Any) -> None:
        """Wait for the holder's ``applied_at``: woken by its NOTIFY, checked every 0.5 s."""
        deadline = time.monotonic() + self.wait
        while True:
            try:
                applied, _ = self.store._applied_sync(command_id)
            except StoreError as exc:
                raise CliError(str(exc)) from None
            if applied:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise CliError(
                    f"{action} {key!r} was posted (command {command_id}) but not applied within "
                    f"{self.wait:g} s: the replica that holds the job applies it when it can"
                )
            for _ in listener.notifies(timeout=min(left, 0.5), stop_after=1):
                pass


def _payload(action: str, options: dict[str, Any]) -> dict[str, Any]:
    """The command's payload, as ``Scheduler`` posts it (a note is kept beside it)."""
    payload: dict[str, Any] = {}
    if action == "trigger":
        payload["idempotency_key"] = options.get("idempotency_key")
    elif action == "cancel":
        payload["interrupt"] = bool(options.get("interrupt"))
    if options.get("note") is not None:
        payload["note"] = options["note"]  # recorded with the command; the holder ignores it
    return payload


def _short(job: dict[str, Any]) -> dict[str, Any]:
    return {name: job[name] for name in ("key", "name", "state", "next_run_at", "schedule")}


def check_idempotency_key(value: str | None) -> str | None:
    """``--idempotency-key`` as ``trigger_job`` accepts it, or ``CliError``."""
    try:
        return check_key(value, "--idempotency-key")
    except InvalidArgument as exc:
        raise CliError(str(exc)) from None


# ---------------------------------------------------------------------- SQLite


class SqliteSource:
    """An ``SQLiteStore`` file, read only (a scheduler may hold it: WAL lets us read)."""

    def __init__(self, path: str) -> None:
        if not os.path.isfile(path):
            raise CliError(f"--sqlite {path!r}: no such file")
        self.path = path
        self.codecs = Codecs()
        try:
            self.conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=5.0)
            (app_id,) = self.conn.execute("PRAGMA application_id").fetchone()
        except sqlite3.Error as exc:
            raise CliError(f"{path}: cannot read it: {exc}") from None
        from ._sqlite import APPLICATION_ID

        if app_id != APPLICATION_ID:
            raise CliError(f"{path} is not a turnkeeper_trio SQLiteStore file")

    def _query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise CliError(f"{self.path}: {exc}") from None

    def _row(self, key: str) -> tuple[Any, ...]:
        rows = self._query(
            "SELECT key, phase, next_run_at, definition, state FROM jobs WHERE key = ?", key
        )
        if not rows:
            raise CliError(f"no job with key {key!r} in {self.path}")
        key, phase, next_run_at, definition, state = rows[0]
        return key, phase, next_run_at, _loads(definition), _loads(state)

    def jobs(self) -> list[dict[str, Any]]:
        """Every stored job."""
        rows = self._query(
            "SELECT key, phase, next_run_at, definition, state FROM jobs ORDER BY key"
        )
        return [summary_of(self.codecs, k, p, n, _loads(d), _loads(s)) for k, p, n, d, s in rows]

    def job(self, key: str) -> dict[str, Any]:
        """One stored job, with its skipped ranges."""
        row = self._row(key)
        skipped = self._query(
            "SELECT first, last, count, reason, exact FROM skipped WHERE job_key = ? ORDER BY id",
            key,
        )
        return details_of(self.codecs, row, skipped)

    def runs(self, key: str, count: int) -> list[dict[str, Any]]:
        """The job's last runs, latest first."""
        self._row(key)
        rows = self._query(
            "SELECT data FROM runs WHERE job_key = ? ORDER BY id DESC LIMIT ?", key, count
        )
        return [r for (data,) in rows if (r := run_of(_loads(data))) is not None]

    def act(self, key: str, action: str, options: dict[str, Any]) -> dict[str, Any]:
        """Refused: an ``SQLiteStore`` has no command path; its scheduler's dashboard has."""
        self._row(key)
        if held_elsewhere(self.path):
            raise CliError(f"{self.path}: the store is open in another process; use --url")
        raise CliError(
            f"{self.path}: --sqlite is read-only; start the scheduler that uses this file and "
            "send the command through its dashboard (--url)"
        )


def _loads(text: object) -> Any:
    try:
        return json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError:
        return None


def held_elsewhere(path: str) -> bool:
    """Whether a scheduler holds the store's lock file (``SQLiteStore``'s exclusion)."""
    try:
        fd = os.open(f"{path}-lock", os.O_RDWR)
    except OSError:  # no lock file: no scheduler ever held it here
        return False
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                return True
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            return False
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
