"""A schedule file: keyed jobs described in TOML, loaded into ``JobRequest``s.

```toml
[jobs.nightly-report]
function = "myapp.reports:send_daily"
args = ["ops@example.com"]
schedule = { cron = "0 9 * * MON-FRI", tz = "Europe/Paris" }
retry = { exponential = { max_retries = 3 } }
timeout = 60
```

Every value is checked by building the real objects (``Cron``, ``ExponentialBackoff``, ...),
whose constructors are the ones ``add_job`` relies on, and by the checks ``add_job`` applies
to the other arguments; every problem of the file is collected, each named by its dotted
path (``jobs.nightly-report.schedule.cron``), and reported at once in one
``ScheduleFileError``.  Unknown fields are errors, so a typo is never silently ignored.

A file names its functions as ``module:qualname``.  Unlike a database row, a schedule file is
deployed with the code, by the operator: by default the named module is imported (which
runs its top-level code, as any import does).  ``functions=[...]`` resolves the names
against the given functions instead, and imports nothing.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
import tomllib
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, time
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ._codec import check_json_args
from ._cron import Cron
from ._durable import check_key, check_on_crash
from ._exceptions import InvalidArgument
from ._functions import function_ref
from ._lifetime import Forever, Lifetime, MaxRuns, Until
from ._misfire import CatchUp, Coalesce, MisfirePolicy
from ._models import JobRequest
from ._retry import ExponentialBackoff, FixedDelay, RetryPolicy
from ._schedule import Schedule
from ._simple_schedules import Interval, Never, Once
from ._submission import check_name, check_quarantine
from ._validation import check_jitter, check_optional_seconds
from ._weekday import WeekdayTimes

__all__ = ["ScheduleFileError", "load_schedules", "read_schedule_file"]

#: The fields of a job's table, and of the tables inside it.
_JOB_FIELDS = (
    "function",
    "args",
    "name",
    "schedule",
    "retry",
    "timeout",
    "lifetime",
    "misfire",
    "quarantine_after",
    "on_crash",
    "jitter",
)
_SCHEDULE_KINDS = ("cron", "interval", "once", "never", "weekday_times")
_SCHEDULE_EXTRAS = {"cron": ("tz",), "weekday_times": ("tz",), "interval": ("start",)}
_RETRY_FIELDS = {
    "exponential": ("max_retries", "initial", "factor", "max_delay", "jitter", "seed"),
    "fixed": ("max_retries", "delay"),
}
_MISFIRE_FIELDS = {"coalesce": ("grace",), "catch_up": ("limit", "grace")}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_FILE_VERSION = 1

AsyncFn = Callable[..., Awaitable[object]]
T = TypeVar("T")


class ScheduleFileError(InvalidArgument):
    """A schedule file cannot be used: every problem found, each naming its field.

    Attributes:
        path: the file.
        problems: one line per problem, each starting with the dotted path of the field at
            fault (``jobs.nightly-report.schedule.cron: ...``).

    The message lists them all, one per line, each prefixed with the file's path.

    Example:
        ```python
        try:
            requests = tk.load_schedules("schedules.toml")
        except tk.ScheduleFileError as exc:
            for problem in exc.problems:
                log.error("%s: %s", exc.path, problem)
        ```
    """

    def __init__(self, path: str, problems: Iterable[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{path}: {problem}" for problem in self.problems))


class _Problem(Exception):
    """One problem of a file, with the dotted path of its field (internal)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")


