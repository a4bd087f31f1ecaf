"""A rolling window of values (e.g. milliseconds): the last ``WINDOW_SECONDS`` in one-minute buckets.

Exact counts, errors and sums per bucket, and a bounded sample of values for the percentiles,
so memory stays flat however busy the process is. ``bot.operations.metrics`` keeps one per measure.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.operations.percentiles import percentile

WINDOW_SECONDS = 15 * 60
BUCKET_SECONDS = 60
SAMPLES_PER_BUCKET = 1_000
PENDING_LIMIT = 1_024


@dataclass
class _Bucket:
    start: float
    count: int = 0
    errors: int = 0
    total: float = 0.0
    samples: list[float] = field(default_factory=list)


class RollingWindow:
    """Values (e.g. milliseconds) seen in the last ``window_seconds``, with p50/p95/p99.

    ``add`` is on hot paths (every SQL statement), so it only appends to a queue (atomic under
    the GIL, no lock); the queue is folded into the buckets in batches, by the writer once it
    holds ``PENDING_LIMIT`` values and by every reader.
    """

    def __init__(
        self,
        window_seconds: float = WINDOW_SECONDS,
        bucket_seconds: float = BUCKET_SECONDS,
        samples_per_bucket: int = SAMPLES_PER_BUCKET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_seconds = window_seconds
        self._bucket_seconds = bucket_seconds
        self._samples_per_bucket = samples_per_bucket
        self._clock = clock
        self._pending: deque[tuple[float, float | None, bool]] = deque()
        self._buckets: deque[_Bucket] = deque()
        self._lock = threading.Lock()
        self._random = random.Random(0)
        # Since the process started, for Prometheus counters.
        self._lifetime_count = 0
        self._lifetime_errors = 0
        self._lifetime_total = 0.0

    def add(self, value: float, *, failed: bool = False) -> None:
        self._pending.append((self._clock(), value, failed))
        if len(self._pending) >= PENDING_LIMIT:
            self._fold()

    def add_error(self) -> None:
        """A failure with no meaningful duration (counted as an error, not sampled)."""
        self._pending.append((self._clock(), None, True))
        if len(self._pending) >= PENDING_LIMIT:
            self._fold()

    @property
    def lifetime_count(self) -> int:
        self._fold()
        return self._lifetime_count

    @property
    def lifetime_errors(self) -> int:
        self._fold()
        return self._lifetime_errors

    @property
    def lifetime_total(self) -> float:
        self._fold()
        return self._lifetime_total

    def _fold(self) -> None:
        """Move queued values into their buckets (appends racing with this wait for the next fold)."""
        with self._lock:
            pending = self._pending
            for _ in range(len(pending)):
                at, value, failed = pending.popleft()
                bucket = self._current(at)
                if failed:
                    bucket.errors += 1
                    self._lifetime_errors += 1
                if value is None:
                    continue
                bucket.count += 1
                bucket.total += value
                self._lifetime_count += 1
                self._lifetime_total += value
                if len(bucket.samples) < self._samples_per_bucket:
                    bucket.samples.append(value)
                else:  # reservoir sampling keeps a fair sample of a busy minute
                    slot = self._random.randrange(bucket.count)
                    if slot < self._samples_per_bucket:
                        bucket.samples[slot] = value

    def summary(self) -> dict[str, Any]:
        self._fold()
        now = self._clock()
        with self._lock:
            self._drop_old(now)
            buckets = list(self._buckets)
            samples = [value for bucket in buckets for value in bucket.samples]
            count = sum(bucket.count for bucket in buckets)
            errors = sum(bucket.errors for bucket in buckets)
            total = sum(bucket.total for bucket in buckets)
        samples.sort()  # outside the lock: writers on the event loop never wait for it
        return {
            "count": count,
            "errors": errors,
            "sum": round(total, 3),
            "mean": round(total / count, 3) if count else None,
            "p50": _rounded(percentile(samples, 0.50)),
            "p95": _rounded(percentile(samples, 0.95)),
            "p99": _rounded(percentile(samples, 0.99)),
            "max": _rounded(samples[-1]) if samples else None,
        }

    def _current(self, now: float) -> _Bucket:
        if not self._buckets or now - self._buckets[-1].start >= self._bucket_seconds:
            self._drop_old(now)
            self._buckets.append(_Bucket(start=now))
        return self._buckets[-1]

    def _drop_old(self, now: float) -> None:
        # A bucket goes once its newest possible value is older than the window.
        while self._buckets and now - (self._buckets[0].start + self._bucket_seconds) >= self.window_seconds:
            self._buckets.popleft()


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
