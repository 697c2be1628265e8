"""Which code a durable store may run: the functions this process registered.

A stored job names its function as ``module:qualname``.  A database row must never choose
the code that runs, so the name is only looked up in a registry of functions *this process*
gave the scheduler: every function passed to ``add_job``, ``add_jobs`` or ``update_job``,
and those declared up front with ``open_scheduler(functions=[...])`` for jobs that another
replica or an earlier life of the process added at run time.  A name that is not in the
registry makes its job unloadable (shown, never run); no module is ever imported because a
row names it.

Why an argument and not a decorator: a decorator would need a registry at module level, a
global shared by every scheduler in the process; an argument keeps the list explicit, per
scheduler, and visible where the scheduler is opened.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Functions", "NotRegistered", "function_ref"]


class NotRegistered(ImportError):
    """A stored job names a function this process has not registered (internal).

    An ``ImportError``, like a module that is missing, so that the job is unloadable in the
    same way: shown with the reason, never run, and run again by a replica whose code has it.
    ``shown`` is the job as stored, restored for display only.
    """

    shown: object = None


def _lookup(ref: str) -> object:
    """The object *ref* names among the modules already imported, or ``None``.

    Never imports anything: the function given to ``add_job`` lives in a module that is
    imported already.
    """
    module_name, _, qualname = ref.partition(":")
    found: object = sys.modules.get(module_name)
    for part in qualname.split("."):
        if found is None:
            return None
        found = getattr(found, part, None)
    return found


def function_ref(fn: object, argument: str = "async_fn") -> str:
    """The ``module:qualname`` a durable store keeps for *fn*; ``TypeError`` if there is none.

    Only a function that the same name finds again is accepted: a nested function
    (closure), a bound method or a ``functools.partial`` has no name another process could
    find.  (A lambda is refused earlier: it cannot be an ``async def``.)
    """
    if isinstance(fn, functools.partial):
        raise TypeError(
            f"{argument}: a functools.partial cannot be stored by a durable store (a row must "
            "not hold code); pass the function itself and its arguments as *args"
        )
    if inspect.ismethod(fn):
        raise TypeError(
            f"{argument}: the bound method {fn.__qualname__} cannot be stored by a durable "
            "store; use a module-level async function (or a staticmethod) and pass the "
            "object's identity as an argument"
        )
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise TypeError(
            f"{argument}: {fn!r} has no module and qualified name, so a durable store cannot "
            "find it again; use a module-level async function"
        )
    if "<locals>" in qualname:
        raise TypeError(
            f"{argument}: {qualname} is defined inside a function (a closure), so a durable "
            "store cannot find it again; move it to module level and pass what it "
            "captured as arguments"
        )
    ref = f"{module}:{qualname}"
    if _lookup(ref) is not fn:
        raise TypeError(
            f"{argument}: {ref} does not name this function (a restart could not find it); "
            "use a module-level async function of an importable module"
        )
    return ref


class Functions:
    """The functions one scheduler's durable store may run, by ``module:qualname``."""

    def __init__(self, declared: Iterable[Callable[..., Any]] = ()) -> None:
        self._by_ref: dict[str, Callable[..., Any]] = {}
        self._by_fn: dict[Callable[..., Any], str] = {}
        for index, fn in enumerate(declared):
            self.register(fn, f"functions[{index}]")

    def __len__(self) -> int:
        return len(self._by_ref)

    def register(self, fn: Callable[..., Any], argument: str = "async_fn") -> str:
        """Register *fn* (checked: an async function with a storable name); return its name."""
        try:
            ref = self._by_fn.get(fn)
        except TypeError:  # unhashable: not a function anyway
            ref = None
        if ref is not None:
            return ref
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(
                f"{argument} must be an async function (async def), got {fn!r}; wrap a sync "
                "function in an async one (or run it with trio.to_thread.run_sync inside one)"
            )
        ref = function_ref(fn, argument)
        self._by_ref[ref] = fn
        self._by_fn[fn] = ref
        return ref

    def resolve(self, ref: object) -> Callable[..., Any]:
        """The registered function named *ref*; ``NotRegistered`` if there is none."""
        if not isinstance(ref, str):
            raise NotRegistered(f"the stored function reference {ref!r} is not a string")
        fn = self._by_ref.get(ref)
        if fn is None:
            module = ref.partition(":")[0]
            raise NotRegistered(
                f"{ref} is not registered in this process, so it is not run: pass it to "
                "add_job, or declare it with open_scheduler(functions=[...]); a stored row "
                "never makes the process import a module",
                name=module or None,
            )
        return fn
