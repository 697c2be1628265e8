"""The chaos test's checker: reads what happened, independently of the store, and judges it.

Its inputs are plain rows: the effects the jobs wrote (on the server's clock), the outcomes
the store accepted (``turnkeeper_runs``), the disruptions the nemesis caused and the
commander's log.  It knows the jobs' grids from their definitions (``Interval(1 s)`` from
the anchor; every even second for the cron jobs), not from the scheduler's code.

It fails the run on: an occurrence of a grid with no accepted outcome (a gap); more than one
accepted outcome for an occurrence (a double); two attempts of a job overlapping while the
earlier one's outcome was accepted (an overlap: only a fenced attempt may still be running
when the next starts); an attempt repeated with no disruption in between; an occurrence
that started later than the lease ttl plus a margin (recovery too slow); an attempt of the
paused job started more than a second after ``pause_job`` returned; a trigger idempotency
key that ran twice; and a run in which no disruption hit a running attempt (vacuous).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from typing import NamedTuple

__all__ = ["Disruption", "Effect", "Observed", "Outcome", "Verdict", "check"]


class Effect(NamedTuple):
    key: str
    occurrence: str
    scheduled_for: float
    run_id: int
    attempt: int
    pid: int
    label: str
    triggered: bool
    started_at: float
    ended_at: float | None


class Outcome(NamedTuple):
    key: str
    run_id: int
    scheduled_for: float
    outcome: str
    triggered: bool


class Disruption(NamedTuple):
    kind: str
    at: float
    #: When its effect was over (a stopped process continued, the server was back).
    until: float


class Observed(NamedTuple):
    effects: list[Effect]
    outcomes: list[Outcome]
    disruptions: list[Disruption]
    commands: list[tuple[str, float, str]]
    anchor: float
    #: Occurrences up to here must all have run (the run's end, less a settling time).
    window_end: float
    ttl: float
    #: When each job was first stored: its grid starts at its first instant from then on.
    added: dict[str, float]


class Verdict(NamedTuple):
    failures: list[str]
    figures: dict[str, float]

    @property
    def ok(self) -> bool:
        return not self.failures


GRID_JOBS = {f"iv-{n}": 1.0 for n in range(4)}
CRON_JOBS = ("cron-0", "cron-1")
#: How late an occurrence may start beyond the lease ttl: the takeover's own latency plus
#: the catch-up of the occurrences that fell due meanwhile (each attempt takes up to 0.6 s).
MARGIN = 2.5


def _grid(obs: Observed, key: str, accepted: dict[str, list[Outcome]]) -> list[float]:
    if key in GRID_JOBS:
        every = GRID_JOBS[key]
        added = obs.added.get(key, obs.anchor)
        first = obs.anchor + max(math.ceil((added - obs.anchor) / every - 1e-9), 0) * every
    else:
        every = 2.0
        regular = [o.scheduled_for for o in accepted.get(key, ()) if not o.triggered]
        if not regular:
            return []
        first = min(regular)
    count = math.floor((obs.window_end - first) / every + 1e-9) + 1
    return [round(first + k * every, 6) for k in range(max(count, 0))]


def _downtime(obs: Observed, start: float, end: float) -> float:
    """Seconds of server outage (restarts) between *start* and *end*."""
    return sum(
        d.until - d.at + obs.ttl
        for d in obs.disruptions
        if d.kind == "pg-restart" and d.at <= end and d.until >= start - obs.ttl
    )


def check(obs: Observed) -> Verdict:
    failures: list[str] = []
    figures: dict[str, float] = {}
    accepted: dict[str, list[Outcome]] = defaultdict(list)
    for o in obs.outcomes:
        accepted[o.key].append(o)
    accepted_runs = {(o.key, o.run_id) for o in obs.outcomes}

    # Doubles: one accepted outcome per occurrence (the chaos jobs never fail, so none retry).
    per_occurrence = Counter((o.key, round(o.scheduled_for, 6), o.triggered) for o in obs.outcomes)
    doubles = [k for k, n in per_occurrence.items() if n > 1 and not k[2]]
    for key, at, _ in doubles[:5]:
        failures.append(f"double: {key} occurrence {at} has {per_occurrence[key, at, False]}")
    figures["doubles"] = len(doubles)

    # Gaps and lateness on every grid.
    effects_by_run = {(e.key, e.run_id): e for e in obs.effects}
    gaps = 0
    worst = 0.0
    for key in [*GRID_JOBS, *CRON_JOBS]:
        done = {round(o.scheduled_for, 6) for o in accepted.get(key, ()) if not o.triggered}
        for at in _grid(obs, key, accepted):
            if at not in done:
                gaps += 1
                if gaps <= 5:
                    failures.append(f"gap: {key} occurrence {at} has no accepted outcome")
        for o in accepted.get(key, ()):
            effect = effects_by_run.get((key, o.run_id))
            if effect is None or o.triggered:
                continue
            late = effect.started_at - o.scheduled_for
            allowed = obs.ttl + MARGIN + _downtime(obs, o.scheduled_for, effect.started_at)
            worst = max(worst, late - _downtime(obs, o.scheduled_for, effect.started_at))
            if late > allowed:
                failures.append(
                    f"slow recovery: {key} occurrence {o.scheduled_for} started {late:.2f} s "
                    f"late (allowed {allowed:.2f} s)"
                )
    figures["gaps"] = gaps
    figures["worst_lateness_s"] = round(worst, 3)

    # Overlaps: the next attempt of a job starts only once the last accepted one is over.
    overlaps = 0
    by_key: dict[str, list[Effect]] = defaultdict(list)
    for e in obs.effects:
        by_key[e.key].append(e)
    for key, effects in by_key.items():
        effects.sort(key=lambda e: e.started_at)
        for i, early in enumerate(effects):
            if early.ended_at is None or (key, early.run_id) not in accepted_runs:
                continue  # killed or fenced: it may still have been running
            for later in effects[i + 1 :]:
                if later.started_at >= early.ended_at:
                    break
                overlaps += 1
                failures.append(
                    f"overlap: {key} run {later.run_id} started at {later.started_at:.3f} while "
                    f"run {early.run_id} (accepted) ran until {early.ended_at:.3f}"
                )
    figures["overlaps"] = overlaps

    # Repeats: an occurrence started more than once needs a disruption in between.
    starts: dict[tuple[str, str], list[Effect]] = defaultdict(list)
    for e in obs.effects:
        starts[e.key, e.occurrence].append(e)
    repeats = unexplained = hit = 0
    for (key, occurrence), effects in starts.items():
        effects.sort(key=lambda e: e.started_at)
        for before, after in itertools.pairwise(effects):
            repeats += 1
            if not any(
                before.started_at - 0.5 <= d.at <= after.started_at for d in obs.disruptions
            ):
                unexplained += 1
                failures.append(
                    f"unexplained repeat: {key} {occurrence} started at {before.started_at:.3f} "
                    f"and again at {after.started_at:.3f} with no disruption in between"
                )
        cut = [e for e in effects if (key, e.run_id) not in accepted_runs]
        if cut and any((key, e.run_id) in accepted_runs for e in effects):
            hit += 1
    figures["repeats"] = repeats
    figures["attempts_hit_and_rerun"] = hit
    if hit == 0:
        failures.append("vacuous: no disruption hit a running attempt")

    # The paused job: nothing starts more than a second after pause_job returned.
    paused_from: float | None = None
    windows = []
    for kind, at, _ in sorted(obs.commands, key=lambda c: c[1]):
        if kind == "pause":
            paused_from = at
        elif kind == "resume-called" and paused_from is not None:
            windows.append((paused_from + 1.0, at))
            paused_from = None
    for e in by_key.get("cmd-p", []):
        if (e.key, e.run_id) in accepted_runs and any(a < e.started_at < b for a, b in windows):
            failures.append(f"pause ignored: cmd-p started at {e.started_at:.3f} while paused")
    figures["pauses"] = len(windows)

    # Triggers: each idempotency key (sent twice) runs at most once. Every key the commander
    # sent counts, whether or not its calls returned: a call whose answer was lost to an
    # outage may have been applied.
    keys = {detail for kind, _, detail in obs.commands if kind in ("trigger", "trigger-called")}
    triggered = sum(1 for o in accepted.get("cmd-t", ()) if o.triggered)
    if triggered > len(keys):
        failed = sum(1 for kind, _, _ in obs.commands if kind == "trigger-failed")
        failures.append(
            f"trigger ran {triggered} times for {len(keys)} idempotency keys "
            f"({failed} calls failed)"
        )
    figures["triggers"] = triggered
    figures["occurrences_accepted"] = len(obs.outcomes)
    figures["disruptions"] = len(obs.disruptions)
    return Verdict(failures, figures)
