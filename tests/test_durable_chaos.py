"""Kill a scheduler with SIGKILL at random moments, restart it, and check every occurrence.

The scheduler runs in a subprocess (``durable_child``) on an ``SQLiteStore``.  Its jobs write
an effect per attempt start to a file the store never sees.  From that independent record,
the checker asserts that every occurrence on the job's grid ran (no gaps); that repeats of
the ``on_crash="rerun"`` job happened only across a kill (the tail of the killed life: the
attempt cut off, and any that finished after the last write, run again by the next life);
and that the ``on_crash="skip"`` job never ran an occurrence twice and recorded each one it
did not run as skipped.  The checker is shown to fail on histories with an injected gap or
double.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.durable_child import EVERY, START

ROOT = Path(__file__).resolve().parent.parent
KILLS = 6

#: One effect line: (life, job key, occurrence instant).
Effect = tuple[int, str, datetime]


def _spawn(
    db: Path, effects: Path, life: int, mode: str, stderr: int | None = None
) -> subprocess.Popen[str]:
    code = "from tests.durable_child import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, str(db), str(effects), str(life), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait_ready(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip() == "ready", f"the child did not start: {line!r}"


def _wait_for_growth(path: Path) -> None:
    """Return once *path* grows (a job started), or after a second."""
    size = path.stat().st_size
    deadline = time.monotonic() + 1.0
    while path.stat().st_size == size and time.monotonic() < deadline:
        time.sleep(0.0005)


def parse_effects(text: str) -> list[Effect]:
    """The effects file as (life, key, occurrence) tuples, in the order written."""
    effects = []
    for line in text.splitlines():
        life, key, occurrence_id = line.split(" ")
        job_key, _, instant = occurrence_id.partition("@")
        assert job_key == key
        effects.append((int(life), key, datetime.fromisoformat(instant)))
    return effects


def _grid(first: datetime, last: datetime) -> list[datetime]:
    step = timedelta(seconds=EVERY)
    k = round((first - START) / step)
    points = []
    while (at := START + k * step) <= last:
        points.append(at)
        k += 1
    return points


def check_history(effects: list[Effect], skipped: dict[str, set[datetime]]) -> list[str]:
    """Every rule the kill-and-restart history must keep; the violations found."""
    problems: list[str] = []
    by_key: defaultdict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for life, key, at in effects:
        by_key[key].append((life, at))
    for key, seen in by_key.items():
        lives_of: defaultdict[datetime, list[int]] = defaultdict(list)
        for life, at in seen:
            lives_of[at].append(life)
        starts_of_life: defaultdict[int, list[datetime]] = defaultdict(list)
        for life, at in seen:
            starts_of_life[life].append(at)
        for at, lives in lives_of.items():
            if len(lives) == 1:
                continue
            if key == "skip":
                problems.append(f"{key}: {at} ran {len(lives)} times (at most once)")
                continue
            for earlier, later in itertools.pairwise(lives):
                if later == earlier:
                    problems.append(f"{key}: {at} ran twice in life {earlier}")
        instants = sorted(lives_of)
        excused = skipped.get(key, set()) if key == "skip" else set()
        for at in _grid(instants[0], instants[-1]):
            if at not in lives_of and at not in excused:
                problems.append(f"{key}: the occurrence {at} never ran and was not skipped")
        if key == "skip":
            continue
        # A kill loses at most the changes not yet written: what runs again in a later life
        # is the tail of the life that was killed (the attempt cut off, and any finished
        # after the last write), never an occurrence from before one that is not repeated.
        for life, starts in starts_of_life.items():
            again = [at for at in starts if any(other > life for other in lives_of[at])]
            if again and again != starts[len(starts) - len(again) :]:
                problems.append(
                    f"{key}: life {life} ran {again[0]} again later, but not what it ran "
                    "after it: a repeat that is not the tail cut off by the kill"
                )
    return problems


def test_kill_and_restart_never_loses_or_doubles_an_occurrence(tmp_path: Path) -> None:
    db, effects_file = tmp_path / "jobs.db", tmp_path / "effects.txt"
    effects_file.touch()
    rng = random.Random(os.environ.get("TK_CHAOS_SEED", "20261201"))
    for life in range(KILLS):
        child = _spawn(db, effects_file, life, "run")
        try:
            _wait_ready(child)
            # The first life runs long enough to have a history; later ones die at random,
            # mostly inside an attempt: just after one starts (the effects file grows).
            with pytest.raises(subprocess.TimeoutExpired):
                child.wait(timeout=rng.uniform(0.05, 0.5) + (0.3 if life == 0 else 0.0))
            _wait_for_growth(effects_file)
            time.sleep(rng.uniform(0.0, 0.012))
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        finally:
            if child.stdout is not None:
                child.stdout.close()
    final = _spawn(db, effects_file, KILLS, "final")
    out, _ = final.communicate(timeout=60)
    assert final.returncode == 0, out
    details = json.loads(out.splitlines()[-1])
    skipped = {
        key: {
            datetime.fromisoformat(first)
            for first, last, count, reason in info["skipped"]
            if reason == "crashed"
        }
        for key, info in details.items()
    }
    effects = parse_effects(effects_file.read_text())
    assert {key for _, key, _ in effects} == {"rerun", "skip"}
    assert {life for life, _, _ in effects} >= {0, KILLS}, "some lives ran nothing"
    assert check_history(effects, skipped) == []
    # The kills landed inside attempts: something was run again or recorded as cut off.
    repeats = len(effects) - len({(key, at) for _, key, at in effects})
    assert repeats + sum(len(v) for v in skipped.values()) > 0
    for info in details.values():
        assert all(reason in ("crashed", "misfire") for *_, reason in info["skipped"])


def test_a_second_process_is_refused_until_the_first_is_killed(tmp_path: Path) -> None:
    db, effects_file = tmp_path / "jobs.db", tmp_path / "effects.txt"
    first = _spawn(db, effects_file, 0, "run")
    try:
        _wait_ready(first)
        second = _spawn(db, effects_file, 1, "run", stderr=subprocess.PIPE)
        out, err = second.communicate(timeout=60)
        assert second.returncode != 0
        assert "StoreLocked" in err
        assert str(db) in err
        assert "ready" not in out
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        if first.stdout is not None:
            first.stdout.close()
    # The lock went with the killed process: a new one takes over at once.
    third = _spawn(db, effects_file, 2, "run")
    try:
        _wait_ready(third)
    finally:
        os.kill(third.pid, signal.SIGKILL)
        third.wait()
        if third.stdout is not None:
            third.stdout.close()


# ---------------------------------------------------------------------- the checker can fail


def _occurrence(k: int) -> datetime:
    return START + k * timedelta(seconds=EVERY)


def _clean_history() -> list[Effect]:
    # Life 0 runs 0..4 and is killed inside 4; life 1 runs 4 again, then 5..7.
    return [
        *((0, "rerun", _occurrence(k)) for k in range(5)),
        *((1, "rerun", _occurrence(k)) for k in range(4, 8)),
        *((0, "skip", _occurrence(k)) for k in range(5)),
        *((1, "skip", _occurrence(k)) for k in range(6, 8)),
    ]


def test_the_checker_accepts_a_clean_history() -> None:
    assert check_history(_clean_history(), {"skip": {_occurrence(5)}}) == []


def test_the_checker_finds_an_injected_gap() -> None:
    history = [e for e in _clean_history() if e != (1, "rerun", _occurrence(6))]
    assert check_history(history, {"skip": {_occurrence(5)}}) == [
        f"rerun: the occurrence {_occurrence(6)} never ran and was not skipped"
    ]
    # A skipped occurrence of the at-most-once job must be recorded as skipped.
    assert check_history(_clean_history(), {}) == [
        f"skip: the occurrence {_occurrence(5)} never ran and was not skipped"
    ]


def test_the_checker_finds_an_injected_double() -> None:
    within_a_life = [*_clean_history(), (1, "rerun", _occurrence(6))]
    assert f"rerun: {_occurrence(6)} ran twice in life 1" in check_history(
        within_a_life, {"skip": {_occurrence(5)}}
    )
    not_the_cut_off_one = [*_clean_history(), (1, "rerun", _occurrence(2))]
    assert any(
        "not the tail cut off by the kill" in problem
        for problem in check_history(not_the_cut_off_one, {"skip": {_occurrence(5)}})
    )
    skip_twice = [*_clean_history(), (1, "skip", _occurrence(4))]
    assert f"skip: {_occurrence(4)} ran 2 times (at most once)" in check_history(
        skip_twice, {"skip": {_occurrence(5)}}
    )
