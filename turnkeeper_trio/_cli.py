"""``python -m turnkeeper_trio``: preview any schedule's next fire times, DST decisions included.

    python -m turnkeeper_trio next "0 9 * * MON-FRI" --tz Europe/Paris -n 10
    python -m turnkeeper_trio next --weekday-times "mon 09:00,fri 17:30" --tz America/New_York
    python -m turnkeeper_trio next --interval 90 --after 2027-03-26T00:00 --json
    python -m turnkeeper_trio next --rrule "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18" --tz Europe/Paris
    python -m turnkeeper_trio next "0 9 * * *" --exclude-holidays FR --exclude-weekdays sat,sun
    python -m turnkeeper_trio next "30 2 * * *" --tz Europe/Paris --dst-gap skip --dst-fold both

Exit status 0 on success, 2 on bad input (one line on stderr that names the option, or for a
cron expression the message ``Cron()`` raises, naming the field at fault).  Output cut short
by its reader (``| head``) ends the command quietly.  Fires past the end of the calendar
(year 9999, in UTC or in ``--tz``) do not exist: the list stops there.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._calendars import Calendar, Dates, Holidays, Weekdays, YearlyDates
from ._cli_check import add_check_command, run_check
from ._cli_jobs import add_jobs_command, run_jobs
from ._cli_output import emit
from ._cron import Cron
from ._exceptions import InvalidArgument, InvalidSchedule
from ._jitter import jitter_offset, jitter_seed
from ._preview import Fire, describe_cron, preview_fires, utc_text
from ._rrule import RRule
from ._schedule import Schedule
from ._simple_schedules import Interval
from ._validation import check_jitter
from ._wall import DST
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
    nxt.add_argument(
        "--rrule", metavar="RULE", help='an RFC 5545 rule, e.g. "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18"'
    )
    nxt.add_argument(
        "--dtstart", metavar="ISO", help="the --rrule anchor (default: 2000-01-01 00:00 in --tz)"
    )
    nxt.add_argument("--tz", default="UTC", help="an IANA time zone (default: UTC)")
    nxt.add_argument(
        "--exclude-holidays",
        metavar="COUNTRY[-SUBDIV]",
        action="append",
        help="leave out public holidays (the 'holidays' extra), e.g. FR or US-NY; repeatable",
    )
    nxt.add_argument(
        "--exclude-weekdays", metavar="DAYS", help="leave out these weekdays, e.g. sat,sun"
    )
    nxt.add_argument(
        "--exclude-dates", metavar="DATES", help="leave out these dates, e.g. 2027-12-24,2027-12-31"
    )
    nxt.add_argument(
        "--exclude-yearly",
        metavar="MM-DD",
        help="leave out these days every year, e.g. 12-25,01-01",
    )
    nxt.add_argument(
        "--dst-gap", metavar="RULE", help="at a spring-forward gap: end (default), shift or skip"
    )
    nxt.add_argument(
        "--dst-fold", metavar="RULE", help="at a fall-back fold: first (default), last or both"
    )
    nxt.add_argument("-n", "--count", type=int, default=10, help="how many (default: 10)")
    nxt.add_argument(
        "--after",
        metavar="ISO",
        help="start after this time (ISO 8601; without an offset it is local to --tz); "
        "default: now",
    )
    nxt.add_argument(
        "--jitter",
        type=float,
        metavar="SECONDS",
        help="the job's jitter: show each fire's jittered start (needs --key)",
    )
    nxt.add_argument(
        "--key", help="the job's key, which its jitter offsets derive from (with --jitter)"
    )
    nxt.add_argument("--json", action="store_true", help="print JSON, for scripts")
    add_check_command(commands)
    add_jobs_command(commands)
    return parser


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _BadInput(f"--tz {name!r} is not a known IANA time zone") from None


def _after(text: str | None, tz: tzinfo, option: str = "--after") -> datetime:
    if text is None:
        return datetime.now(UTC).astimezone(tz)  # a person's "now", not scheduling logic
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _BadInput(f"{option} {text!r} is not an ISO 8601 date and time") from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def _weekday_times(text: str, tz: tzinfo, dst: DST) -> WeekdayTimes:
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
    return WeekdayTimes(pairs, tz=tz, dst=dst)


def _interval(seconds: float, after: datetime) -> Interval:
    try:
        return Interval(seconds, start=after)
    except ValueError as exc:  # the constructor's message, about the option the user typed
        raise _BadInput("--interval " + str(exc).removeprefix("every ")) from None


def _dst(args: argparse.Namespace) -> DST:
    try:
        gap = DST(gap=args.dst_gap or "end")
    except InvalidSchedule:
        raise _BadInput(f"--dst-gap {args.dst_gap!r} must be end, shift or skip") from None
    try:
        return DST(gap=gap.gap, fold=args.dst_fold or "first")
    except InvalidSchedule:
        raise _BadInput(f"--dst-fold {args.dst_fold!r} must be first, last or both") from None


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _calendar(args: argparse.Namespace) -> Calendar | None:
    calendars: list[Calendar] = []
    for option, build in (
        ("--exclude-weekdays", lambda text: Weekdays(*_items(text))),
        ("--exclude-dates", lambda text: Dates(_items(text))),
        ("--exclude-yearly", lambda text: YearlyDates(_items(text))),
    ):
        text = getattr(args, option[2:].replace("-", "_"))
        if text is not None:
            try:
                calendars.append(build(text))
            except (ValueError, TypeError) as exc:
                raise _BadInput(f"{option} {text!r}: {exc}") from None
    for place in args.exclude_holidays or ():
        country, _, subdiv = place.partition("-")
        try:
            calendars.append(Holidays(country, subdiv or None))
        except (InvalidArgument, TypeError) as exc:
            raise _BadInput(f"--exclude-holidays {place!r}: {exc}") from None
    if not calendars:
        return None
    union = calendars[0]
    for calendar in calendars[1:]:
        union = union | calendar
    return union


def _schedule(args: argparse.Namespace, tz: tzinfo, after: datetime) -> Schedule:
    chosen = (args.cron, args.weekday_times, args.interval, args.rrule)
    if sum(x is not None for x in chosen) != 1:
        raise _BadInput(
            "give exactly one of: a cron expression, --weekday-times, --interval, --rrule"
        )
    dst = _dst(args)
    if args.dtstart is not None and args.rrule is None:
        raise _BadInput("--dtstart goes with --rrule")
    if args.interval is not None:
        if not dst.is_default:
            raise _BadInput(
                "--dst-gap and --dst-fold apply to wall-clock schedules, not --interval"
            )
        schedule: Schedule = _interval(args.interval, after)
    else:
        try:
            if args.cron is not None:
                schedule = Cron(args.cron, tz=tz, dst=dst)
            elif args.rrule is not None:
                dtstart = None if args.dtstart is None else _after(args.dtstart, tz, "--dtstart")
                schedule = RRule(args.rrule, tz=tz, dtstart=dtstart, dst=dst)
            else:
                schedule = _weekday_times(args.weekday_times, tz, dst)
        except (ValueError, TypeError) as exc:  # InvalidSchedule among them
            raise _BadInput(str(exc)) from None
    calendar = _calendar(args)
    if calendar is None:
        return schedule
    try:
        return schedule.excluding(calendar)
    except (ValueError, TypeError) as exc:
        raise _BadInput(f"--exclude-*: {exc}") from None


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
    starts = _jittered(args, schedule, fires)
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
                        **(
                            {}
                            if starts is None
                            else {"start": starts[i].astimezone(tz).isoformat()}
                        ),
                    }
                    for i, f in enumerate(fires)
                    if f.excluded is None
                ],
                "excluded": [
                    {
                        "local": f.at.astimezone(tz).isoformat(),
                        "utc": f.at.astimezone(UTC).isoformat(),
                        "reason": f.excluded,
                    }
                    for f in fires
                    if f.excluded is not None
                ],
            },
            indent=2,
        )
    lines = [f"{schedule!r}" + (f": {description}" if description else "")]
    runs = sum(fire.excluded is None for fire in fires)
    lines.append(f"next {runs} after {after.isoformat()}:")
    for i, fire in enumerate(fires):
        local = fire.at.astimezone(tz)
        if fire.excluded is not None:
            lines.append(f"  {local.date().isoformat()} excluded: {fire.excluded}")
            continue
        zone = local.tzname() or ""
        when = f"{local:%a} {local.date().isoformat()} {local:%H:%M:%S}"  # years < 1000 too
        line = f"  {when} {_offset(local)} {zone:<5}  {utc_text(local)}"
        if starts is not None:
            delay = (starts[i] - fire.at).total_seconds()
            line += f"  starts {starts[i].astimezone(tz):%H:%M:%S} (+{delay:.1f} s jitter)"
        lines.append(line + (f"  {fire.note}" if fire.note else ""))
    if len(fires) < len(found):
        lines.append(f"  (no more: the next is after year 9999 in {args.tz})")
    elif not fires:
        lines.append("  (none: the schedule never fires again)")
    return "\n".join(lines)


def _jittered(
    args: argparse.Namespace, schedule: Schedule, fires: list[Fire]
) -> list[datetime] | None:
    """Each fire's start with the job's jitter (``--jitter`` with ``--key``), as a job would."""
    if args.jitter is None:
        if args.key is not None:
            raise _BadInput("--key goes with --jitter")
        return None
    if args.key is None:
        raise _BadInput("--jitter needs --key: a job's offsets derive from its key")
    try:
        jitter = check_jitter(args.jitter)
    except ValueError as exc:
        raise _BadInput("--jitter " + str(exc).removeprefix("jitter ")) from None
    seed = jitter_seed(args.key, 0)
    starts = []
    for fire in fires:
        following = schedule.next_after(fire.at)
        offset = jitter_offset(seed, fire.at, jitter, following)
        starts.append(fire.at + timedelta(seconds=offset))
    return starts


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status.

    0 on success; 1 when the reader of the output went away early (``| head``), quietly;
    2 on bad input, with one line on stderr.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "check":
        return run_check(args, parser.prog)
    if args.command == "jobs":
        return run_jobs(args, parser.prog)
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
    return emit(text)
