"""``python -m turnkeeper_trio``: preview any schedule's next fire times, DST decisions included.

    python -m turnkeeper_trio next "0 9 * * MON-FRI" --tz Europe/Paris -n 10
    python -m turnkeeper_trio next --weekday-times "mon 09:00,fri 17:30" --tz America/New_York
    python -m turnkeeper_trio next --interval 90 --after 2027-03-26T00:00 --json

Exit status 0 on success, 2 on bad input (the message is the one the schedule's constructor
raises, naming the field at fault).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._cron import Cron
from ._preview import describe_cron, preview_fires, utc_text
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
        pairs.append((words[0], words[1]))
    return WeekdayTimes(pairs, tz=tz)


def _schedule(args: argparse.Namespace, tz: tzinfo, after: datetime) -> Schedule:
    given = [x is not None for x in (args.cron, args.weekday_times, args.interval)]
    if sum(given) != 1:
        raise _BadInput("give exactly one of: a cron expression, --weekday-times, --interval")
    try:
        if args.cron is not None:
            return Cron(args.cron, tz=tz)
        if args.weekday_times is not None:
            return _weekday_times(args.weekday_times, tz)
        return Interval(args.interval, start=after)
    except (ValueError, TypeError) as exc:  # InvalidSchedule and InvalidArgument among them
        raise _BadInput(str(exc)) from None


def _offset(at: datetime) -> str:
    text = at.strftime("%z")
    return f"{text[:3]}:{text[3:]}"


def _run(args: argparse.Namespace) -> str:
    if not 1 <= args.count <= _MAX_COUNT:
        raise _BadInput(f"-n must be between 1 and {_MAX_COUNT}, got {args.count}")
    tz = _zone(args.tz)
    after = _after(args.after, tz)
    schedule = _schedule(args, tz, after)
    description = describe_cron(args.cron) if args.cron is not None else None
    fires = preview_fires(schedule, after, args.count)
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
        line = f"  {local:%a %Y-%m-%d %H:%M:%S} {_offset(local)} {zone:<5}  {utc_text(local)}"
        lines.append(line + (f"  {fire.note}" if fire.note else ""))
    if not fires:
        lines.append("  (none: the schedule never fires again)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        print(_run(args))
    except _BadInput as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0
