"""Alembic environment for coachbot.

Used two ways: programmatically by ``storage.migrate`` (which hands over an open connection, or a
URL, through ``config.attributes``) and from the ``alembic`` CLI with ``storage/alembic.ini``
(URL from ``DATABASE_URL`` etc. via ``Settings``). Logging is only configured for the CLI, and
never disables loggers the application already set up.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

from storage.engine import database_url_from_env, sync_url
from storage.models import Base, include_in_schema_comparison, include_name

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    """The URL to migrate: given by the caller, else the ini file, else the app's settings."""
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        url = database_url_from_env(os.environ)  # what the app's settings read
    return sync_url(url)


def _configure(connection: Connection | None = None) -> None:
    if connection is None:
        url = _database_url()
        context.configure(
            url=url,
            target_metadata=target_metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            render_as_batch=url.startswith("sqlite"),
            include_name=include_name,
            include_object=include_in_schema_comparison,
        )
        return
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can only alter tables by copying them; batch mode does that for later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
        # The full-text index is dialect-specific DDL in revision 0004, not in the models.
        include_name=include_name,
        include_object=include_in_schema_comparison,
    )


def run_migrations_offline() -> None:
    """Emit the SQL as a script (``alembic upgrade --sql``) without a database."""
    _configure()
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live database, on the caller's connection when it gave one."""
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as own_connection:
            _configure(own_connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
