"""Rolling latency windows for what the service spends its time on, read by /perf and /metrics.

Every measure keeps the last ``WINDOW_SECONDS`` in one-minute buckets: exact counts, errors
and sums per bucket, and a bounded sample of values for the percentiles, so memory stays
flat however busy the process is. Lifetime totals sit beside them for Prometheus counters.

Windows are written from the event loop, from the SQLite writer thread and from the
scheduler's thread, so each has its own lock; recording is a few dict and list operations.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import psutil
from prometheus_client import CollectorRegistry
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.conversation.llm import StreamStats
from bot.operations.rolling_window import WINDOW_SECONDS, RollingWindow

__all__ = ["Metrics", "RollingWindow", "timed"]

logger = logging.getLogger(__name__)


P = ParamSpec("P")
R = TypeVar("R")


class _Counter:
    """A thread-safe running total (tokens, bytes)."""

    def __init__(self) -> None:
        self.value = 0.0
        self._lock = threading.Lock()

    def add(self, amount: float) -> None:
        with self._lock:
            self.value += amount


@dataclass
class _ListenerScope:
    """The listener running in this task, and time it spent waiting on the model."""

    name: str
    model_wait_ms: float = 0.0


_current_metrics: contextvars.ContextVar[Metrics | None] = contextvars.ContextVar(
    "coachbot_metrics", default=None
)
_current_listener: contextvars.ContextVar[_ListenerScope | None] = contextvars.ContextVar(
    "coachbot_listener", default=None
)


class Metrics:
    """The process's rolling windows: listeners, the model, the database and file transfers."""

    def __init__(
        self,
        *,
        slow_request_ms: float = 1000,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slow_request_ms = slow_request_ms
        self.window_seconds = window_seconds
        self._clock = clock
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._listeners: dict[str, RollingWindow] = {}
        self._listeners_own: dict[str, RollingWindow] = {}
        self.slow_requests = 0
        self.model_ttft = self._window()
        self.model_total = self._window()
        self.prompt_tokens = _Counter()
        self.completion_tokens = _Counter()
        # Turns whose message the crisis check flagged (bot.safety): a count, never who or what.
        self.crisis_replies = _Counter()
        self.db_queries = self._window()
        self._transfers: dict[str, RollingWindow] = {}
        self._transfer_bytes: dict[str, RollingWindow] = {}
        self._process = psutil.Process()
        # Per Metrics, never the global default registry: two apps in one process (tests)
        # must not collide. bot/operations/prometheus.py registers the collector.
        self.registry = CollectorRegistry(auto_describe=False)

    def _window(self) -> RollingWindow:
        return RollingWindow(window_seconds=self.window_seconds, clock=self._clock)

    # ------------------------------------------------------------------ listeners

    def bind(self) -> None:
        """Make this the Metrics that ``timed`` listeners report to, in the current task.

        Called by the app's global middleware; Bolt starts each listener as a task from
        there, and a task inherits its creator's context variables.
        """
        _current_metrics.set(self)

    def record_listener(self, name: str, duration_ms: float, *, own_ms: float, failed: bool) -> None:
        """One listener run: its whole duration, and its own part (without model streaming)."""
        with self._lock:
            window = self._listeners.get(name)
            if window is None:
                window = self._listeners[name] = self._window()
                self._listeners_own[name] = self._window()
            own = self._listeners_own[name]
        window.add(duration_ms, failed=failed)
        own.add(own_ms, failed=failed)
        if own_ms > self.slow_request_ms:
            with self._lock:
                self.slow_requests += 1
            # The name and the numbers only: never the payload or message text.
            logger.warning(
                "Slow request listener=%s duration_ms=%.0f own_ms=%.0f (threshold %s ms)",
                name,
                duration_ms,
                own_ms,
                self.slow_request_ms,
            )

    def listener_names(self) -> list[str]:
        with self._lock:
            return sorted(self._listeners)

    def listener_lifetime(self, name: str) -> tuple[int, int]:
        """(runs, errors) of one listener since the process started."""
        with self._lock:
            window = self._listeners.get(name)
        return (window.lifetime_count, window.lifetime_errors) if window is not None else (0, 0)

    def listeners(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            pairs = [
                (name, self._listeners[name], self._listeners_own[name]) for name in sorted(self._listeners)
            ]
        return {name: {"total_ms": whole.summary(), "own_ms": own.summary()} for name, whole, own in pairs}

    # ------------------------------------------------------------------ the model

    def record_model_call(self, stats: StreamStats, failed: bool) -> None:
        """One streamed completion, read from its StreamStats once it is over (not per token)."""
        if not stats.request_sent_at:
            return
        ended = stats.finished_at or stats.last_token_at or time.perf_counter()
        total_ms = (ended - stats.request_sent_at) * 1000
        self.model_total.add(total_ms, failed=failed)
        if stats.first_token_at is not None:
            self.model_ttft.add((stats.first_token_at - stats.request_sent_at) * 1000)
        if stats.prompt_tokens:
            self.prompt_tokens.add(stats.prompt_tokens)
        if stats.completion_tokens:
            self.completion_tokens.add(stats.completion_tokens)
        scope = _current_listener.get()
        if scope is not None:
            scope.model_wait_ms += total_ms

    # ------------------------------------------------------------------ the database

    def instrument_engine(self, engine: Engine) -> None:
        """Time every query on ``engine`` (a sync Engine, e.g. ``AsyncEngine.sync_engine``).

        The start time rides on the statement's execution context, the cheapest place to keep
        it; storage.engine copies these listeners to the SQLite writer's own engine.
        """
        event.listen(engine, "before_cursor_execute", _before_cursor_execute, retval=True)
        event.listen(engine, "after_cursor_execute", self._after_cursor_execute)
        event.listen(engine, "handle_error", self._handle_error)

    def _after_cursor_execute(
        self, conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool
    ) -> None:
        started = getattr(context, _QUERY_STARTED, None)
        if started is not None:
            self.db_queries.add((time.perf_counter() - started) * 1000)

    def _handle_error(self, error_context: Any) -> None:
        started = getattr(error_context.execution_context, _QUERY_STARTED, None)
        if started is not None:
            self.db_queries.add((time.perf_counter() - started) * 1000, failed=True)
        else:  # failed before a statement ran (e.g. connecting)
            self.db_queries.add_error()

    # ------------------------------------------------------------------ file transfers

    def on_transfer(self, direction: str, size: int, seconds: float, failed: bool) -> None:
        """storage.files' callback: one upload or download finished (or failed)."""
        with self._lock:
            seconds_window = self._transfers.get(direction)
            if seconds_window is None:
                seconds_window = self._transfers[direction] = self._window()
                self._transfer_bytes[direction] = self._window()
            bytes_window = self._transfer_bytes[direction]
        seconds_window.add(seconds, failed=failed)
        bytes_window.add(float(size), failed=failed)

    def transfers(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            directions = [(d, self._transfers[d], self._transfer_bytes[d]) for d in sorted(self._transfers)]
        result = {}
        for direction, seconds_window, bytes_window in directions:
            seconds, sizes = seconds_window.summary(), bytes_window.summary()
            result[direction] = {
                "count": seconds["count"],
                "errors": seconds["errors"],
                "bytes": int(sizes["sum"]),
                "seconds": seconds["sum"],
                "bytes_per_second": round(sizes["sum"] / seconds["sum"]) if seconds["sum"] else None,
                "seconds_p50": seconds["p50"],
                "seconds_p95": seconds["p95"],
                "lifetime_count": seconds_window.lifetime_count,
                "lifetime_errors": seconds_window.lifetime_errors,
                "lifetime_bytes": int(bytes_window.lifetime_total),
                "lifetime_seconds": round(seconds_window.lifetime_total, 3),
            }
        return result

    # ------------------------------------------------------------------ the process

    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started

    def rss_bytes(self) -> int:
        return int(self._process.memory_info().rss)


_QUERY_STARTED = "_coachbot_query_started"


def _before_cursor_execute(
    conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool
) -> tuple[Any, Any]:
    if context is not None:
        setattr(context, _QUERY_STARTED, time.perf_counter())
    return statement, parameters


def timed(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap a Bolt listener so its whole run, work after the ack included, is measured.

    ``functools.wraps`` keeps the listener's argument names, which Bolt reads to inject
    them. The measure goes to the Metrics bound for this request (``Metrics.bind``); the
    time spent waiting on the model's stream is subtracted for the slow-request rule, since
    a long reply is the model's time, not ours (it has its own window).
    """
    name = func.__name__

    @functools.wraps(func)
    async def listener(*args: P.args, **kwargs: P.kwargs) -> R:
        metrics = _current_metrics.get()
        if metrics is None:
            return await func(*args, **kwargs)
        scope = _ListenerScope(name)
        token = _current_listener.set(scope)
        started = time.perf_counter()
        failed = True
        try:
            result = await func(*args, **kwargs)
            failed = False
            return result
        finally:
            _current_listener.reset(token)
            duration_ms = (time.perf_counter() - started) * 1000
            own_ms = max(0.0, duration_ms - scope.model_wait_ms)
            metrics.record_listener(name, duration_ms, own_ms=own_ms, failed=failed)

    return listener
