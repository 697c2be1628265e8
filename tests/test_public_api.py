"""The public surface: every name exported once, documented, and the error tree."""

from __future__ import annotations

import inspect

import pytest
import trio

import turnkeeper_trio as tk
import turnkeeper_trio.abc
import turnkeeper_trio.prometheus
import turnkeeper_trio.testing
import turnkeeper_trio.web

MODULES = [
    tk,
    turnkeeper_trio.abc,
    turnkeeper_trio.testing,
    turnkeeper_trio.prometheus,
    turnkeeper_trio.web,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_public_name_is_exported_and_documented(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert len(names) == len(set(names)), "a name is exported twice"
    assert names == sorted(names, key=str)
    for name in names:
        obj = getattr(module, name)
        assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"  # type: ignore[attr-defined]
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def _has_example(obj: object) -> bool:
    doc = inspect.getdoc(obj) or ""
    return "Example:\n" in doc or ">>>" in doc


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_public_name_shows_an_example(module: object) -> None:
    missing = [
        name
        for name in module.__all__  # type: ignore[attr-defined]
        if not inspect.ismodule(getattr(module, name)) and not _has_example(getattr(module, name))
    ]
    assert missing == []


def test_every_scheduler_method_shows_an_example() -> None:
    # Inherited ones too: the runtime (run, shutdown_*, wait_stopped) lives in a base class.
    members = {
        name: member
        for cls in reversed(tk.Scheduler.__mro__[:-1])
        for name, member in vars(cls).items()
    }
    missing = [
        name
        for name, member in members.items()
        if not name.startswith("_")
        and not _has_example(member.fget if isinstance(member, property) else member)
    ]
    assert "shutdown_graceful" in members
    assert missing == []


def test_implementation_modules_are_private() -> None:
    public_modules = {"abc", "testing", "prometheus", "web"}
    for name in dir(tk):
        value = getattr(tk, name)
        if inspect.ismodule(value) and value.__name__.startswith("turnkeeper_trio."):
            assert name.startswith("_") or name in public_modules


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (tk.StagingFull, (tk.TurnKeeperError, trio.WouldBlock)),
        (tk.SchedulerClosed, (tk.TurnKeeperError, trio.ClosedResourceError)),
        (tk.JobNotFound, (tk.TurnKeeperError, LookupError)),
        (tk.JobFinished, (tk.TurnKeeperError, RuntimeError)),
        (tk.SchedulerNotRunning, (tk.TurnKeeperError, RuntimeError)),
        (tk.InvalidSchedule, (tk.TurnKeeperError, ValueError)),
        (tk.InvalidArgument, (tk.TurnKeeperError, ValueError)),
        (tk.JobNotLoaded, (tk.TurnKeeperError, RuntimeError)),
        (tk.StoredValueError, (tk.TurnKeeperError, ValueError)),
        (tk.StoreError, (tk.TurnKeeperError,)),
        (tk.StoreLocked, (tk.StoreError,)),
        (tk.StoreCorrupt, (tk.StoreError,)),
        (tk.StoreUnavailable, (tk.StoreError,)),
    ],
)
def test_error_tree(error: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    for base in bases:
        assert issubclass(error, base)
    assert issubclass(error, Exception)


def test_values_are_frozen() -> None:
    schedule = tk.Cron("0 9 * * *")
    with pytest.raises(AttributeError):
        schedule.expr = "0 10 * * *"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        tk.JobId(1).value = 2  # type: ignore[misc]


def test_the_error_tree_in_the_docs_names_every_exported_error() -> None:
    import turnkeeper_trio._exceptions as exceptions_module

    tree = exceptions_module.__doc__ or ""
    errors = [
        name
        for name in tk.__all__
        if inspect.isclass(getattr(tk, name)) and issubclass(getattr(tk, name), Exception)
    ]
    assert "StoreUnavailable" in errors
    for name in errors:
        assert f"── {name}" in tree, f"{name} is missing from the tree in _exceptions.py"
