"""What a durable store writes: arguments and strategies as JSON, text made storable.

A database row must never run code, so nothing here pickles.  (Functions are stored as
``module:qualname`` and found again only among those the process registered: see
``_functions``.)  Arguments must be JSON values that every durable store can hold;
schedules and policies are tagged, versioned JSON objects (``{"type": "cron", "v": 1,
...}``).  The built-in strategies have codecs here; a custom one is stored once its class
is registered with the store through a :class:`Codec`.  This module never touches a database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import attrs

from ._calendars import Calendar, CalendarUnion, Dates, Holidays, Weekdays, YearlyDates
from ._combinators import AnyOf, Between, Excluding
from ._cron import Cron
from ._exceptions import InvalidArgument, TurnKeeperError
from ._lifetime import Forever, MaxRuns, Until
from ._misfire import CatchUp, Coalesce
from ._retry import ExponentialBackoff, FixedDelay
from ._rrule import RRule
from ._schedule import Schedule
from ._simple_schedules import Interval, Never, Once
from ._wall import DEFAULT_DST, DST
from ._weekday import WeekdayTimes

__all__ = [
    "Codec",
    "Codecs",
    "StoredValueError",
    "check_json_args",
    "check_storable",
    "storable_text",
]

T = TypeVar("T")

#: JSON as the standard library's ``json`` reads and writes it.
JSON = Any


class StoredValueError(TurnKeeperError, ValueError):
    """A stored value cannot be read back: an unknown tag, a newer version, a bad field.

    A job whose stored definition raises it at load is kept as stored and not run; its
    ``JobDetails.error`` says why.

    Example:
        ```python
        details = s.get_job_details(job)
        if details.error is not None and details.error.type == "StoredValueError":
            print("register the codec for", details.name)
        ```
    """


# ---------------------------------------------------------------------- arguments


#: What no durable store can hold in a string: NUL (PostgreSQL's ``text`` and ``jsonb`` refuse
#: it) and lone surrogates (not Unicode: no UTF-8 encoding exists for them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: The longest error message and traceback kept for a run (characters; the rest is cut).
MESSAGE_LIMIT = 10_000
TRACEBACK_LIMIT = 50_000


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\\x00" if code == 0 else f"\\u{code:04x}"


def storable_text(text: str, limit: int | None = None) -> str:
    r"""*text* as every store can hold it: NUL and lone surrogates written as escapes.

    ``"\x00"`` replaces a NUL and ``"\udcff"`` (say) a lone surrogate, as ``repr`` would
    show them; beyond *limit* characters the text is cut, saying how much was left out.
    Used for the text a job produces (error messages, tracebacks), on every store, so a
    job's error can never make its record unwritable.
    """
    if _UNSTORABLE.search(text) is not None:
        text = _UNSTORABLE.sub(_escape, text)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}... [{len(text) - limit} more characters cut]"
    return text


def _unstorable_string(value: str, where: str) -> None:
    match = _UNSTORABLE.search(value)
    if match is not None:
        what = "a NUL character" if match.group() == "\x00" else "a lone surrogate"
        raise InvalidArgument(
            f"{where}: the string contains {what} ({match.group()!r} at index {match.start()}), "
            "which durable stores cannot hold (PostgreSQL refuses it, and every durable store "
            "follows one rule); encode binary data, e.g. as base64 or hex"
        )


def check_json_args(args: tuple[Any, ...]) -> list[JSON]:
    """*args* as a JSON list every durable store can hold, or an error naming the first bad value.

    ``TypeError`` for a value that is not JSON (tuples too: they would come back as lists,
    and the job would see other values after a restart than before; NaN and infinities);
    ``InvalidArgument`` for a string (or an object's key) that holds a NUL or a lone
    surrogate.  The error names the argument and the path to the value (``args[0]['a']``).
    """
    for index, value in enumerate(args):
        _check_json(value, f"args[{index}]")
    return list(args)


def check_storable(value: object, where: str) -> None:
    """Apply the argument rule of :func:`check_json_args` to any JSON value (a definition)."""
    _check_json(value, where)


def _check_json(value: object, where: str) -> None:
    if value is None or type(value) in (bool, int):
        return
    if type(value) is str:
        _unstorable_string(value, where)
        return
    if type(value) is float:
        if not math.isfinite(value):
            raise TypeError(f"{where}: {value!r} is not a JSON number (durable stores need JSON)")
        return
    if type(value) is list:
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]")
        return
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"{where}: the key {key!r} is not a string (JSON objects need str)")
            _unstorable_string(key, f"{where}: the key {key!r}")
            _check_json(item, f"{where}[{key!r}]")
        return
    hint = "; pass a list" if isinstance(value, tuple) else ""
    raise TypeError(
        f"{where}: a {type(value).__name__} is not a JSON value, and durable stores keep "
        f"arguments as JSON (never pickle){hint}: pass None, bool, int, float, str, list or "
        "dict, and rebuild richer values inside the job"
    )


# ---------------------------------------------------------------------- time values


def encode_tz(tz: tzinfo) -> JSON:
    """A zone by its IANA key, or a fixed offset in seconds."""
    if tz is UTC:
        return "UTC"
    if isinstance(tz, ZoneInfo):
        return tz.key
    if isinstance(tz, timezone):
        offset = tz.utcoffset(None)
        return {"offset": offset.total_seconds()}
    raise TypeError(
        f"tz: {tz!r} cannot be stored by a durable store; use a zoneinfo.ZoneInfo, "
        "datetime.UTC or a datetime.timezone offset"
    )


def decode_tz(data: JSON) -> tzinfo:
    """The inverse of :func:`encode_tz`."""
    if data == "UTC":
        return UTC
    if isinstance(data, str):
        return ZoneInfo(data)
    return timezone(timedelta(seconds=float(data["offset"])))


def encode_instant(value: datetime) -> JSON:
    """An aware datetime as ``[ISO 8601 in UTC, its zone]``: exact, and the zone comes back.

    (A float timestamp would lose microseconds far from 1970, and a schedule read back
    must compare equal to the one the code gives again, or every restart would replan.)
    """
    return [value.astimezone(UTC).isoformat(), encode_tz(value.tzinfo or UTC)]


def decode_instant(data: JSON) -> datetime:
    """The inverse of :func:`encode_instant`."""
    return datetime.fromisoformat(data[0]).astimezone(decode_tz(data[1]))


# ---------------------------------------------------------------------- codecs


@attrs.frozen
class Codec(Generic[T]):
    """How a durable store writes and reads one strategy class (a custom schedule, say).

    *encode* turns an instance into JSON values; *decode* builds it again from them and the
    *version* they were written with, so a class that changes its fields can still read
    rows written by the previous release.  *tag* names it in the store: keep it stable.

    Example:
        ```python
        @attrs.frozen
        class Fortnightly(tk.abc.Schedule):
            start: datetime
            def next_after(self, after): ...

        codec = tk.Codec(
            "myapp.fortnightly", Fortnightly,
            encode=lambda s: {"start": s.start.isoformat()},
            decode=lambda data, version: Fortnightly(datetime.fromisoformat(data["start"])),
        )
        store = tk.SQLiteStore("jobs.db", codecs=[codec])
        ```
    """

    tag: str
    type: type[T]
    encode: Callable[[T], JSON]
    decode: Callable[[JSON, int], T]
    version: int = 1


def _with_dst(data: dict[str, JSON], dst: DST) -> JSON:
    """*data* with ``"dst"`` when it is not the default (rows written before it read the same)."""
    if not dst.is_default:
        data["dst"] = {"gap": dst.gap, "fold": dst.fold}
    return data


def _dst(data: JSON) -> DST:
    found = data.get("dst")
    return DEFAULT_DST if found is None else DST(found["gap"], found["fold"])


def _optional_tz(tz: tzinfo | None) -> JSON:
    return None if tz is None else encode_tz(tz)


def _decode_optional_tz(data: JSON) -> tzinfo | None:
    return None if data is None else decode_tz(data)


def _weekday_encode(s: WeekdayTimes) -> JSON:
    times = [[day, at.isoformat()] for day, at in s.times]
    return _with_dst({"times": times, "tz": encode_tz(s.tz)}, s.dst)


def _weekday_decode(data: JSON, _v: int) -> WeekdayTimes:
    times = [(int(day), time.fromisoformat(at)) for day, at in data["times"]]
    return WeekdayTimes(times, tz=decode_tz(data["tz"]), dst=_dst(data))


def _rrule_encode(s: RRule) -> JSON:
    dtstart = None if s.dtstart is None else encode_instant(s.dtstart)
    return _with_dst({"rule": s.rule, "tz": encode_tz(s.tz), "dtstart": dtstart}, s.dst)


def _rrule_decode(data: JSON, _v: int) -> RRule:
    dtstart = None if data["dtstart"] is None else decode_instant(data["dtstart"])
    return RRule(data["rule"], tz=decode_tz(data["tz"]), dtstart=dtstart, dst=_dst(data))


def _interval_encode(s: Interval) -> JSON:
    start = None if s.start is None else encode_instant(s.start)
    return {"every": s.every.total_seconds(), "start": start}


def _interval_decode(data: JSON, _v: int) -> Interval:
    start = None if data["start"] is None else decode_instant(data["start"])
    return Interval(timedelta(seconds=data["every"]), start=start)


def _retry_fields(policy: ExponentialBackoff) -> JSON:
    return {
        "max_retries": policy.max_retries,
        "initial": policy.initial,
        "factor": policy.factor,
        "max_delay": policy.max_delay,
        "jitter": policy.jitter,
        "seed": policy.seed,
    }


_BUILTIN: tuple[Codec[Any], ...] = (
    Codec(
        "cron",
        Cron,
        lambda s: _with_dst({"expr": s.expr, "tz": encode_tz(s.tz)}, s.dst),
        lambda d, v: Cron(d["expr"], tz=decode_tz(d["tz"]), dst=_dst(d)),
    ),
    Codec("weekday_times", WeekdayTimes, _weekday_encode, _weekday_decode),
    Codec("rrule", RRule, _rrule_encode, _rrule_decode),
    Codec(
        "dates",
        Dates,
        lambda c: {
            "dates": [d.isoformat() for d in sorted(c.dates)],
            "label": c.label,
            "tz": _optional_tz(c.tz),
        },
        lambda d, v: Dates(
            [date.fromisoformat(x) for x in d["dates"]],
            label=d["label"],
            tz=_decode_optional_tz(d["tz"]),
        ),
    ),
    Codec(
        "yearly_dates",
        YearlyDates,
        lambda c: {
            "days": [f"{m:02}-{day:02}" for m, day in c.days],
            "label": c.label,
            "tz": _optional_tz(c.tz),
        },
        lambda d, v: YearlyDates(d["days"], label=d["label"], tz=_decode_optional_tz(d["tz"])),
    ),
    Codec(
        "weekdays",
        Weekdays,
        lambda c: {"days": sorted(c.days), "tz": _optional_tz(c.tz)},
        lambda d, v: Weekdays(*d["days"], tz=_decode_optional_tz(d["tz"])),
    ),
    Codec(
        "holidays",
        Holidays,
        lambda c: {
            "country": c.country,
            "subdiv": c.subdiv,
            "tz": _optional_tz(c.tz),
            **({} if c.language == "en_US" else {"language": c.language}),
        },
        lambda d, v: Holidays(
            d["country"],
            d["subdiv"],
            tz=_decode_optional_tz(d["tz"]),
            language=d.get("language", "en_US"),
        ),
    ),
    Codec("interval", Interval, _interval_encode, _interval_decode),
    Codec(
        "once",
        Once,
        lambda s: {"at": encode_instant(s.at)},
        lambda d, v: Once(decode_instant(d["at"])),
    ),
    Codec("never", Never, lambda s: {}, lambda d, v: Never()),
    Codec(
        "exponential_backoff",
        ExponentialBackoff,
        _retry_fields,
        lambda d, v: ExponentialBackoff(
            d["max_retries"],
            initial=d["initial"],
            factor=d["factor"],
            max_delay=d["max_delay"],
            jitter=d["jitter"],
            seed=d["seed"],
        ),
    ),
    Codec(
        "fixed_delay",
        FixedDelay,
        lambda p: {"max_retries": p.max_retries, "delay": p.delay},
        lambda d, v: FixedDelay(d["max_retries"], d["delay"]),
    ),
    Codec("forever", Forever, lambda s: {}, lambda d, v: Forever()),
    Codec("max_runs", MaxRuns, lambda s: {"n": s.n}, lambda d, v: MaxRuns(d["n"])),
    Codec(
        "until",
        Until,
        lambda s: {"when": encode_instant(s.when)},
        lambda d, v: Until(decode_instant(d["when"])),
    ),
    Codec("coalesce", Coalesce, lambda p: {"grace": p.grace}, lambda d, v: Coalesce(d["grace"])),
    Codec(
        "catch_up",
        CatchUp,
        lambda p: {"limit": p.limit, "grace": p.grace},
        lambda d, v: CatchUp(d["limit"], grace=d["grace"]),
    ),
)


def _composite(codecs: Codecs) -> tuple[Codec[Any], ...]:
    """Codecs of values that hold other schedules or calendars (custom ones too)."""
    enc, dec = codecs.encode, codecs.decode

    def schedule_of(value: JSON) -> Any:
        found = dec(value)
        if not isinstance(found, Schedule):
            raise StoredValueError(f"expected a schedule, got {found!r}")
        return found

    def calendar_of(value: JSON) -> Any:
        found = dec(value)
        if not isinstance(found, Calendar):
            raise StoredValueError(f"expected a calendar, got {found!r}")
        return found

    return (
        Codec(
            "excluding",
            Excluding,
            lambda s: {
                "schedule": enc(s.schedule, "schedule"),
                "calendar": enc(s.calendar, "calendar"),
            },
            lambda d, v: Excluding(schedule_of(d["schedule"]), calendar_of(d["calendar"])),
        ),
        Codec(
            "any_of",
            AnyOf,
            lambda s: {"schedules": [enc(m, "schedule") for m in s.schedules]},
            lambda d, v: AnyOf(*(schedule_of(m) for m in d["schedules"])),
        ),
        Codec(
            "between",
            Between,
            lambda s: {
                "schedule": enc(s.schedule, "schedule"),
                "start": encode_instant(s.start),
                "end": encode_instant(s.end),
            },
            lambda d, v: Between(
                schedule_of(d["schedule"]), decode_instant(d["start"]), decode_instant(d["end"])
            ),
        ),
        Codec(
            "calendar_union",
            CalendarUnion,
            lambda c: {"calendars": [enc(m, "calendar") for m in c.calendars]},
            lambda d, v: CalendarUnion([calendar_of(m) for m in d["calendars"]]),
        ),
    )


class Codecs:
    """The codecs one store uses: the built-in ones and those registered with it."""

    def __init__(self, extra: Iterable[Codec[Any]] = ()) -> None:
        self._by_type: dict[type, Codec[Any]] = {}
        self._by_tag: dict[str, Codec[Any]] = {}
        for codec in (*_BUILTIN, *_composite(self), *extra):
            if not isinstance(codec, Codec):
                raise TypeError(f"codecs: expected tk.Codec values, got {codec!r}")
            if codec.tag in self._by_tag:
                raise InvalidArgument(f"codecs: the tag {codec.tag!r} is registered twice")
            if codec.type in self._by_type:
                raise InvalidArgument(
                    f"codecs: {codec.type.__qualname__} has a codec already "
                    f"({self._by_type[codec.type].tag!r})"
                )
            self._by_type[codec.type] = codec
            self._by_tag[codec.tag] = codec

    def encode(self, value: object, argument: str) -> JSON:
        """*value* as ``{"type": tag, "v": version, "data": ...}``; ``TypeError`` if unknown."""
        codec = self._by_type.get(type(value))
        if codec is None:
            raise TypeError(
                f"{argument}: {type(value).__qualname__} has no codec, so a durable store "
                "cannot write it; register one with the store (codecs=[tk.Codec(...)], see "
                "'Durable jobs' in the docs)"
            )
        return {"type": codec.tag, "v": codec.version, "data": codec.encode(value)}

    def decode(self, data: JSON) -> Any:
        """The inverse of :meth:`encode`; ``StoredValueError`` if it cannot be read."""
        try:
            tag, version = data["type"], data["v"]
        except (TypeError, KeyError):
            raise StoredValueError(f"not a tagged value: {data!r}") from None
        codec = self._by_tag.get(tag)
        if codec is None:
            raise StoredValueError(
                f"no codec for the stored type {tag!r}; register it with the store"
            )
        if not isinstance(version, int) or version > codec.version:
            raise StoredValueError(
                f"{tag!r} was stored as version {version!r}, newer than this code reads "
                f"({codec.version})"
            )
        try:
            return codec.decode(data["data"], version)
        except Exception as exc:
            raise StoredValueError(f"cannot read the stored {tag!r}: {exc!r}") from exc

    def optional(self, value: object, argument: str) -> JSON:
        """:meth:`encode`, with ``None`` kept as ``None``."""
        return None if value is None else self.encode(value, argument)

    def decode_optional(self, data: JSON) -> Any:
        """:meth:`decode`, with ``None`` kept as ``None``."""
        return None if data is None else self.decode(data)
