"""The cache cleanup job removes expired entries (under a clock the test moves) and logs hit rates."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from bot.assembly.config import Settings
from jobs.app_jobs import start_app_scheduler
from storage.caches import CacheRegistry
from tests.fixtures.clock import FakeClock


@pytest.fixture
def caches(clock: FakeClock) -> CacheRegistry:
    registry = CacheRegistry(timer=clock)
    sessions = registry.get("sessions")  # 30 s
    sessions.set(("T1", "D1", "1.0"), 11)
    sessions.set(("T1", "D2", "2.0"), 12)
    registry.get("default").set("greeting", "hello")  # 300 s
    sessions.get(("T1", "D1", "1.0"))  # hit
    sessions.get(("T1", "D9", "9.0"))  # miss
    return registry


async def test_cleanup_removes_only_expired_entries_and_logs_hit_rates(
    sqlite_database_url: str, caches: CacheRegistry, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    runtime = SimpleNamespace(settings=Settings(database_url=sqlite_database_url), caches=caches)
    scheduler = start_app_scheduler(runtime)  # type: ignore[arg-type]
    try:
        clock.advance(31)  # past the sessions TTL, well within the default one
        with caplog.at_level(logging.INFO, logger="jobs.cache_cleanup"):
            outcome = await asyncio.to_thread(scheduler.run_now, "cache_cleanup")
    finally:
        await scheduler.aclose()

    assert outcome == "ok"
    assert len(caches.get("sessions")) == 0
    assert caches.get("default").get("greeting") == "hello"
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("Cache cleanup"))
    assert "removed 2 expired entries (sessions 2)" in line
    assert "sessions 50% of 2" in line
    assert "D1" not in line and "greeting" not in line  # counts and rates, no keys or values


async def test_nothing_is_removed_before_anything_expires(
    sqlite_database_url: str, caches: CacheRegistry, clock: FakeClock
):
    runtime = SimpleNamespace(settings=Settings(database_url=sqlite_database_url), caches=caches)
    scheduler = start_app_scheduler(runtime)  # type: ignore[arg-type]
    try:
        clock.advance(29)
        assert await asyncio.to_thread(scheduler.run_now, "cache_cleanup") == "ok"
    finally:
        await scheduler.aclose()

    assert len(caches.get("sessions")) == 2


async def test_cleanup_runs_every_configured_interval(sqlite_database_url: str, caches: CacheRegistry):
    settings = Settings(database_url=sqlite_database_url, cache_cleanup_minutes=5)
    scheduler = start_app_scheduler(SimpleNamespace(settings=settings, caches=caches))  # type: ignore[arg-type]
    try:
        job = next(j for j in scheduler.status() if j["id"] == "cache_cleanup")
        assert job["next_run"] is not None
        assert job["trigger"] == "interval[0:05:00]"
    finally:
        await scheduler.aclose()
