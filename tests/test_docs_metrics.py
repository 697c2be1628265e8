"""docs/observability.md names every metric of ``MetricsSnapshot`` under its right kind.

The Prometheus collector's tables are what the code says is a counter and what a gauge; the
page's "Counters", "Gauges" and "Aggregates" lists must say the same, and miss nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

import turnkeeper_trio as tk

PAGE = Path(__file__).resolve().parent.parent / "docs" / "observability.md"
FIELDS = {field.name for field in attrs.fields(tk.MetricsSnapshot)}


def _listed(kind: str) -> set[str]:
    """The snapshot fields named in the page's bullet for *kind* (``Counters``, ...)."""
    text = PAGE.read_text(encoding="utf-8")
    match = re.search(rf"^- \*\*{kind}\*\*(.*?)(?=^- \*\*|^\S)", text, re.M | re.S)
    assert match is not None, f"observability.md has no '- **{kind}**' bullet"
    return {name for name in re.findall(r"`(\w+)`", match[1]) if name in FIELDS}


def test_observability_lists_counters_and_gauges_as_the_collector_exports_them() -> None:
    prometheus = pytest.importorskip("turnkeeper_trio.prometheus")
    outcomes = {f"runs_{outcome}" for outcome in prometheus._OUTCOMES}
    counters = set(prometheus._COUNTERS) | outcomes
    gauges = set(prometheus._GAUGES)
    aggregates = {"run_duration", "dispatch_lateness"}
    assert counters | gauges | aggregates == FIELDS  # the collector exports every field
    assert _listed("Counters") == counters
    assert _listed("Gauges") == gauges
    assert _listed("Aggregates") == aggregates
