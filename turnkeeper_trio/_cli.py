"""``python -m turnkeeper_trio``: preview any schedule's next fire times, DST decisions included.

    python -m turnkeeper_trio next "0 9 * * MON-FRI" --tz Europe/Paris -n 10
    python -m turnkeeper_trio next --weekday-times "mon 09:00,fri 17:30" --tz America/New_York
    python -m turnkeeper_trio next --interval 90 --after 2027-03-26T00:00 --json

Exit status 0 on success, 2 on bad input (one line on stderr that names the option, or for a
cron expression the message ``Cron()`` raises, naming the field at fault).  Output cut short
by its reader (``| head``) ends the command quietly.  Fires past the end of the calendar
(year 9999, in UTC or in ``--tz``) do not exist: the list stops there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._cron import Cron
from ._preview import Fire, describe_cron, preview_fires, utc_text
from ._schedule import Schedule
from ._simple_schedules import Interval
from ._weekday import WeekdayTimes

__all__ = ["main"]

_MAX_COUNT = 1000


class _BadInput(Exception):
    """A message for the user; exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m turnkeeper_trio",
        description="Tools for turnkeeper_trio schedules.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    nxt = commands.add_parser(
        "next",
        help="print a schedule's next fire times, with what DST changes do to them",
        description=(
            "Print the next fire times of a cron expression, a weekday+time list or an "
            "interval, in local time with the UTC offset and in UTC; a line that a DST "
            "change affects says what happens."
        ),
    )
    nxt.add_argument("cron", nargs="?", help='a cron expression, e.g. "0 9 * * MON-FRI"')
    nxt.add_argument(
        "--weekday-times",
        metavar="LIST",
        help='weekday and wall-time pairs instead of cron, e.g. "mon 09:00,fri 17:30"',
    )
    nxt.add_argument(
        "--interval", metavar="SECONDS", type=float, help="an interval anchored at --after"
    )
    nxt.add_argument("--tz", default="UTC", help="an IANA time zone (default: UTC)")
    nxt.add_argument("-n", "--count", type=int, default=10, help="how many (default: 10)")
    nxt.add_argument(
        "--after",
        metavar="ISO",
        help="start after this time (ISO 8601; without an offset it is local to --tz); "
        "default: now",
    )
    nxt.add_argument("--json", action="store_true", help="print JSON, for scripts")
    return parser


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _BadInput(f"--tz {name!r} is not a known IANA time zone") from None


def _after(text: str | None, tz: tzinfo) -> datetime:
    if text is None:
        return datetime.now(UTC).astimezone(tz)  # a person's "now", not scheduling logic
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _BadInput(f"--after {text!r} is not an ISO 8601 date and time") from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def _weekday_times(text: str, tz: tzinfo) -> WeekdayTimes:
    pairs = []
    for item in text.split(","):
        words = item.split()
        if len(words) != 2:
            raise _BadInput(
                f"--weekday-times item {item.strip()!r} must be a weekday and a time, "
                "e.g. 'mon 09:00'"
            )
        try:  # each item alone, so that the message names the item the user typed
            WeekdayTimes([(words[0], words[1])], tz=tz)
        except ValueError as exc:
            reason = str(exc).removeprefix("times[0]: ")
            raise _BadInput(f"--weekday-times item {item.strip()!r}: {reason}") from None
        pairs.append((words[0], words[1]))
    return WeekdayTimes(pairs, tz=tz)


def _interval(seconds: float, after: datetime) -> Interval:
    try:
        return Interval(seconds, start=after)
    except ValueError as exc:  # the constructor's message, about the option the user typed
        raise _BadInput("--interval " + str(exc).removeprefix("every ")) from None


def _schedule(args: argparse.Namespace, tz: tzinfo, after: datetime) -> Schedule:
    given = [x is not None for x in (args.cron, args.weekday_times, args.interval)]
    if sum(given) != 1:
        raise _BadInput("give exactly one of: a cron expression, --weekday-times, --interval")
    if args.interval is not None:
        return _interval(args.interval, after)
    try:
        if args.cron is not None:
            return Cron(args.cron, tz=tz)
        return _weekday_times(args.weekday_times, tz)
    except (ValueError, TypeError) as exc:  # InvalidSchedule among them
        raise _BadInput(str(exc)) from None


def _offset(at: datetime) -> str:
    """``+02:00``; ``-04:56:02`` for the local mean times of old dates."""
    offset = at.utcoffset()
    assert offset is not None
    sign, seconds = ("-", -offset) if offset < timedelta(0) else ("+", offset)
    hours, rest = divmod(int(seconds.total_seconds()), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02}:{minutes:02}" + (f":{secs:02}" if secs else "")


def _shown(fires: list[Fire], tz: tzinfo) -> list[Fire]:
    """The fires whose time can be written in *tz* and in UTC (not past year 9999 there)."""
    shown = []
    for fire in fires:
        try:
            fire.at.astimezone(tz)
            fire.at.astimezone(UTC)
        except OverflowError:
            break
        shown.append(fire)
    return shown


def _run(args: argparse.Namespace) -> str:
    if not 1 <= args.count <= _MAX_COUNT:
        raise _BadInput(f"-n/--count must be from 1 to {_MAX_COUNT}, got {args.count}")
    tz = _zone(args.tz)
    after = _after(args.after, tz)
    schedule = _schedule(args, tz, after)
    description = describe_cron(args.cron) if args.cron is not None else None
    found = preview_fires(schedule, after, args.count)
    fires = _shown(found, tz)
    if args.json:
        return json.dumps(
            {
                "schedule": repr(schedule),
                "tz": args.tz,
                "description": description,
                "after": after.isoformat(),
                "fires": [
                    {
                        "local": f.at.astimezone(tz).isoformat(),
                        "utc": f.at.astimezone(UTC).isoformat(),
                        "offset": _offset(f.at.astimezone(tz)),
                        "zone_name": f.at.astimezone(tz).tzname(),
                        "note": f.note,
                    }
                    for f in fires
                ],
            },
            indent=2,
        )
    lines = [f"{schedule!r}" + (f": {description}" if description else "")]
    lines.append(f"next {len(fires)} after {after.isoformat()}:")
    for fire in fires:
        local = fire.at.astimezone(tz)
        zone = local.tzname() or ""
        when = f"{local:%a} {local.date().isoformat()} {local:%H:%M:%S}"  # years < 1000 too
        line = f"  {when} {_offset(local)} {zone:<5}  {utc_text(local)}"
        lines.append(line + (f"  {fire.note}" if fire.note else ""))
    if len(fires) < len(found):
        lines.append(f"  (no more: the next is after year 9999 in {args.tz})")
    elif not fires:
        lines.append("  (none: the schedule never fires again)")
    return "\n".join(lines)


def _quiet_stdout() -> None:
    """Point stdout at devnull: its reader is gone, and the exit must not print a traceback.

    As the Python documentation recommends for ``BrokenPipeError`` (signal module notes).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status.

    0 on success; 1 when the reader of the output went away early (``| head``), quietly;
    2 on bad input, with one line on stderr.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        text = _run(args)
    except _BadInput as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OverflowError:  # a last guard: no traceback for a date past year 9999
        print(
            f"{parser.prog} {args.command}: error: a date in this request is past the end of "
            "the calendar (year 9999)",
            file=sys.stderr,
        )
        return 2
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    return 0
