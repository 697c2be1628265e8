"""Jitter: each occurrence of a job starts at its instant plus a deterministic offset.

``add_job(..., jitter=30)`` spreads the starts of many jobs on one schedule over 30 seconds
(systemd's ``RandomizedDelaySec``), so a thousand services do not call an API at the same
second.  The offset of an occurrence is a pure function of the job's key and the
occurrence's instant: every replica, every restart and every preview computes the same one.
It lies in ``[0, jitter)``, and never reaches the next occurrence: the window is cut to the
gap between the occurrence and the next one.  ``scheduled_for`` and ``occurrence_id`` stay
the nominal instant; lateness is measured from the jittered start.

Pure: no clock, no trio.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

__all__ = ["jitter_offset", "jitter_seed"]


def jitter_seed(key: str | None, number: int) -> str:
    """What the offsets of a job derive from: its key, or (a job without one) its number."""
    return key if key is not None else f"#{number}"


def jitter_offset(
    seed: str, occurrence: datetime, jitter: float, following: datetime | None
) -> float:
    """The offset, in seconds, of the occurrence at *occurrence* of the job *seed*.

    Uniform in ``[0, window)`` where the window is *jitter*, cut to the gap before
    *following* (the next occurrence, ``None`` if there is none).  Deterministic: the same
    arguments give the same offset in every process.
    """
    if jitter <= 0.0:
        return 0.0
    instant = occurrence.timestamp()
    window = jitter
    if following is not None:
        window = min(window, following.timestamp() - instant)
    if window <= 0.0:
        return 0.0
    digest = hashlib.blake2b(f"{seed}@{instant!r}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 * window
