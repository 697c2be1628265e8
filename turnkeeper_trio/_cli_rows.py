"""Stored rows as the values ``python -m turnkeeper_trio jobs --json`` prints.

The rows of ``PostgresStore`` and ``SQLiteStore`` (``definition`` and ``state`` as
``_durable.job_row`` writes them, runs as ``record_data`` writes them) turned into the values
the dashboard's JSON API answers, so that every back end prints the same shapes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ._codec import Codecs

__all__ = ["details_of", "iso", "run_of", "summary_of"]

_COUNTS = ("succeeded", "failed", "errored", "timed_out", "cancelled")


def iso(timestamp: object) -> str | None:
    """A stored timestamp (seconds since the epoch) as ISO 8601 in UTC, or ``None``."""
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return None
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _text(codecs: Codecs, value: object) -> str | None:
    """A stored strategy as its ``repr``; as its JSON when this process cannot decode it."""
    if value is None:
        return None
    try:
        return repr(codecs.decode(value))
    except Exception:  # a custom strategy's tag: show what is stored
        return json.dumps(value, sort_keys=True)


def _state_of(phase: str, state: dict[str, Any]) -> str:
    if phase != "active":
        return phase
    run = state.get("run")
    return "running" if isinstance(run, list) and run[4:5] == [True] else "scheduled"


def _error(value: object) -> dict[str, str] | None:
    if isinstance(value, list) and len(value) == 3:
        return {"type": value[0], "message": value[1], "traceback": value[2]}
    return None


def summary_of(
    codecs: Codecs, key: str, phase: str, next_run_at: object, definition: Any, state: Any
) -> dict[str, Any]:
    """A stored job as an item of ``jobs list --json`` (the API's summary)."""
    definition = definition if isinstance(definition, dict) else {}
    state = state if isinstance(state, dict) else {}
    name = definition.get("name")
    return {
        "key": key,
        "name": name if isinstance(name, str) else key,
        "state": _state_of(phase, state),
        "next_run_at": iso(next_run_at),
        "schedule": _text(codecs, state.get("schedule", definition.get("schedule"))),
    }


def details_of(
    codecs: Codecs,
    row: tuple[Any, ...],
    skipped: list[tuple[Any, ...]],
) -> dict[str, Any]:
    """A stored job as ``jobs show --json`` (the API's details)."""
    key, phase, next_run_at, definition, state = row
    summary = summary_of(codecs, key, phase, next_run_at, definition, state)
    d = definition if isinstance(definition, dict) else {}
    s = state if isinstance(state, dict) else {}
    stored_counts = s.get("counts")
    counts: dict[str, Any] = stored_counts if isinstance(stored_counts, dict) else {}
    run, retry = s.get("run"), s.get("retry")
    attempt = run[2] if isinstance(run, list) else retry[1] if isinstance(retry, list) else 1
    return {
        **summary,
        "function": d.get("fn", ""),
        "arguments": len(d["args"]) if isinstance(d.get("args"), list) else 0,
        "retry": _text(codecs, d.get("retry")),
        "timeout": d.get("timeout"),
        "lifetime": _text(codecs, d.get("lifetime")),
        "misfire": _text(codecs, d.get("misfire")),
        "on_crash": d.get("on_crash", "rerun"),
        "quarantine_after": d.get("quarantine_after"),
        "quarantined": bool(s.get("quarantined", False)),
        "consecutive_failures": s.get("consecutive_failures", 0),
        "jitter": d.get("jitter", 0.0),
        "added_at": iso(d.get("added_at")),
        "attempt": attempt,
        "runs": s.get("runs", 0),
        "misfires": s.get("misfires", 0),
        "trigger_pending": bool(s.get("trigger", False)),
        "counts": {name: counts.get(name, 0) for name in _COUNTS},
        "error": _error(s.get("error")),
        "skipped": [
            {"first": iso(f), "last": iso(la), "count": c, "reason": r, "exact": bool(e)}
            for f, la, c, r, e in skipped
        ],
    }


def run_of(data: Any) -> dict[str, Any] | None:
    """A stored attempt as an item of ``jobs history --json``; ``None`` if unreadable."""
    if not isinstance(data, dict):
        return None
    try:
        return {
            "run_id": data["run_id"],
            "attempt": data["attempt"],
            "scheduled_for": iso(data["scheduled_for"]),
            "started_at": iso(data["started_at"]),
            "finished_at": iso(data["finished_at"]),
            "duration": data["duration"],
            "outcome": data["outcome"],
            "triggered": data["triggered"],
            "error": _error(data["error"]),
        }
    except KeyError:
        return None
