"""CountingTTLCache and CacheRegistry: named TTL caches that report how well they work."""

from __future__ import annotations

import threading

import pytest

from storage.caches import CACHE_SPECS, CacheRegistry, CountingTTLCache
from tests.fixtures.clock import FakeClock


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
        "expired": 0,
        "memory_bytes": 0,
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


def test_memory_is_estimated_from_what_the_entries_hold(clock: FakeClock):
    small: CountingTTLCache[str, str] = CountingTTLCache(100, 30, timer=clock)
    large: CountingTTLCache[str, str] = CountingTTLCache(100, 30, timer=clock)
    for key in range(10):
        small.set(f"k{key}", "x")
        large.set(f"k{key}", "x" * 10_000)

    assert 0 < small.stats()["memory_bytes"] < large.stats()["memory_bytes"]
    assert large.stats()["memory_bytes"] >= 10 * 10_000
    clock.advance(31)
    assert large.stats()["memory_bytes"] == 0  # nothing live, nothing held


def test_the_registry_has_one_cache_per_kind_of_data_with_the_guides_ttls():
    registry = CacheRegistry()

    assert registry.names() == [
        "sessions",
        "file_listings",
        "slack_api",
        "slack_users",
        "memory",
        "home_opened",
        "default",
    ]
    assert {name: registry.get(name).ttl for name in registry.names()} == {
        "sessions": 30.0,
        "file_listings": 60.0,
        "slack_api": 120.0,
        "slack_users": 3600.0,
        "memory": 300.0,
        "home_opened": 86_400.0,
        "default": 300.0,
    }
    assert all(registry.get(name).maxsize == CACHE_SPECS[name].maxsize for name in registry.names())
    assert registry.get("sessions") is registry.get("sessions")


def test_an_unknown_cache_name_is_an_error():
    with pytest.raises(KeyError, match="no cache named 'sesions'"):
        CacheRegistry().get("sesions")


def test_registry_stats_are_per_cache(clock: FakeClock):
    registry = CacheRegistry(timer=clock)
    sessions = registry.get("sessions")
    sessions.set(("T1", "C1", "1.0"), 7)
    sessions.get(("T1", "C1", "1.0"))
    registry.get("slack_api").get("users.info:U1")

    stats = registry.stats()

    assert (stats["sessions"]["hits"], stats["sessions"]["misses"], stats["sessions"]["entries"]) == (1, 0, 1)
    assert (stats["slack_api"]["hits"], stats["slack_api"]["misses"]) == (0, 1)
    assert stats["default"]["hits"] + stats["default"]["misses"] == 0


def test_invalidating_a_key_leaves_every_other_entry_alone(clock: FakeClock):
    registry = CacheRegistry(timer=clock)
    sessions, slack_api = registry.get("sessions"), registry.get("slack_api")
    sessions.set("thread-a", 1)
    sessions.set("thread-b", 2)
    slack_api.set("thread-a", True)

    assert sessions.pop("thread-a") == 1

    assert sessions.get("thread-a") is None
    assert sessions.get("thread-b") == 2
    assert slack_api.get("thread-a") is True


def test_expire_all_removes_each_caches_expired_entries_by_its_own_ttl(clock: FakeClock):
    registry = CacheRegistry(timer=clock)
    for name in registry.names():
        registry.get(name).set("old", 1)
    clock.advance(15)
    registry.get("sessions").set("young", 2)
    clock.advance(20)  # 35 s: past sessions' 30 s only

    assert registry.expire_all() == {
        "sessions": 1,
        "file_listings": 0,
        "slack_api": 0,
        "slack_users": 0,
        "memory": 0,
        "home_opened": 0,
        "default": 0,
    }

    clock.advance(110)  # 145 s: past file_listings' 60 s and slack_api's 120 s, not default's 300 s
    assert registry.expire_all() == {
        "sessions": 1,
        "file_listings": 1,
        "slack_api": 1,
        "slack_users": 0,
        "memory": 0,
        "home_opened": 0,
        "default": 0,
    }
    assert registry.get("default").get("old") == 1
    assert registry.stats()["sessions"]["expired"] == 2
