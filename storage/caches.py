"""Named TTL caches that count what they do, so /perf can show whether caching pays off.

One ``CacheRegistry`` per process holds a cache per kind of data, each with the TTL its data
can bear (see ``CACHE_SPECS``). Callers write through and invalidate exactly the key they
change; the cleanup job calls ``expire_all`` so memory is given back even for keys nobody
asks for again (TTLCache otherwise only expires lazily).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING: Any = object()

#: TTLCache's own bookkeeping per entry (dict slot, LRU order, expiry link), measured with
#: tracemalloc on CPython 3.11: about 440 bytes an entry for a SessionKey -> int cache, of
#: which about 250 are the key and value themselves.
ENTRY_OVERHEAD_BYTES = 190


@dataclass(frozen=True)
class CacheSpec:
    """How long one kind of data may be served stale, and how many entries it may hold."""

    ttl: float
    maxsize: int


#: The performance guide's TTLs, one cache per kind of data.
CACHE_SPECS: dict[str, CacheSpec] = {
    # thread -> session id, read on every coach message; ids never change, so 30 s is safe.
    "sessions": CacheSpec(ttl=30.0, maxsize=10_000),
    # Slack file listings for attachments.
    "file_listings": CacheSpec(ttl=60.0, maxsize=2_000),
    # Slack Web API answers such as users.info (e.g. who is a workspace admin).
    "slack_api": CacheSpec(ttl=120.0, maxsize=5_000),
    # A coach's timezone (users.info tz) for check-ins, per (team, user): people rarely move.
    "slack_users": CacheSpec(ttl=3600.0, maxsize=10_000),
    # A coach's memory (goals, commitments, summaries) for the turns of a session that has begun:
    # a new session always reads it afresh, and this process's own changes drop the entry.
    "memory": CacheSpec(ttl=300.0, maxsize=10_000),
    # Who opened their App Home today: only their Homes are re-published after a change. The
    # value is the hash Slack returned for that Home ("" when not known), sent with the next
    # views.publish so a replica never overwrites a newer Home unawares.
    "home_opened": CacheSpec(ttl=86_400.0, maxsize=10_000),
    # Anything else.
    "default": CacheSpec(ttl=300.0, maxsize=1_000),
}


def approximate_size(value: object, depth: int = 2) -> int:
    """``sys.getsizeof`` plus, ``depth`` levels down, what the object holds (cheap, not exact)."""
    size = sys.getsizeof(value)
    if depth <= 0 or isinstance(value, str | bytes | int | float | bool):
        return size
    children: Iterator[Any]
    if isinstance(value, dict):
        children = (item for pair in value.items() for item in pair)
    elif isinstance(value, tuple | list | set | frozenset):
        children = iter(value)
    elif hasattr(value, "__dict__"):
        children = iter(vars(value).values())
    elif hasattr(type(value), "__slots__"):
        children = (getattr(value, slot, None) for slot in type(value).__slots__)
    else:
        return size
    return size + sum(approximate_size(child, depth - 1) for child in children)


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
    """Thread-safe ``cachetools.TTLCache`` with hit/miss/eviction counters and a memory estimate.

    The lock matters because the cache is used from the event loop, from worker threads and
    from the scheduler's thread; no operation awaits, so holding it is always brief. ``None``
    cannot be cached: ``get`` returns None for a miss.
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
        self.expired = 0
        self._cache = _EvictionCountingTTLCache(maxsize, ttl, timer)
        self._lock = threading.Lock()
        # Memory is estimated from the mean size of the entries written so far: measuring at
        # write time costs a microsecond on the rare path and nothing on reads.
        self._sized_entries = 0
        self._sized_bytes = 0

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
        size = approximate_size(key) + approximate_size(value)
        with self._lock:
            self._cache[key] = value
            self._sized_entries += 1
            self._sized_bytes += size

    def pop(self, key: K) -> V | None:
        """Invalidate one key (after a write changed what it maps to); returns the old value."""
        with self._lock:
            return self._cache.pop(key, None)  # type: ignore[no-any-return]

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def drop_where(self, doomed: Callable[[K, V], bool]) -> int:
        """Invalidate every entry ``doomed(key, value)`` picks (a coach's, once they erase their
        data); returns how many. A scan under the lock: rare, and the caches are small."""
        with self._lock:
            keys = [key for key, value in self._cache.items() if doomed(key, value)]
            for key in keys:
                del self._cache[key]
            return len(keys)

    def expire(self) -> int:
        """Drop expired entries now (TTLCache otherwise does it lazily); returns how many."""
        with self._lock:
            removed = len(self._cache.expire())
            self.expired += removed
            return removed

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            entries = len(self._cache)  # len() purges expired entries first
            lookups = self.hits + self.misses
            mean_entry = self._sized_bytes / self._sized_entries if self._sized_entries else 0.0
            return {
                "name": self.name,
                "ttl": self.ttl,
                "maxsize": self.maxsize,
                "entries": entries,
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": self.hits / lookups if lookups else 0.0,
                "evictions": self._cache.evictions,
                "expired": self.expired,
                "memory_bytes": round(entries * (mean_entry + ENTRY_OVERHEAD_BYTES)),
            }


class CacheRegistry:
    """The process's named caches; ``get(name)`` hands one out, ``stats``/``expire_all`` cover all."""

    def __init__(
        self,
        specs: dict[str, CacheSpec] | None = None,
        *,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._caches: dict[str, CountingTTLCache[Any, Any]] = {
            name: CountingTTLCache(spec.maxsize, spec.ttl, name=name, timer=timer)
            for name, spec in (CACHE_SPECS if specs is None else specs).items()
        }

    def get(self, name: str) -> CountingTTLCache[Any, Any]:
        """The cache called ``name``; an unknown name is a programming error (KeyError)."""
        try:
            return self._caches[name]
        except KeyError:
            raise KeyError(f"no cache named {name!r}; known: {', '.join(self._caches)}") from None

    def names(self) -> list[str]:
        return list(self._caches)

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: cache.stats() for name, cache in self._caches.items()}

    def expire_all(self) -> dict[str, int]:
        """Drop every expired entry now; how many went, per cache."""
        return {name: cache.expire() for name, cache in self._caches.items()}

    def hit_rates(self) -> dict[str, float]:
        return {name: stats["hit_rate"] for name, stats in self.stats().items()}