def _key_path(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else '"' + key.replace('"', '\\"') + '"'


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Problem(where, f"must be a table, got {_kind(value)}")
    return value


def _kind(value: object) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a float"}
    names.update({list: "an array", dict: "a table", datetime: "a date-time"})
    names.update({date: "a date", time: "a time"})
    return names.get(type(value), type(value).__name__)


def _unknown(table: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    extra = sorted(set(table) - set(allowed))
    if extra:
        guesses = [difflib.get_close_matches(name, allowed, n=1) for name in extra]
        listed = ", ".join(
            name + (f" (did you mean {guess[0]}?)" if guess else "")
            for name, guess in zip(extra, guesses, strict=True)
        )
        raise _Problem(
            where, f"unknown field(s) {listed}; the fields are: {', '.join(sorted(allowed))}"
        )


def _one_of(table: dict[str, Any], kinds: Iterable[str], where: str) -> str:
    found = [kind for kind in kinds if kind in table]
    if len(found) != 1:
        raise _Problem(
            where, f"give exactly one of {', '.join(kinds)}, got {', '.join(found) or 'none'}"
        )
    return found[0]


def _checked(where: str, build: Callable[[], T]) -> T:
    """``build()``, its ``TypeError``/``ValueError`` (the constructors' own) as a problem."""
    try:
        return build()
    except (TypeError, ValueError) as exc:
        raise _Problem(where, str(exc)) from None


def _instant(value: object, where: str) -> datetime:
    """A TOML offset date-time, or an ISO 8601 string with an offset."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _Problem(where, f"{value!r} is not an ISO 8601 date and time") from None
    if not isinstance(value, datetime):
        raise _Problem(where, f"must be a date and time with an offset, got {_kind(value)}")
    if value.tzinfo is None:
        raise _Problem(
            where, f"{value.isoformat()} has no UTC offset; write e.g. 2027-01-01T09:00:00+01:00"
        )
    return value


def _zone(value: object, where: str) -> ZoneInfo:
    if not isinstance(value, str):
        raise _Problem(where, f"must be an IANA time zone name, got {_kind(value)}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Problem(where, f"{value!r} is not a known IANA time zone") from None


def _schedule(value: object, where: str) -> Schedule:
    table = _table(value, where)
    kind = _one_of(table, _SCHEDULE_KINDS, where)
    _unknown(table, (kind, *_SCHEDULE_EXTRAS.get(kind, ())), where)
    given, at = table[kind], f"{where}.{kind}"
    tz = _zone(table["tz"], f"{where}.tz") if "tz" in table else None
    if kind == "cron":
        if not isinstance(given, str):
            raise _Problem(at, f"must be a cron expression string, got {_kind(given)}")
        return _checked(at, lambda: Cron(given) if tz is None else Cron(given, tz=tz))
    if kind == "weekday_times":
        if not isinstance(given, list):
            raise _Problem(at, f'must be an array of [weekday, "HH:MM"] pairs, got {_kind(given)}')
        pairs = [tuple(p) if isinstance(p, list) else p for p in given]
        return _checked(
            at, lambda: WeekdayTimes(pairs) if tz is None else WeekdayTimes(pairs, tz=tz)
        )
    if kind == "interval":
        if isinstance(given, bool) or not isinstance(given, int | float):
            raise _Problem(at, f"must be a number of seconds, got {_kind(given)}")
        start = _instant(table["start"], f"{where}.start") if "start" in table else None
        return _checked(at, lambda: Interval(given, start=start))
    if kind == "once":
        return _checked(at, lambda: Once(_instant(given, at)))
    if given is not True:
        raise _Problem(at, "write never = true (a job that runs only when triggered)")
    return Never()


def _policy(
    value: object, where: str, fields: dict[str, tuple[str, ...]], names: dict[str, Any]
) -> Any:
    """A one-key table ``{kind = {options}}`` (or the kind's name alone) built as ``names``."""
    if isinstance(value, str) and value in fields:
        value = {value: {}}
    table = _table(value, where)
    kind = _one_of(table, tuple(fields), where)
    _unknown(table, (kind,), where)
    options = _table(table[kind], f"{where}.{kind}")
    _unknown(options, fields[kind], f"{where}.{kind}")
    return _checked(f"{where}.{kind}", lambda: names[kind](**options))


def _retry(value: object, where: str) -> RetryPolicy:
    classes = {"exponential": ExponentialBackoff, "fixed": FixedDelay}
    policy: RetryPolicy = _policy(value, where, _RETRY_FIELDS, classes)
    return policy


def _misfire(value: object, where: str) -> MisfirePolicy:
    classes = {"coalesce": Coalesce, "catch_up": CatchUp}
    policy: MisfirePolicy = _policy(value, where, _MISFIRE_FIELDS, classes)
    return policy


def _lifetime(value: object, where: str) -> Lifetime:
    if value == "forever":
        return Forever()
    table = _table(value, where)
    kind = _one_of(table, ("forever", "max_runs", "until"), where)
    _unknown(table, (kind,), where)
    given, at = table[kind], f"{where}.{kind}"
    if kind == "max_runs":
        return _checked(at, lambda: MaxRuns(given))
    if kind == "until":
        return _checked(at, lambda: Until(_instant(given, at)))
    if given is not True:
        raise _Problem(at, 'write forever = true, or lifetime = "forever"')
    return Forever()


@attrs.frozen
class _Resolver:
    """How ``module:qualname`` finds its function: given functions, or an import."""

    given: dict[str, AsyncFn] | None

    def resolve(self, ref: object, where: str, *, storable: bool) -> AsyncFn:
        if not isinstance(ref, str):
            raise _Problem(where, f'must be a "module:qualname" string, got {_kind(ref)}')
        module, colon, qualname = ref.partition(":")
        if not colon or not module or not qualname:
            raise _Problem(where, f'{ref!r} must be written "module:qualname"')
        if self.given is not None:
            fn = self.given.get(ref)
            if fn is None:
                raise _Problem(where, f"{ref} is not among the functions given (functions=)")
        else:
            fn = self._imported(module, qualname, ref, where)
        if not inspect.iscoroutinefunction(fn):
            raise _Problem(
                where,
                f"{ref} is not an async function (async def); wrap a sync function in an async one",
            )
        if storable:
            _checked(where, lambda: function_ref(fn, where))
        return fn

    @staticmethod
    def _imported(module: str, qualname: str, ref: str, where: str) -> Any:
        try:
            found: Any = importlib.import_module(module)
        except Exception as exc:  # the module's own code ran: any error is the file's problem
            raise _Problem(
                where, f"cannot import module {module!r}: {type(exc).__name__}: {exc}"
            ) from None
        for part in qualname.split("."):
            found = getattr(found, part, None)
            if found is None:
                raise _Problem(where, f"module {module!r} has no {qualname!r} ({ref})")
        return found


def _request(key: str, value: object, where: str, resolver: _Resolver, storable: bool) -> Any:
    """The ``JobRequest`` of one job table; raises the first problem of each field."""
    table = _table(value, where)
    problems: list[str] = []

    def field(name: str, check: Callable[[object, str], Any], default: Any = None) -> Any:
        if name not in table:
            return default
        try:
            return check(table[name], f"{where}.{name}")
        except _Problem as problem:
            problems.append(str(problem))
            return default

    try:
        _unknown(table, _JOB_FIELDS, where)
    except _Problem as problem:
        problems.append(str(problem))
    for required in ("function", "schedule"):
        if required not in table:
            problems.append(f"{where}: the field {required!r} is required")
    try:
        check_key(key, "key")
    except (TypeError, ValueError) as exc:
        problems.append(f"{where}: the table name is the job's key: {exc}")
    fn = field("function", lambda v, w: resolver.resolve(v, w, storable=storable))
    args = field("args", _args, ())
    schedule = field("schedule", _schedule)
    options = {
        "name": field("name", _wrap(check_name)),
        "retry": field("retry", _retry),
        "timeout": field("timeout", _wrap(lambda v: check_optional_seconds("timeout", v))),
        "lifetime": field("lifetime", _lifetime),
        "misfire": field("misfire", _misfire),
        "quarantine_after": field("quarantine_after", _wrap(check_quarantine)),
        "on_crash": field("on_crash", _wrap(check_on_crash), "rerun"),
        "jitter": field("jitter", _wrap(check_jitter)),
    }
    if problems:
        return problems
    return JobRequest(schedule, fn, *args, key=key, **options)


def _wrap(check: Callable[[Any], Any]) -> Callable[[object, str], Any]:
    """A check of ``add_job``'s (raising ``TypeError``/``ValueError``) as a field check."""
    return lambda value, where: _checked(where, lambda: check(value))


def _args(value: object, where: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise _Problem(where, f"must be an array of the function's arguments, got {_kind(value)}")
    args = tuple(value)
    try:
        check_json_args(args)
    except (TypeError, ValueError) as exc:
        raise _Problem(where, str(exc).replace("args[", "[", 1)) from None
    return args


def read_schedule_file(
    path: str | PathLike[str],
    *,
    functions: Iterable[AsyncFn] | None = None,
    storable: bool = False,
) -> tuple[list[JobRequest], list[str]]:
    """The requests a schedule file describes, and every problem found (internal).

    *storable* also checks that each function has a name a durable store can keep.
    """
    given: dict[str, AsyncFn] | None = None
    if functions is not None:
        given = {}
        for index, fn in enumerate(functions):
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(f"functions[{index}] must be an async function, got {fn!r}")
            given[f"{fn.__module__}:{fn.__qualname__}"] = fn
    try:
        with Path(path).open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        return [], [f"cannot read the file: {exc.strerror or exc}"]
    except tomllib.TOMLDecodeError as exc:
        return [], [f"not valid TOML: {exc}"]
    except UnicodeDecodeError as exc:
        return [], [f"not valid UTF-8 text: {exc}"]
    problems: list[str] = []
    try:
        _unknown(document, ("version", "jobs"), "the top level")
        version = document.get("version", _FILE_VERSION)
        if version != _FILE_VERSION:
            raise _Problem("version", f"this version reads version = 1 files, got {version!r}")
        jobs = _table(document.get("jobs", {}), "jobs")
    except _Problem as problem:
        return [], [str(problem)]
    if not jobs:
        return [], ["jobs: the file describes no job; add a [jobs.<key>] table"]
    resolver = _Resolver(given)
    requests: list[JobRequest] = []
    for key, value in jobs.items():
        made = _request(key, value, f"jobs.{_key_path(key)}", resolver, storable)
        if isinstance(made, JobRequest):
            requests.append(made)
        else:
            problems.extend(made)
    return requests, problems


def load_schedules(
    path: str | PathLike[str], *, functions: Iterable[AsyncFn] | None = None
) -> list[JobRequest]:
    """Read a schedule file (TOML) into ``JobRequest``s, one per job, keyed by its table name.

    Every value is checked as ``add_job`` checks it (the schedules and policies are built,
    so their constructors validate them); give the result to ``Scheduler.apply``.  The
    format is described in "Operations" in the documentation.

    Args:
        path: the file.
        functions: ``None`` (default): a job's ``function = "module:qualname"`` imports
            ``module`` (the file is deployed with the code, so it may choose it; importing
            runs the module's top-level code).  A list of async functions: names are looked
            up among them only, and nothing is imported.

    Returns:
        The requests, in the file's order, each with ``key=`` its table's name.

    Raises:
        ScheduleFileError: the file cannot be read or parsed, or a value is wrong: one
            error listing every problem, each naming the file, the job's key and the field
            (``jobs.nightly-report.schedule.cron: ...``).
        TypeError: an entry of *functions* is not an async function.

    Example:
        ```python
        requests = tk.load_schedules("schedules.toml")
        async with tk.open_scheduler(max_workers=4, store=store) as s:
            print(await s.apply(requests, prune=True))
            await s.wait_stopped()
        ```
    """
    requests, problems = read_schedule_file(path, functions=functions)
    if problems:
        raise ScheduleFileError(str(path), problems)
    return requests
