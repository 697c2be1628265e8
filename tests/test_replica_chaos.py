"""The chaos test, short: five replica processes, a seeded nemesis, an independent checker.

``tests/replica_chaos.py`` runs the workload and the nemesis; ``tests/chaos_check.py``
judges the rows.  Here it runs for 20 s with a 1.5 s lease (``nox -s chaos`` runs it for
longer); then the same checker is shown to fail on the same run's rows with a fault
injected: a gap, a double, an overlap, an unexplained repeat, a slow recovery, a start
while paused, a trigger that ran twice, and a run in which nothing was hit.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.chaos_check import MARGIN, Effect, Observed, Outcome, check
from tests.replica_chaos import run_chaos

SEED = 20261201


@pytest.fixture(scope="module")
def chaos_run(pg_cluster: Any) -> Observed:
    """One chaos run, shared by the tests of this module."""
    import trio

    lines: list[str] = []
    observed, verdict = trio.run(
        lambda: run_chaos(pg_cluster, seed=SEED, duration=20.0, ttl=1.5, log=lines.append)
    )
    print("\n".join(lines))
    assert verdict.ok, "\n".join([*lines, *verdict.failures])
    return observed


def _failures(observed: Observed) -> str:
    return "\n".join(check(observed).failures)


def test_replicas_under_chaos_record_each_occurrence_exactly_once(chaos_run: Observed) -> None:
    verdict = check(chaos_run)
    assert verdict.ok, verdict.failures
    figures = verdict.figures
    assert figures["occurrences_accepted"] > 100
    assert figures["attempts_hit_and_rerun"] >= 1  # disruptions cut running attempts
    assert figures["pauses"] >= 3
    assert figures["triggers"] >= 3


def _accepted_grid_outcome(observed: Observed) -> Outcome:
    return next(o for o in observed.outcomes if o.key == "iv-0" and not o.triggered)


def _effect_of(observed: Observed, outcome: Outcome) -> Effect:
    return next(e for e in observed.effects if e.key == outcome.key and e.run_id == outcome.run_id)


def test_the_checker_fails_on_a_gap(chaos_run: Observed) -> None:
    dropped = _accepted_grid_outcome(chaos_run)
    outcomes = [o for o in chaos_run.outcomes if o is not dropped]
    assert "gap: iv-0" in _failures(chaos_run._replace(outcomes=outcomes))


def test_the_checker_fails_on_a_double(chaos_run: Observed) -> None:
    twice = _accepted_grid_outcome(chaos_run)
    outcomes = [*chaos_run.outcomes, twice._replace(run_id=twice.run_id + 10**9)]
    assert "double: iv-0" in _failures(chaos_run._replace(outcomes=outcomes))


def test_the_checker_fails_on_an_overlap(chaos_run: Observed) -> None:
    outcome = _accepted_grid_outcome(chaos_run)
    effect = _effect_of(chaos_run, outcome)
    assert effect.ended_at is not None
    inside = effect._replace(
        run_id=effect.run_id + 10**9,
        occurrence=effect.occurrence + "-other",
        started_at=(effect.started_at + effect.ended_at) / 2,
    )
    failures = _failures(chaos_run._replace(effects=[*chaos_run.effects, inside]))
    assert "overlap: iv-0" in failures


def test_the_checker_fails_on_a_repeat_no_disruption_explains(chaos_run: Observed) -> None:
    outcome = _accepted_grid_outcome(chaos_run)
    effect = _effect_of(chaos_run, outcome)
    again = effect._replace(run_id=effect.run_id + 10**9, started_at=effect.started_at + 0.01)
    quiet = chaos_run._replace(effects=[*chaos_run.effects, again], disruptions=[])
    assert "unexplained repeat: iv-0" in _failures(quiet)


def test_the_checker_fails_on_a_slow_recovery(chaos_run: Observed) -> None:
    outcome = _accepted_grid_outcome(chaos_run)
    effect = _effect_of(chaos_run, outcome)
    late = effect._replace(started_at=outcome.scheduled_for + chaos_run.ttl + MARGIN + 5)
    effects = [late if e is effect else e for e in chaos_run.effects]
    quiet = chaos_run._replace(effects=effects, disruptions=[])
    assert "slow recovery: iv-0" in _failures(quiet)


def test_the_checker_fails_on_a_start_while_paused(chaos_run: Observed) -> None:
    commands = sorted(chaos_run.commands, key=lambda c: c[1])
    paused = next(at for kind, at, _ in commands if kind == "pause")
    template = next(e for e in chaos_run.effects if e.key == "cmd-p")
    start = template._replace(run_id=10**12, started_at=paused + 1.2, ended_at=paused + 1.3)
    accepted = Outcome("cmd-p", 10**12, template.scheduled_for, "succeeded", False)
    injected = chaos_run._replace(
        effects=[*chaos_run.effects, start], outcomes=[*chaos_run.outcomes, accepted]
    )
    assert "pause ignored" in _failures(injected)


def test_the_checker_fails_on_a_trigger_that_ran_twice(chaos_run: Observed) -> None:
    trigger = next(o for o in chaos_run.outcomes if o.key == "cmd-t")
    keys = {d for kind, _, d in chaos_run.commands if kind in ("trigger", "trigger-called")}
    extra = [trigger._replace(run_id=10**12 + n) for n in range(len(keys) + 1)]
    injected = chaos_run._replace(outcomes=[*chaos_run.outcomes, *extra])
    assert "idempotency keys" in _failures(injected)


def test_the_checker_fails_on_a_vacuous_run(chaos_run: Observed) -> None:
    accepted = {(o.key, o.run_id) for o in chaos_run.outcomes}
    untouched = [e for e in chaos_run.effects if (e.key, e.run_id) in accepted]
    assert "vacuous" in _failures(chaos_run._replace(effects=untouched))
