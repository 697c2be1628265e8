"""``python -m turnkeeper_trio check FILE``: validate a schedule file and preview its jobs.

    python -m turnkeeper_trio check schedules.toml
    python -m turnkeeper_trio check schedules.toml -n 5 --after 2027-03-26T00:00+00:00

Checks what ``load_schedules`` checks (every value, as ``add_job`` would), and what a
durable store needs (functions importable, async and named so that another process finds
them; arguments JSON a store can hold), then prints each job's next fire times with the DST
notes of the ``next`` command.  Exit status 0 when the file is valid; 2 with one line on
stderr per problem (all of them), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from ._cli_output import emit
from ._preview import preview_fires, utc_text
from ._schedule_file import read_schedule_file
from ._simple_schedules import Interval

__all__ = ["add_check_command", "run_check"]

_MAX_COUNT = 100


def add_check_command(commands: Any) -> None:
    """Add the ``check`` subcommand to the parser's *commands* (``add_subparsers``)."""
    check = commands.add_parser(
        "check",
        help="validate a schedule file (TOML) and print each job's next fire times",
        description=(
            "Validate a schedule file as load_schedules does, and as durable stores need it "
            "(functions importable, async, storable; arguments JSON), then print each job's "
            "next fire times.  The file's modules are imported (run it where the "
            "application's code is importable)."
        ),
    )
    check.add_argument("file", help="the schedule file")
    check.add_argument("-n", "--count", type=int, default=3, help="fires per job (default: 3)")
    check.add_argument(
        "--after",
        metavar="ISO",
        help="preview after this time (ISO 8601 with an offset); default: now",
    )


def _after(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)  # a person's "now", not scheduling logic
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--after {text!r} is not an ISO 8601 date and time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"--after {text!r} needs a UTC offset (e.g. +00:00)")
    return parsed


def _report(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The lines to print, and the problems (one line each)."""
    if not 1 <= args.count <= _MAX_COUNT:
        return [], [f"-n/--count must be from 1 to {_MAX_COUNT}, got {args.count}"]
    try:
        after = _after(args.after)
    except ValueError as exc:
        return [], [str(exc)]
    requests, problems = read_schedule_file(args.file, storable=True)
    if problems:
        return [], [f"{args.file}: {problem}" for problem in problems]
    lines = [f"{args.file}: {len(requests)} job(s), valid"]
    for request in requests:
        schedule = request.schedule
        if isinstance(schedule, Interval) and schedule.start is None:
            schedule = schedule.anchored(after)  # as if added at --after
        fn = request.async_fn
        lines.append(f"[{request.key}] {fn.__module__}:{fn.__qualname__}  {schedule!r}")
        fires = preview_fires(schedule, after, args.count)
        for fire in fires:
            line = f"  {fire.at.isoformat()}  ({utc_text(fire.at)})"
            lines.append(line + (f"  {fire.note}" if fire.note else ""))
        if not fires:
            lines.append("  (no fire: it runs only when triggered, or its time has passed)")
    return lines, []


def run_check(args: argparse.Namespace, prog: str) -> int:
    """Run ``check`` for the parsed *args*; print; return the exit status (0 or 2)."""
    try:
        lines, problems = _report(args)
    except OverflowError:
        problems = ["a date in this file is past the end of the calendar (year 9999)"]
    if problems:
        for problem in problems:
            one_line = " ".join(problem.split())  # an imported module's error may span lines
            print(f"{prog} check: error: {one_line}", file=sys.stderr)
        return 2
    return emit("\n".join(lines))
