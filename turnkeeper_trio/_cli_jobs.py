"""``python -m turnkeeper_trio jobs``: list, inspect and command the jobs of a running system.

    python -m turnkeeper_trio jobs list --url http://127.0.0.1:8000/dashboard
    python -m turnkeeper_trio jobs show nightly-report --dsn postgresql://app@db/app --json
    python -m turnkeeper_trio jobs history nightly-report --sqlite jobs.db -n 5
    python -m turnkeeper_trio jobs pause nightly-report --url ... --note "db migration"
    python -m turnkeeper_trio jobs trigger rebuild-index --dsn ... --idempotency-key deploy-42

One back end per call: ``--url`` (a dashboard's JSON API, with its token), ``--dsn`` (the
database of ``PostgresStore`` replicas; commands go through the replicas' own command path)
or ``--sqlite`` (an ``SQLiteStore`` file, read only).  Tables for people, ``--json`` for
scripts.  The token is read from ``$TURNKEEPER_TOKEN`` unless ``--token`` is given.  Exit
status 0 on success, 2 with one line on stderr otherwise, 1 (quietly) when the reader of the
output went away (``| head``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ._cli_output import emit
from ._cli_sources import (
    CliError,
    HttpSource,
    PostgresSource,
    Source,
    SqliteSource,
    check_idempotency_key,
)

__all__ = ["add_jobs_command", "run_jobs"]

_MAX_COUNT = 1000
_DONE = {
    "pause": "paused",
    "resume": "resumed",
    "trigger": "triggered",
    "cancel": "cancelled",
    "interrupt": "interrupted",
}


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where the jobs are (exactly one)")
    where.add_argument(
        "--url", metavar="URL", help="a dashboard's address, e.g. http://127.0.0.1:8000/dashboard"
    )
    where.add_argument("--dsn", metavar="DSN", help="the PostgreSQL database of PostgresStore")
    where.add_argument("--sqlite", metavar="PATH", help="an SQLiteStore file (read only)")
    common.add_argument(
        "--token",
        metavar="TOKEN",
        help="the dashboard's token, for --url (default: $TURNKEEPER_TOKEN)",
    )
    common.add_argument(
        "--wait",
        metavar="SECONDS",
        type=float,
        default=10.0,
        help="how long to wait for an answer, or for a command to be applied (default: 10)",
    )
    common.add_argument("--json", action="store_true", help="print JSON, for scripts")
    return common


def add_jobs_command(commands: Any) -> None:
    """Add the ``jobs`` subcommand to the parser's *commands* (``add_subparsers``)."""
    common = _common()
    jobs = commands.add_parser(
        "jobs",
        help="list, inspect, pause, resume, trigger and cancel the jobs of a running system",
        description=(
            "List and inspect jobs, and send them commands, through a running service's "
            "dashboard (--url), a PostgresStore database (--dsn) or an SQLiteStore file "
            "(--sqlite, read only)."
        ),
    )
    actions = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="every job: key, name, state, next run")
    show = actions.add_parser("show", parents=[common], help="one job's definition and state")
    show.add_argument("key", help="the job's key")
    history = actions.add_parser("history", parents=[common], help="a job's last runs")
    history.add_argument("key", help="the job's key")
    history.add_argument(
        "-n", "--count", type=int, default=20, help="how many runs, latest first (default: 20)"
    )
    pause = actions.add_parser("pause", parents=[common], help="stop running a job until resumed")
    pause.add_argument("key", help="the job's key")
    pause.add_argument(
        "--note",
        metavar="TEXT",
        help="why (kept with the command: in the dashboard's log line, or in the "
        "command's row with --dsn; the scheduler has no pause note)",
    )
    resume = actions.add_parser("resume", parents=[common], help="run a paused job again")
    resume.add_argument("key", help="the job's key")
    trigger = actions.add_parser("trigger", parents=[common], help="run a job once, now")
    trigger.add_argument("key", help="the job's key")
    trigger.add_argument(
        "--idempotency-key",
        metavar="K",
        help="a name for this request: a trigger with a key the job has seen runs once",
    )
    cancel = actions.add_parser("cancel", parents=[common], help="end a job: no more runs")
    cancel.add_argument("key", help="the job's key")
    cancel.add_argument(
        "--interrupt", action="store_true", help="also cancel the attempt in progress"
    )
    interrupt = actions.add_parser(
        "interrupt", parents=[common], help="cancel the attempt in progress; the job goes on"
    )
    interrupt.add_argument("key", help="the job's key")


