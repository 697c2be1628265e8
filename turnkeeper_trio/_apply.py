"""``Scheduler.apply``: make the scheduler's keyed jobs what a list of requests says.

A declarative upsert built on the attach rules of keyed jobs (``add_job`` with a key the
scheduler knows attaches to that job, and a changed definition replaces the stored one): new
keys are added, changed definitions replaced, unchanged ones left alone, and with
``prune=True`` the keyed jobs the requests no longer name are cancelled.  Every request is
checked before anything changes, so a bad request changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ._exceptions import InvalidArgument
from ._job import JobSpec
from ._models import JobId, JobRequest
from ._submission import listed

if TYPE_CHECKING:
    from ._scheduler import Scheduler

__all__ = ["ApplyResult", "apply_requests"]

#: What a re-added key compares (as ``_durable.attach`` does): a request's field, and the
#: attribute of the live job that holds it (``given``: the schedule as it was given).
_COMPARED = (
    ("name", "name"),
    ("fn", "fn"),
    ("args", "args"),
    ("schedule", "given"),
    ("retry", "retry"),
    ("timeout", "timeout"),
    ("lifetime", "lifetime"),
    ("misfire", "misfire"),
    ("quarantine_after", "quarantine_after"),
    ("on_crash", "on_crash"),
    ("jitter", "jitter"),
)


@attrs.frozen
class ApplyResult:
    """What ``Scheduler.apply`` did, as tuples of job keys (in the requests' order).

    Attributes:
        added: keys no job had: added.
        changed: keys whose definition differed: replaced (state, counts and history
            kept; the next run recomputed from the last fired occurrence).
        unchanged: keys whose job already had this definition: left alone.
        finished: keys of jobs that have finished (completed, cancelled or failed) and are
            still known: re-adding a key does not bring its job back, so they were left
            as they are.
        cancelled: with ``prune=True``, keyed jobs the requests no longer name: cancelled.

    Example:
        ```python
        result = await s.apply(tk.load_schedules("schedules.toml"), prune=True)
        log.info("schedules: +%d ~%d -%d", len(result.added), len(result.changed),
                 len(result.cancelled))
        ```
    """

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    finished: tuple[str, ...] = ()
    cancelled: tuple[str, ...] = ()


def _spec(scheduler: Scheduler, item: JobRequest) -> JobSpec:
    """*item* checked exactly as ``add_jobs`` checks it."""
    return scheduler._request_spec(item)


def _checked(scheduler: Scheduler, items: list[Any]) -> list[JobSpec]:
    """Every request checked; an ``ExceptionGroup`` of every refusal, before any change."""
    specs: list[JobSpec] = []
    errors: list[Exception] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        key = getattr(item, "key", None)
        try:
            if not isinstance(item, JobRequest):
                raise TypeError(f"requests[{index}] must be a JobRequest, got {item!r}")
            if key is None:
                raise InvalidArgument(
                    f"requests[{index}]: apply needs a key on every request (JobRequest(..., "
                    "key='nightly-report')): the key is how the next apply finds the job"
                )
            if key in seen:
                raise InvalidArgument(
                    f"requests[{index}]: the key {key!r} is given twice "
                    f"(also requests[{seen[key]}])"
                )
            seen[key] = index
            specs.append(_spec(scheduler, item))
        except (TypeError, ValueError) as exc:  # what add_job raises for bad arguments
            exc.add_note(f"requests[{index}] (key {key!r})")
            errors.append(exc)
    if errors:
        raise ExceptionGroup(
            f"apply: {len(errors)} of {len(items)} requests refused; nothing was changed",
            errors,
        )
    return specs


def _status(scheduler: Scheduler, spec: JobSpec) -> str:
    """Whether *spec*'s key is new, changed, unchanged or names a finished job."""
    coordinator = scheduler._coordinator
    known = coordinator.keys.get(spec.id.key)
    if known is None:
        return "added"
    staged = coordinator.staging.get(known.value)
    if staged is not None:
        same = all(getattr(staged, field) == getattr(spec, field) for field, _ in _COMPARED)
        return "unchanged" if same else "changed"
    job = coordinator.table.get(known)
    if job is None:
        return "added"
    if job.status.phase.is_final:
        return "finished"
    if job.broken is not None:
        return "changed"  # stored as this process cannot run it: this definition repairs it
    same = all(getattr(job, attr) == getattr(spec, field) for field, attr in _COMPARED)
    return "unchanged" if same else "changed"


def _prunable(scheduler: Scheduler, keep: set[str]) -> list[JobId]:
    """The live keyed jobs (keys given by code, not generated) whose key is not in *keep*."""
    found = []
    for summary in scheduler.list_all_jobs():
        key = summary.id._key
        if key is None or key.startswith("~") or key in keep or summary.state.is_final:
            continue
        found.append(summary.id)
    return found


async def apply_requests(
    scheduler: Scheduler, requests: Iterable[JobRequest], *, prune: bool = False
) -> ApplyResult:
    """``Scheduler.apply`` (see there)."""
    items: list[Any] = listed(requests, "requests", "JobRequest")
    if not isinstance(prune, bool):
        raise TypeError(f"prune must be a bool, got {type(prune).__name__} {prune!r}")
    specs = _checked(scheduler, items)
    by_status: dict[str, list[str]] = {"added": [], "changed": [], "unchanged": [], "finished": []}
    submitted: list[JobRequest] = []
    for item, spec in zip(items, specs, strict=True):
        status = _status(scheduler, spec)
        by_status[status].append(spec.id.key)
        if status in ("added", "changed"):
            submitted.append(item)
    if submitted:
        (await scheduler.add_jobs(submitted)).raise_for_refused()
    cancelled: tuple[str, ...] = ()
    if prune:
        stale = _prunable(scheduler, {spec.id.key for spec in specs})
        if stale:
            result = await scheduler.cancel_jobs(stale)
            cancelled = tuple(job_id.key for job_id in result.accepted)
            result.raise_for_refused()
    return ApplyResult(
        added=tuple(by_status["added"]),
        changed=tuple(by_status["changed"]),
        unchanged=tuple(by_status["unchanged"]),
        finished=tuple(by_status["finished"]),
        cancelled=cancelled,
    )
