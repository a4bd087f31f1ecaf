"""durable turns: owed replies, per-session leases, bystander notes

A reply owed is recorded in the same write that stores the coach's message: ``coach_seq`` counts
the session's coach messages, ``answered_seq`` how many a reply has answered. One turn at a time
runs per session, under a lease (``lease_owner`` until ``lease_expires_at``, renewed while it
runs; ``lease_stream_ts`` is the Slack message it is streaming). Recovery finds owed replies
whose lease expired through a partial index that holds only sessions owing one. ``bystander_notes``
remembers who, other than the coach, was told once that a session thread is not theirs.

Existing sessions owe nothing (both counters start at 0). Like the revisions before, each step
runs only when its object is missing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:00:06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: later model changes must not alter this revision.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OWED = "coach_seq > answered_seq"


def _session_columns() -> tuple[sa.Column, ...]:
    return (
        sa.Column("coach_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("answered_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_stream_ts", sa.String(64), nullable=True),
    )


OWED_INDEX = "idx_sessions_owed"


def _inspector() -> sa.Inspector | None:
    """The live schema, or None when writing an SQL script (offline: assume nothing exists)."""
    return None if context.is_offline_mode() else sa.inspect(op.get_bind())


def _columns(inspector: sa.Inspector | None, table: str) -> set[str]:
    if inspector is None or not inspector.has_table(table):
        return set()
    return {column["name"] for column in inspector.get_columns(table)}


def _has_index(inspector: sa.Inspector | None, table: str, index: str) -> bool:
    if inspector is None or not inspector.has_table(table):
        return False
    return index in {i["name"] for i in inspector.get_indexes(table)}


def upgrade() -> None:
    inspector = _inspector()
    present = _columns(inspector, "coaching_sessions")
    for column in _session_columns():
        if column.name not in present:
            # Plain literal defaults (or none): SQLite adds it in place, existing rows read 0.
            op.add_column("coaching_sessions", column)
    if not _has_index(inspector, "coaching_sessions", OWED_INDEX):
        op.create_index(
            OWED_INDEX,
            "coaching_sessions",
            ["lease_expires_at"],
            postgresql_where=sa.text(_OWED),
            sqlite_where=sa.text(_OWED),
        )
    if inspector is None or not inspector.has_table("bystander_notes"):
        op.create_table(
            "bystander_notes",
            sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
            sa.Column("session_id", sa.Integer(), nullable=False),
            sa.Column("user_id", sa.String(64), nullable=False),
            sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.ForeignKeyConstraint(
                ["session_id"],
                ["coaching_sessions.id"],
                name="fk_bystander_notes_session_id_coaching_sessions",
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name="pk_bystander_notes"),
            sa.UniqueConstraint("session_id", "user_id", name="uq_bystander_notes_session_user"),
        )


def downgrade() -> None:
    inspector = _inspector()
    if inspector is None or inspector.has_table("bystander_notes"):
        op.drop_table("bystander_notes")
    if inspector is None or _has_index(inspector, "coaching_sessions", OWED_INDEX):
        op.drop_index(OWED_INDEX, table_name="coaching_sessions")
    present = _columns(inspector, "coaching_sessions") if inspector is not None else None
    for column in reversed(_session_columns()):
        if present is None or column.name in present:
            # In place on SQLite 3.35+; batch mode would copy the table and lose its AUTOINCREMENT.
            op.drop_column("coaching_sessions", column.name)
