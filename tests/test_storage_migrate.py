"""Migrations bring any coachbot database to the current schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.pool import NullPool

from storage.engine import sync_url
from storage.migrate import (
    BASELINE_REVISION,
    BASELINE_TABLES,
    SchemaStateError,
    alembic_config,
    current_revision,
    head_revision,
    upgrade_database,
)
from storage.models import (
    FULL_TEXT_TABLE,
    PERFORMANCE_INDEXES,
    Base,
    coaching_sessions,
    include_in_schema_comparison,
    include_name,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_TABLES = {
    "coaching_sessions",
    "chat_messages",
    "processed_events",
    "attachments",
    "job_runs",
    "bystander_notes",
    "workspace_settings",
    "workspace_uninstalls",
    "slack_installations",
    "slack_bots",
    "slack_oauth_states",
    "attachment_chunks",
    "coach_goals",
    "coach_commitments",
    "session_summaries",
    "remembered_items",
    "coach_preferences",
    "checkins",
    "checkin_opt_outs",
    "reply_feedback",
    "coach_erasures",
}
GUIDE_INDEXES = {
    "coaching_sessions": {"idx_user_active_updated", "idx_vector_store"},
    "chat_messages": {"idx_session_type_timestamp", "idx_session_timestamp"},
}


def sync_engine(url: str) -> Engine:
    return create_engine(sync_url(url), poolclass=NullPool)


def index_names(url: str) -> dict[str, set[str]]:
    engine = sync_engine(url)
    try:
        inspector = inspect(engine)
        present = APP_TABLES & set(inspector.get_table_names())  # older revisions lack later tables
        return {table: {i["name"] for i in inspector.get_indexes(table)} for table in present}
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = sync_engine(url)
    try:
        # SQLite's FTS5 index of attachment_chunks (and its shadow tables) is checked by its own tests.
        return {name for name in inspect(engine).get_table_names() if not name.startswith(FULL_TEXT_TABLE)}
    finally:
        engine.dispose()


def create_pre_alembic_database(url: str) -> None:
    """The original app's database: tables made from the models, none of the guide's indexes."""
    engine = sync_engine(url)
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            for indexes in PERFORMANCE_INDEXES.values():
                for name in indexes:
                    conn.execute(text(f"DROP INDEX {name}"))
            conn.execute(
                coaching_sessions.insert().values(
                    team_id="T1", channel_id="C1", thread_ts="1.0", user_id="U1", title="kept"
                )
            )
    finally:
        engine.dispose()


def test_migrate_creates_all_tables_on_an_empty_database(unmigrated_database_url: str):
    assert table_names(unmigrated_database_url) == set()

    upgrade_database(unmigrated_database_url)

    assert table_names(unmigrated_database_url) == APP_TABLES | {"alembic_version"}
    assert current_revision(unmigrated_database_url) == head_revision()
    indexes = index_names(unmigrated_database_url)
    for table, names in PERFORMANCE_INDEXES.items():
        assert set(names) <= indexes[table]


def test_migrated_schema_matches_the_models(database_url: str):
    engine = sync_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_name": include_name, "include_object": include_in_schema_comparison}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_migrate_adds_guide_indexes_to_a_database_created_before_them(unmigrated_database_url: str):
    url = unmigrated_database_url
    create_pre_alembic_database(url)
    assert current_revision(url) is None
    assert all(not (names & index_names(url)[table]) for table, names in GUIDE_INDEXES.items())

    upgrade_database(url)

    indexes = index_names(url)
    for table, names in GUIDE_INDEXES.items():
        assert names <= indexes[table]
    assert "idx_processed_events_received_at" in indexes["processed_events"]
    assert current_revision(url) == head_revision()
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(coaching_sessions.c.title)).scalar_one() == "kept"
    finally:
        engine.dispose()


def test_migrate_adopts_a_pre_alembic_database_that_already_has_the_indexes(unmigrated_database_url: str):
    engine = sync_engine(unmigrated_database_url)
    try:
        Base.metadata.create_all(engine)  # e.g. someone applied the guide's indexes by hand
    finally:
        engine.dispose()

    upgrade_database(unmigrated_database_url)

    assert current_revision(unmigrated_database_url) == head_revision()


def test_migrate_upgrades_a_database_at_the_baseline_revision(unmigrated_database_url: str):
    upgrade_database(unmigrated_database_url, BASELINE_REVISION)
    assert current_revision(unmigrated_database_url) == BASELINE_REVISION
    assert not GUIDE_INDEXES["chat_messages"] & index_names(unmigrated_database_url)["chat_messages"]

    upgrade_database(unmigrated_database_url)

    assert current_revision(unmigrated_database_url) == head_revision()
    assert GUIDE_INDEXES["chat_messages"] <= index_names(unmigrated_database_url)["chat_messages"]


def test_migrate_is_idempotent(database_url: str):
    tables, indexes = table_names(database_url), index_names(database_url)

    upgrade_database(database_url)
    upgrade_database(database_url)

    assert table_names(database_url) == tables
    assert index_names(database_url) == indexes
    assert current_revision(database_url) == head_revision()


def test_migrate_refuses_to_guess_about_a_partial_schema(unmigrated_database_url: str):
    engine = sync_engine(unmigrated_database_url)
    try:
        Base.metadata.create_all(engine, tables=[coaching_sessions])
    finally:
        engine.dispose()

    with pytest.raises(SchemaStateError, match="chat_messages, processed_events"):
        upgrade_database(unmigrated_database_url)


def test_downgrading_to_the_baseline_removes_only_the_indexes(database_url: str):
    command.downgrade(alembic_config(url=database_url), BASELINE_REVISION)

    assert current_revision(database_url) == BASELINE_REVISION
    assert table_names(database_url) == BASELINE_TABLES | {"alembic_version"}
    for table, names in PERFORMANCE_INDEXES.items():
        assert not set(names) & index_names(database_url)[table]


def test_migrating_leaves_the_application_loggers_alone(database_url: str):
    app_logger = logging.getLogger("coachbot.test.migrations")
    root_handlers = list(logging.getLogger().handlers)

    upgrade_database(database_url)

    assert not app_logger.disabled
    assert logging.getLogger().handlers == root_handlers


def test_the_alembic_cli_migrates_the_database_named_by_the_environment(unmigrated_database_url: str):
    env = {**os.environ, "DATABASE_URL": unmigrated_database_url}

    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "storage/alembic.ini", "upgrade", "head"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert current_revision(unmigrated_database_url) == head_revision()


def test_a_url_containing_percent_signs_survives_the_config(unmigrated_database_url: str, tmp_path: Path):
    # The URL travels in config.attributes, never through %-interpolated ini options.
    if unmigrated_database_url.startswith("postgresql"):
        # A URL-encoded password; the test server's trust authentication ignores it.
        url = unmigrated_database_url.replace("postgres@", "postgres:p%25ss%40word@")
    else:
        url = f"sqlite:///{tmp_path / 'odd%20name.db'}"

    upgrade_database(url)

    assert current_revision(url) == head_revision()
