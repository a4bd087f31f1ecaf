"""CountingTTLCache: a TTL cache that reports how well it works."""

from __future__ import annotations

import threading

import pytest

from storage.caches import CountingTTLCache


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_hits_and_misses_are_counted(clock: FakeClock):
    cache: CountingTTLCache[str, int] = CountingTTLCache(10, 30, name="sessions", timer=clock)

    assert cache.get("a") is None
    cache.set("a", 1)
    assert cache.get("a") == 1
    assert cache.get("a") == 1

    stats = cache.stats()
    assert (stats["hits"], stats["misses"], stats["entries"]) == (2, 1, 1)
    assert stats["hit_rate"] == pytest.approx(2 / 3)


def test_stats_describe_the_cache(clock: FakeClock):
    cache: CountingTTLCache[str, int] = CountingTTLCache(100, 30.0, name="sessions", timer=clock)

    assert cache.name == "sessions"
    assert cache.stats() == {
        "name": "sessions",
        "ttl": 30.0,
        "maxsize": 100,
        "entries": 0,
        "hits": 0,
        "misses": 0,
        "hit_rate": 0.0,
        "evictions": 0,
    }


def test_entries_expire_after_the_ttl(clock: FakeClock):
    cache: CountingTTLCache[str, int] = CountingTTLCache(10, 30, timer=clock)
    cache.set("a", 1)

    clock.advance(29.9)
    assert cache.get("a") == 1
    clock.advance(0.2)
    assert cache.get("a") is None

    assert cache.stats()["misses"] == 1
    assert cache.stats()["evictions"] == 0  # expiry is not an eviction


def test_expire_removes_expired_entries_and_says_how_many(clock: FakeClock):
    cache: CountingTTLCache[str, int] = CountingTTLCache(10, 30, timer=clock)
    cache.set("old1", 1)
    cache.set("old2", 2)
    clock.advance(20)
    cache.set("young", 3)
    clock.advance(15)

    assert cache.expire() == 2
    assert cache.expire() == 0
    assert len(cache) == 1 and cache.get("young") == 3


def test_a_full_cache_evicts_and_counts_it(clock: FakeClock):
    cache: CountingTTLCache[str, int] = CountingTTLCache(2, 30, timer=clock)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)

    assert cache.stats()["evictions"] == 1
    assert cache.stats()["entries"] == 2
    assert cache.get("c") == 3


def test_pop_and_clear_are_not_evictions(clock: FakeClock):
    cache: CountingTTLCache[str, int] = CountingTTLCache(10, 30, timer=clock)
    cache.set("a", 1)
    cache.set("b", 2)

    assert cache.pop("a") == 1
    assert cache.pop("a") is None
    cache.clear()

    assert len(cache) == 0
    assert cache.stats()["evictions"] == 0


def test_none_cannot_be_cached():
    cache: CountingTTLCache[str, object] = CountingTTLCache(10, 30)
    with pytest.raises(ValueError):
        cache.set("a", None)


def test_counters_stay_exact_under_threads():
    cache: CountingTTLCache[int, int] = CountingTTLCache(1000, 30)
    for key in range(100):
        cache.set(key, key)

    def reader() -> None:
        for key in range(200):
            cache.get(key)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (cache.hits, cache.misses) == (8 * 100, 8 * 100)
