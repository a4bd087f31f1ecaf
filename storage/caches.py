"""A TTL cache that counts what it does, so /perf can show whether caching pays off."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING: Any = object()


class _EvictionCountingTTLCache(TTLCache):  # type: ignore[type-arg]
    """TTLCache calls ``popitem`` only to make room when full: that is an eviction."""

    def __init__(self, maxsize: int, ttl: float, timer: Callable[[], float]) -> None:
        super().__init__(maxsize=maxsize, ttl=ttl, timer=timer)
        self.evictions = 0

    def popitem(self) -> tuple[Any, Any]:
        item = super().popitem()
        self.evictions += 1
        return item


class CountingTTLCache(Generic[K, V]):
    """Thread-safe ``cachetools.TTLCache`` with hit/miss/eviction counters.

    The lock matters because listeners may run in worker threads beside the event loop;
    no operation awaits, so holding it is always brief. ``None`` cannot be cached: ``get``
    returns None for a miss.
    """

    def __init__(
        self,
        maxsize: int,
        ttl: float,
        *,
        name: str = "cache",
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.maxsize = maxsize
        self.ttl = ttl
        self.hits = 0
        self.misses = 0
        self._cache = _EvictionCountingTTLCache(maxsize, ttl, timer)
        self._lock = threading.Lock()

    @property
    def evictions(self) -> int:
        """Live entries dropped to make room (expiry is not an eviction)."""
        return self._cache.evictions

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._cache.get(key, _MISSING)
            if value is _MISSING:
                self.misses += 1
                return None
            self.hits += 1
            return value  # type: ignore[no-any-return]

    def set(self, key: K, value: V) -> None:
        if value is None:
            raise ValueError("None cannot be cached: get() uses it to mean a miss")
        with self._lock:
            self._cache[key] = value

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._cache.pop(key, None)  # type: ignore[no-any-return]

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def expire(self) -> int:
        """Drop expired entries now (TTLCache otherwise does it lazily); returns how many."""
        with self._lock:
            return len(self._cache.expire())

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            entries = len(self._cache)  # len() purges expired entries first
            lookups = self.hits + self.misses
            return {
                "name": self.name,
                "ttl": self.ttl,
                "maxsize": self.maxsize,
                "entries": entries,
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": self.hits / lookups if lookups else 0.0,
                "evictions": self._cache.evictions,
            }
