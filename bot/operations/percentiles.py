"""The one percentile: nearest rank, as /perf, /metrics, the weekly report and the bench give it.

The p-th percentile of n values is the smallest value with at least p of them at or below it:
the value at rank ceil(p * n) (1-based). It is always a latency that was really measured (never
an interpolation between two), and it is PostgreSQL's ``percentile_disc``, so the weekly report
computes the same figure in SQL on PostgreSQL and here on SQLite. At n = 100, p95 is the 95th
value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest rank in ``ordered`` (sorted ascending); None for no values."""
    if not ordered:
        return None
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within 0..1, got {fraction}")
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
