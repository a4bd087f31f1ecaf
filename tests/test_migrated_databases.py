"""The test databases: each test's is exactly a freshly migrated one, however it was made."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from storage.migrate import current_revision, head_revision
from tests.fixtures.migrated_databases import MigratedPostgres, MigratedSqlite


@pytest.fixture
def databases(postgres_server: str) -> Iterator[MigratedPostgres]:
    pool = MigratedPostgres(postgres_server)
    yield pool
    pool.close()


def _insert_session(url: str, thread_ts: str = "1.0") -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO coaching_sessions (team_id, channel_id, thread_ts, user_id, is_active, created_at,"
            " updated_at) VALUES ('T1', 'C1', %s, 'U1', true, now(), now()) RETURNING id",
            (thread_ts,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _count_sessions(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM coaching_sessions").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.postgres
def test_a_database_handed_out_again_is_empty_and_numbers_rows_from_one(databases: MigratedPostgres):
    url = databases.acquire()
    assert current_revision(url) == head_revision()
    assert _insert_session(url) == 1
    _insert_session(url, thread_ts="2.0")
    databases.release(url)
    _insert_session(url, thread_ts="3.0")  # a replica the test's teardown had not stopped yet

    again = databases.acquire()

    assert again == url  # reused, not migrated once more
    assert current_revision(again) == head_revision()
    assert _count_sessions(again) == 0
    assert _insert_session(again) == 1
    databases.release(again)


@pytest.mark.postgres
def test_a_database_whose_schema_a_test_changed_is_dropped_not_reused(databases: MigratedPostgres):
    url = databases.acquire()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE left_behind (x integer)")
    databases.release(url)

    fresh = databases.acquire()

    assert fresh != url
    with psycopg.connect(fresh, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('left_behind')").fetchone() == (None,)
    databases.release(fresh)


@pytest.mark.postgres
def test_a_database_a_test_downgraded_is_dropped_not_reused(databases: MigratedPostgres):
    url = databases.acquire()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001_initial_tables'")
    databases.release(url)

    fresh = databases.acquire()

    assert fresh != url
    assert current_revision(fresh) == head_revision()
    databases.release(fresh)


def test_each_sqlite_test_gets_its_own_copy_of_the_migrated_file(tmp_path: Path):
    files = MigratedSqlite(tmp_path / "template")
    (tmp_path / "template").mkdir()

    first = files.create(tmp_path / "a.db")
    second = files.create(tmp_path / "b.db")

    assert first != second
    assert current_revision(first) == head_revision() == current_revision(second)
