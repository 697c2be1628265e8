"""Lifetime strategies decide whether a lineage goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import turnkeeper_trio as tk

T = datetime(2026, 1, 1, tzinfo=UTC)


def test_forever_always_allows() -> None:
    assert tk.Forever().allows(runs=10**9, next_fire=T)


def test_max_runs_counts_occurrences() -> None:
    lifetime = tk.MaxRuns(2)
    assert [lifetime.allows(runs=n, next_fire=T) for n in range(4)] == [True, True, False, False]


def test_until_allows_occurrences_up_to_its_instant() -> None:
    lifetime = tk.Until(T)
    assert lifetime.allows(runs=0, next_fire=T)
    assert not lifetime.allows(runs=0, next_fire=T + timedelta(microseconds=1))


@pytest.mark.parametrize(
    ("n", "error"),
    [(0, tk.InvalidArgument), (-1, tk.InvalidArgument), (1.5, TypeError), (True, TypeError)],
)
def test_max_runs_rejects_bad_counts(n: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="n must be"):
        tk.MaxRuns(n)  # type: ignore[arg-type]
