"""`coachbot migrate` is the performance guide's "apply the indexes to an existing database" step."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from bot.assembly.cli import main
from storage.engine import sync_url
from storage.migrate import upgrade_database

GUIDE_INDEXES = {
    "coaching_sessions": {"idx_user_active_updated", "idx_vector_store"},
    "chat_messages": {"idx_session_type_timestamp", "idx_session_timestamp"},
}


def index_names(url: str) -> dict[str, set[str]]:
    engine = create_engine(sync_url(url))
    try:
        inspector = inspect(engine)
        return {table: {i["name"] for i in inspector.get_indexes(table)} for table in GUIDE_INDEXES}
    finally:
        engine.dispose()


def make_database_from_before_the_indexes(url: str) -> None:
    """The original app's database: the tables, no guide indexes, and no Alembic bookkeeping."""
    upgrade_database(url, revision="0001")
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()


def test_migrate_adds_the_guide_indexes_to_a_database_created_without_them(
    unmigrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_database_from_before_the_indexes(unmigrated_database_url)
    assert all(not (names & GUIDE_INDEXES[t]) for t, names in index_names(unmigrated_database_url).items())
    monkeypatch.setenv("DATABASE_URL", unmigrated_database_url)

    assert main(["migrate"]) == 0

    for table, names in index_names(unmigrated_database_url).items():
        assert GUIDE_INDEXES[table] <= names


def test_migrate_creates_a_working_schema_on_an_empty_database(
    unmigrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", unmigrated_database_url)

    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0  # and running it again changes nothing

    for table, names in index_names(unmigrated_database_url).items():
        assert GUIDE_INDEXES[table] <= names
