"""attachments

The ``attachments`` table (one row per Slack file shared in a session, with where its bytes live
in the file store) and ``coaching_sessions.attachment_count``, so a turn in a session without
files needs no attachment query. Works on SQLite and PostgreSQL, both ways.

Like 0002, each step runs only when its object is missing: SQLite commits DDL as it goes, so a
revision interrupted half way must be safe to run again, and a database created straight from the
models already has everything.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 00:00:03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: later model changes must not alter this revision.
_SLACK_ID = sa.String(64)
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LISTING_INDEX = "idx_attachments_session_created"
RETRY_INDEX = "idx_attachments_status_updated"


def _timestamp(name: str) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _inspector() -> sa.Inspector | None:
    """The live schema, or None when writing an SQL script (offline: assume nothing exists)."""
    return None if context.is_offline_mode() else sa.inspect(op.get_bind())


def _has_table(inspector: sa.Inspector | None, table: str) -> bool:
    return inspector is not None and inspector.has_table(table)


def _has_column(inspector: sa.Inspector | None, table: str, column: str) -> bool:
    return inspector is not None and column in {c["name"] for c in inspector.get_columns(table)}


def _has_index(inspector: sa.Inspector | None, table: str, index: str) -> bool:
    if inspector is None or not inspector.has_table(table):
        return False
    return index in {i["name"] for i in inspector.get_indexes(table)}


def upgrade() -> None:
    inspector = _inspector()
    if not _has_column(inspector, "coaching_sessions", "attachment_count"):
        # A plain literal default: SQLite then adds the column in place (ALTER TABLE … ADD
        # COLUMN) instead of copying the table, and existing rows read 0.
        op.add_column(
            "coaching_sessions",
            sa.Column("attachment_count", sa.Integer(), nullable=False, server_default="0"),
        )
    if not _has_table(inspector, "attachments"):
        _create_attachments()
    if not _has_index(inspector, "attachments", LISTING_INDEX):
        op.create_index(LISTING_INDEX, "attachments", ["session_id", sa.text("created_at DESC")])
    if not _has_index(inspector, "attachments", RETRY_INDEX):
        op.create_index(RETRY_INDEX, "attachments", ["status", "updated_at"])


def _create_attachments() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("slack_file_id", _SLACK_ID, nullable=False),
        sa.Column("team_id", _SLACK_ID, nullable=False),
        sa.Column("user_id", _SLACK_ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("mime_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("storage_key", sa.String(1024), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["coaching_sessions.id"],
            name="fk_attachments_session_id_coaching_sessions",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("slack_file_id", name="uq_attachment_slack_file_id"),
    )


def downgrade() -> None:
    inspector = _inspector()
    if inspector is None or _has_table(inspector, "attachments"):
        op.drop_table("attachments")  # its indexes go with it
    if inspector is None or _has_column(inspector, "coaching_sessions", "attachment_count"):
        # SQLite (3.35+) drops a column in place; batch mode would copy coaching_sessions, and
        # the copy would lose its AUTOINCREMENT.
        op.drop_column("coaching_sessions", "attachment_count")
