"""The bot's own cost per coaching turn, kept in a rolling window.

Only the parts that are ours are measured: event received → model request
sent, model's first token → first text sent to Slack, and model's last token →
final Slack call done. The model's own time is reported beside them.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from bot.operations.percentiles import percentile


@dataclass(frozen=True)
class TurnTiming:
    event_to_model_ms: float | None
    first_token_to_slack_ms: float | None
    last_token_to_final_ms: float | None
    model_ms: float | None
    total_ms: float | None


class TurnTimings:
    """The last ``window`` turns, thread-safe, with p50/p95/p99 per measure."""

    MEASURES = (
        "event_to_model_ms",
        "first_token_to_slack_ms",
        "last_token_to_final_ms",
        "model_ms",
        "total_ms",
    )

    def __init__(self, window: int = 1000) -> None:
        self._turns: deque[TurnTiming] = deque(maxlen=window)
        self._lock = threading.Lock()
        self.failures = 0

    def record(self, timing: TurnTiming) -> None:
        with self._lock:
            self._turns.append(timing)

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        with self._lock:
            turns = list(self._turns)
        result: dict[str, dict[str, float | int | None]] = {}
        for name in self.MEASURES:
            values = sorted(v for t in turns if (v := getattr(t, name)) is not None)
            result[name] = {
                "count": len(values),
                "p50": percentile(values, 0.50),
                "p95": percentile(values, 0.95),
                "p99": percentile(values, 0.99),
            }
        return result


def elapsed_ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 3)
