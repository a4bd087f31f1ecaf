"""initial tables

The schema as the original app created it: the three tables with their keys and unique
constraints, but none of the performance guide's indexes (revision 0002 adds those). Databases
created before Alembic was introduced are stamped at this revision by ``storage.migrate``.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SLACK_ID = sa.String(64)
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "coaching_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", _SLACK_ID, nullable=False),
        sa.Column("channel_id", _SLACK_ID, nullable=False),
        sa.Column("thread_ts", _SLACK_ID, nullable=False),
        sa.Column("user_id", _SLACK_ID, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("vector_store_id", sa.String(255), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_coaching_sessions"),
        sa.UniqueConstraint("team_id", "channel_id", "thread_ts", name="uq_session_thread"),
        # SQLite only: never reuse a deleted session's id (PostgreSQL sequences never do).
        sqlite_autoincrement=True,
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("slack_ts", _SLACK_ID, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        _timestamp("timestamp"),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_chat_messages"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["coaching_sessions.id"],
            name="fk_chat_messages_session_id_coaching_sessions",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("session_id", "slack_ts", name="uq_message_slack_ts"),
    )
    op.create_table(
        "processed_events",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("team_id", _SLACK_ID, nullable=False),
        sa.Column("event_id", _SLACK_ID, nullable=False),
        _timestamp("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_processed_events"),
        sa.UniqueConstraint("team_id", "event_id", name="uq_processed_event"),
    )


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("chat_messages")
    op.drop_table("coaching_sessions")
