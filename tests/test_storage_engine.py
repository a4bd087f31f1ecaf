"""Engines follow the performance guide: URL drivers, SQLite pragmas, PostgreSQL pool and timeout."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from storage.engine import (
    SqliteWriter,
    async_url,
    create_db_engine,
    make_session_factory,
    pool_status,
    sync_url,
    warm_pool,
)
from storage.models import CoachingSession


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/coach", "postgresql+asyncpg://u:p@db:5432/coach"),
        ("postgres://u@db/coach", "postgresql+asyncpg://u@db/coach"),
        ("postgresql+psycopg://u@db/coach", "postgresql+asyncpg://u@db/coach"),
        ("postgresql+asyncpg://u@db/coach", "postgresql+asyncpg://u@db/coach"),
        ("postgresql://coach:p%40ss+word@db:6432/ai", "postgresql+asyncpg://coach:p%40ss+word@db:6432/ai"),
        ("postgresql://u@db/coach?sslmode=require", "postgresql+asyncpg://u@db/coach?ssl=require"),
        ("sqlite:///coachbot.db", "sqlite+aiosqlite:///coachbot.db"),
        ("sqlite:////var/lib/coachbot.db", "sqlite+aiosqlite:////var/lib/coachbot.db"),
        ("sqlite+pysqlite:///coachbot.db", "sqlite+aiosqlite:///coachbot.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ],
)
def test_async_url_names_the_asyncio_driver(url: str, expected: str):
    assert async_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/coach", "postgresql+psycopg://u:p@db:5432/coach"),
        ("postgres://u@db/coach", "postgresql+psycopg://u@db/coach"),
        ("postgresql+asyncpg://u@db/coach?ssl=require", "postgresql+psycopg://u@db/coach?sslmode=require"),
        ("sqlite:///coachbot.db", "sqlite:///coachbot.db"),
        ("sqlite+aiosqlite:///coachbot.db", "sqlite:///coachbot.db"),
    ],
)
def test_sync_url_names_the_blocking_driver(url: str, expected: str):
    assert sync_url(url) == expected


def test_other_databases_are_rejected():
    with pytest.raises(ValueError, match="mysql"):
        async_url("mysql://u@db/coach")


async def scalar(engine: AsyncEngine, sql: str) -> object:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def test_sqlite_connections_get_the_guide_pragmas(sqlite_database_url: str):
    engine = create_db_engine(sqlite_database_url)
    try:
        assert await scalar(engine, "PRAGMA journal_mode") == "wal"
        assert await scalar(engine, "PRAGMA foreign_keys") == 1
        assert await scalar(engine, "PRAGMA busy_timeout") == 5000
        assert await scalar(engine, "PRAGMA cache_size") == -64000
        assert await scalar(engine, "PRAGMA synchronous") == 1  # NORMAL
    finally:
        await engine.dispose()


def test_a_migrated_sqlite_file_is_already_in_wal_mode(sqlite_database_url: str):
    # Switching needs an exclusive lock that two fresh app connections could fight over.
    path = sqlite_database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_every_pooled_sqlite_connection_gets_the_pragmas(sqlite_database_url: str):
    engine = create_db_engine(sqlite_database_url)
    try:
        async with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_an_in_memory_sqlite_database_is_one_shared_database():
    engine = create_db_engine("sqlite:///:memory:")
    try:
        assert isinstance(engine.pool, StaticPool)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        assert await scalar(engine, "SELECT count(*) FROM t") == 0
    finally:
        await engine.dispose()


async def test_an_in_memory_sqlite_database_queues_its_writers_on_the_app_engine():
    engine = create_db_engine("sqlite:///:memory:")
    writer = SqliteWriter.for_engine(engine)
    assert writer is not None
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))

        def write(value: int) -> Callable[[Connection], None]:
            def transaction(connection: Connection) -> None:
                connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
                connection.commit()

            return transaction

        await asyncio.gather(*(writer.run(write(n)) for n in range(10)))

        assert await scalar(engine, "SELECT count(*) FROM t") == 10
    finally:
        await writer.close()
        await engine.dispose()


@pytest.mark.postgres
async def test_postgresql_needs_no_sqlite_writer(postgresql_database_url: str):
    engine = create_db_engine(postgresql_database_url)
    try:
        assert SqliteWriter.for_engine(engine) is None
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgresql_statements_time_out_after_30_seconds(postgresql_database_url: str):
    engine = create_db_engine(postgresql_database_url)
    try:
        assert await scalar(engine, "SHOW statement_timeout") == "30s"
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgresql_pool_follows_the_guide(postgresql_database_url: str):
    engine = create_db_engine(postgresql_database_url)
    try:
        pool = engine.pool
        assert pool.size() == 10  # type: ignore[attr-defined]
        assert pool._max_overflow == 20  # type: ignore[attr-defined]
        assert pool._recycle == 3600
        assert engine.dialect.driver == "asyncpg"
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "ping_after_idle",
    [pytest.param(0.0, id="idle-and-pinged"), pytest.param(10.0, id="moments-after-its-last-use")],
)
async def test_postgresql_replaces_a_connection_the_server_dropped(
    postgresql_database_url: str, ping_after_idle
):
    engine = create_db_engine(postgresql_database_url, ping_after_idle=ping_after_idle)
    admin = create_db_engine(postgresql_database_url)
    try:
        dropped = await scalar(engine, "SELECT pg_backend_pid()")
        # e.g. an administrator, an idle timeout or a server restart ends it while it is idle
        assert await scalar(admin, f"SELECT pg_terminate_backend({dropped})") is True

        assert await scalar(engine, "SELECT 1") == 1  # no error reaches the caller
        assert await scalar(engine, "SELECT pg_backend_pid()") != dropped
    finally:
        await engine.dispose()
        await admin.dispose()


@pytest.mark.postgres
async def test_a_first_statement_on_a_connection_that_died_after_checkout_is_retried_once(
    postgresql_database_url: str,
):
    engine = create_db_engine(postgresql_database_url)
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        for target in (engine, autocommit):  # in a transaction, and in autocommit mode
            async with target.connect() as conn:  # checked out alive: no check can catch what follows
                dropped = await conn.run_sync(
                    lambda c: c.connection.dbapi_connection.driver_connection.get_server_pid()
                )
                with psycopg.connect(
                    sync_url(postgresql_database_url).replace("+psycopg", ""), autocommit=True
                ) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))

                assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != dropped
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_connection_that_dies_after_its_first_statement_fails_for_the_caller(
    postgresql_database_url: str,
):
    engine = create_db_engine(postgresql_database_url)
    try:
        async with engine.connect() as conn:
            dropped = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            with psycopg.connect(
                sync_url(postgresql_database_url).replace("+psycopg", ""), autocommit=True
            ) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))

            with pytest.raises(DBAPIError) as failed:  # what ran before may be lost: the caller decides
                await conn.execute(text("SELECT 1"))
        assert failed.value.connection_invalidated
        assert await scalar(engine, "SELECT 1") == 1  # the pool itself has moved on
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgresql_hands_out_the_most_recently_used_connection_first(postgresql_database_url: str):
    engine = create_db_engine(postgresql_database_url)
    try:
        async with engine.connect() as first, engine.connect() as second:
            older = (await first.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            newer = (await second.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await first.close()  # returned first: the older of the two idle connections

        assert older != newer
        assert await scalar(engine, "SELECT pg_backend_pid()") == newer
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_pool_status_counts_connections_in_use(postgresql_database_url: str):
    engine = create_db_engine(postgresql_database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            busy = pool_status(engine)
        idle = pool_status(engine)
    finally:
        await engine.dispose()

    assert busy["size"] == 10 and busy["checked_out"] == 1
    assert idle["checked_out"] == 0 and idle["checked_in"] == 1
    assert idle["pool"] == "AsyncAdaptedQueuePool" and "overflow" in idle


async def test_pool_status_of_a_static_pool_names_only_the_pool():
    engine = create_db_engine("sqlite://")
    try:
        assert pool_status(engine) == {"pool": "StaticPool"}
    finally:
        await engine.dispose()


def test_debug_echoes_sql(tmp_path: Path):
    assert create_db_engine(f"sqlite:///{tmp_path / 'x.db'}", echo=True).echo is True
    assert create_db_engine(f"sqlite:///{tmp_path / 'x.db'}").echo is False


async def test_orm_objects_stay_readable_after_commit(engine: AsyncEngine):
    sessions = make_session_factory(engine)
    async with sessions() as session:
        coaching = CoachingSession(team_id="T1", channel_id="C1", thread_ts="1.0", user_id="U1")
        session.add(coaching)
        await session.commit()
        # expire_on_commit=False: no lazy reload (which would need greenlet-aware access).
        assert coaching.id is not None and coaching.is_active is True
        assert coaching.created_at.utcoffset() is not None

    async with sessions() as session:
        assert (await session.execute(select(CoachingSession.user_id))).scalar_one() == "U1"


async def test_engine_serves_concurrent_tasks(engine: AsyncEngine):
    results = await asyncio.gather(*(scalar(engine, "SELECT 1") for _ in range(20)))
    assert results == [1] * 20


async def test_warm_pool_opens_the_standing_postgresql_connections(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        opened = await warm_pool(engine)
        if engine.dialect.name == "postgresql":
            assert opened == 10
            assert engine.pool.checkedin() == 10
        else:
            assert opened == 0
    finally:
        await engine.dispose()
