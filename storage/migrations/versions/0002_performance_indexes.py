"""performance indexes

The performance guide's indexes (recent active sessions per user, vector store lookup, history
by session and time) plus one on processed_events.received_at for the purge job. Each is created
only when missing, so the revision is safe on any database: one built by 0001, one from before
Alembic that someone already patched by hand, or one created from the models.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-01 00:00:01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index name, table, columns): a frozen copy, later model changes must not alter this revision.
INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("idx_user_active_updated", "coaching_sessions", ("user_id", "is_active", "updated_at")),
    ("idx_vector_store", "coaching_sessions", ("vector_store_id",)),
    ("idx_session_type_timestamp", "chat_messages", ("session_id", "message_type", "timestamp")),
    ("idx_session_timestamp", "chat_messages", ("session_id", "timestamp")),
    ("idx_processed_events_received_at", "processed_events", ("received_at",)),
)


def _existing_indexes(table: str) -> set[str]:
    if context.is_offline_mode():  # an SQL script has no database to inspect
        return set()
    inspector = sa.inspect(op.get_bind())
    return {index["name"] for index in inspector.get_indexes(table) if index["name"]}


def upgrade() -> None:
    existing: dict[str, set[str]] = {}
    for name, table, columns in INDEXES:
        if table not in existing:
            existing[table] = _existing_indexes(table)
        if name not in existing[table]:
            op.create_index(name, table, list(columns))


def downgrade() -> None:
    existing: dict[str, set[str]] = {}
    for name, table, _columns in INDEXES:
        if table not in existing:
            existing[table] = _existing_indexes(table)
        if context.is_offline_mode() or name in existing[table]:
            op.drop_index(name, table_name=table)
