"""Percentiles and summaries of latency samples, kept free of numpy so the bench needs nothing extra."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from bot.operations.percentiles import percentile

Summary = dict[str, float | int | None]


def summarize(values: Iterable[float | None]) -> Summary:
    """count, p50, p95, p99, max and mean of the values that are present (None ones are skipped)."""
    present = sorted(float(v) for v in values if v is not None)
    if not present:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    return {
        "count": len(present),
        "p50": _round(percentile(present, 0.50)),
        "p95": _round(percentile(present, 0.95)),
        "p99": _round(percentile(present, 0.99)),
        "max": _round(max(present)),
        "mean": _round(statistics.fmean(present)),
    }


def ms(start: float | None, end: float | None) -> float | None:
    """Milliseconds from one perf_counter value to another; None when either is unknown."""
    if start is None or end is None:
        return None
    return (end - start) * 1000.0


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return _round(numerator / denominator)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
