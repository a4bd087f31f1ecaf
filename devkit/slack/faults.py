"""Injected faults: answer a method's next calls with an error or a 429, or slow it down."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from devkit.slack.core import EmulatorCore


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int


class FaultsMixin(EmulatorCore):
    """``fail`` and ``delay``, for tests that need Slack to misbehave on cue."""

    def _setup_faults(self) -> None:
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, float] = {}

    def fail(
        self,
        method: str,
        *,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` ("*" = any) with ``status`` and ok:false."""
        fault = _Fault(error=error, status=status, retry_after=retry_after, remaining=times)
        with self._lock:
            self._faults.setdefault(method, deque()).append(fault)

    def delay(self, method: str, seconds: float) -> None:
        """Add ``seconds`` of latency to every call of ``method`` ("*" = any)."""
        with self._lock:
            self._delays[method] = seconds

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for key in (method, "*"):
                queue = self._faults.get(key)
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        queue.popleft()
                    return fault
        return None

    def _delay_for(self, method: str) -> float:
        with self._lock:
            return self._delays.get(method, 0.0) + self._delays.get("*", 0.0)