def _source(args: argparse.Namespace) -> Source:
    chosen = [name for name in ("url", "dsn", "sqlite") if getattr(args, name) is not None]
    if len(chosen) != 1:
        raise CliError("give exactly one of --url, --dsn, --sqlite")
    if not 0 < args.wait <= 3600:
        raise CliError(f"--wait must be more than 0 and at most 3600 seconds, got {args.wait:g}")
    if args.token is not None and args.url is None:
        raise CliError("--token goes with --url")
    if args.url is not None:
        token = args.token if args.token is not None else os.environ.get("TURNKEEPER_TOKEN")
        return HttpSource(args.url, token or None, args.wait)
    if args.dsn is not None:
        return PostgresSource(args.dsn, args.wait)
    return SqliteSource(args.sqlite)


def _run(args: argparse.Namespace) -> str:
    command = args.jobs_command
    if command == "history" and not 1 <= args.count <= _MAX_COUNT:
        raise CliError(f"-n/--count must be from 1 to {_MAX_COUNT}, got {args.count}")
    options: dict[str, Any] = {}
    if command == "trigger":
        key = check_idempotency_key(args.idempotency_key)
        if key is not None:
            options["idempotency_key"] = key
    elif command == "cancel" and args.interrupt:
        options["interrupt"] = True
    elif command == "pause" and args.note is not None:
        if not args.note.strip() or len(args.note) > 500 or not args.note.isprintable():
            raise CliError("--note must be 1 to 500 printable characters")
        options["note"] = args.note
    source = _source(args)
    value: Any
    if command == "list":
        value = source.jobs()
    elif command == "show":
        value = source.job(args.key)
    elif command == "history":
        value = source.runs(args.key, args.count)
    else:
        value = source.act(args.key, command, options)
        if "note" in options:
            value["note"] = options["note"]
    if args.json:
        return json.dumps(value, indent=2)
    if command == "list":
        return _table(
            ["KEY", "NAME", "STATE", "NEXT RUN", "SCHEDULE"],
            [[j["key"], j["name"], j["state"], j["next_run_at"], j["schedule"]] for j in value],
        )
    if command == "show":
        return _details(value)
    if command == "history":
        return _table(
            ["RUN", "ATTEMPT", "SCHEDULED FOR", "STARTED", "SECONDS", "OUTCOME", "ERROR"],
            [
                [
                    r["run_id"],
                    r["attempt"],
                    r["scheduled_for"],
                    r["started_at"],
                    f"{r['duration']:.3f}",
                    r["outcome"] + (" (triggered)" if r["triggered"] else ""),
                    "" if r["error"] is None else f"{r['error']['type']}: {r['error']['message']}",
                ]
                for r in value
            ],
        )
    return _acted(value)


def _acted(value: dict[str, Any]) -> str:
    key, action = value["key"], value["action"]
    if action == "interrupt" and not value["done"]:
        text = f"{key}: nothing was running"
    elif action == "cancel" and not value["done"]:
        text = f"{key}: already ended"
    else:
        text = f"{key}: {_DONE[action]}"
    job = value.get("job")
    if job is not None:
        text += f" (state {job['state']}, next run {job['next_run_at'] or '-'})"
    if value.get("note"):
        text += f"\nnote: {value['note']}"
    return text


def _cell(value: object) -> str:
    text = "-" if value is None else str(value)
    return text.replace("\n", " ")[:80]


def _table(head: list[str], rows: list[list[object]]) -> str:
    cells = [head, *([_cell(v) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    if not rows:
        lines.append("(no jobs)" if head[0] == "KEY" else "(no runs)")
    return "\n".join(lines)


def _details(job: dict[str, Any]) -> str:
    lines = []
    for name, value in job.items():
        if name in ("counts", "error", "skipped"):
            continue
        lines.append(f"{name + ':':<22}{'-' if value is None else value}")
    counts = ", ".join(f"{n} {c}" for n, c in job["counts"].items())
    lines.append(f"{'counts:':<22}{counts}")
    error = job["error"]
    if error is not None:
        lines.append(f"{'error:':<22}{error['type']}: {error['message']}")
    for skip in job["skipped"]:
        lines.append(
            f"{'skipped:':<22}{skip['count']} from {skip['first']} to {skip['last']} "
            f"({skip['reason']})"
        )
    return "\n".join(lines)


def run_jobs(args: argparse.Namespace, prog: str) -> int:
    """Run ``jobs`` with the parsed *args*; return the exit status (0, 1 or 2)."""
    name = f"{prog} jobs {args.jobs_command}"
    try:
        text = _run(args)
    except CliError as exc:
        message = str(exc)
    except (KeyError, TypeError, AttributeError) as exc:  # an answer of an unexpected shape
        message = f"the answer could not be read ({type(exc).__name__}: {exc})"
    else:
        message = ""
    if message:
        print(f"{name}: error: {' '.join(message.split())}", file=sys.stderr)  # one line
        return 2
    return emit(text)
