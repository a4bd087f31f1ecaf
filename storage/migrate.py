"""Bring any coachbot database to the current schema with Alembic.

Three starting points are handled by ``upgrade_database``: an empty database, one Alembic already
manages, and one the original app created before Alembic existed (tables present, no
``alembic_version``). The last is stamped at the baseline revision 0001 first, which is exactly the
schema it has, so the upgrade then only adds what is missing – the performance guide's
"apply the indexes to an existing database" step.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.pool import NullPool

from storage.engine import sync_url

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The schema of the pre-Alembic app; such databases are stamped here.
BASELINE_REVISION = "0001"
BASELINE_TABLES: frozenset[str] = frozenset({"coaching_sessions", "chat_messages", "processed_events"})
#: pg_advisory_xact_lock key, so replicas starting together migrate one after the other.
_PG_MIGRATION_LOCK = 0x636F616368  # "coach"


class SchemaStateError(RuntimeError):
    """The database holds a schema this module will not guess about."""


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic Config for the packaged scripts, independent of the working directory.

    Built in code (no ini file) so the migrations work wherever the package is installed. The URL
    travels in ``attributes`` rather than ``sqlalchemy.url`` because ini values are %-interpolated
    and URL-encoded passwords contain "%".
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["configure_logger"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    if url is not None:
        config.attributes["url"] = url
    return config


def head_revision() -> str:
    """The newest revision shipped with this code (what ``upgrade_database`` reaches)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise SchemaStateError("no migration scripts found")
    return head


def _needs_baseline_stamp(connection: Connection) -> bool:
    """True for a database the original app created: its tables, but no Alembic revision."""
    if MigrationContext.configure(connection).get_current_revision() is not None:
        return False
    tables = set(inspect(connection).get_table_names())
    present = BASELINE_TABLES & tables
    if not present:
        return False
    if present != BASELINE_TABLES:
        missing = ", ".join(sorted(BASELINE_TABLES - present))
        raise SchemaStateError(
            f"database has some coachbot tables but not {missing}, and no alembic_version; "
            "refusing to guess its revision"
        )
    return True


def _use_sqlite_wal(engine: Engine) -> None:
    """Switch the file to WAL now, while nothing else has it open.

    The mode is stored in the file. Left to the app's connections, two of them opening a fresh
    file at once may both try to switch, and SQLite answers one with "database is locked"
    without waiting (the busy timeout does not apply to that lock upgrade).
    """
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` (any coachbot URL) to ``revision``.

    On PostgreSQL everything runs in one transaction under an advisory lock, so replicas starting
    together migrate one at a time and a failure leaves nothing half done. SQLite's driver
    commits DDL as it goes; the revisions are written to be safe to run again after a failure.
    Synchronous: call it before the event loop starts, or through ``asyncio.to_thread``.
    """
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        if engine.dialect.name == "sqlite":
            _use_sqlite_wal(engine)
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            config = alembic_config(connection=connection)
            if _needs_baseline_stamp(connection):
                logger.info("database predates Alembic; stamping it at %s", BASELINE_REVISION)
                command.stamp(config, BASELINE_REVISION)
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str, *, connect_timeout: int | None = None) -> str | None:
    """The database's Alembic revision; None when Alembic has never run on it.

    ``connect_timeout`` (seconds, PostgreSQL) bounds the wait for a server that does not answer.
    """
    engine_url = sync_url(url)
    postgres = engine_url.startswith("postgresql")
    connect_args = {"connect_timeout": connect_timeout} if connect_timeout and postgres else {}
    engine = create_engine(engine_url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
