"""memory across sessions: goals, commitments, session summaries, remembered items, preferences

A wrap-up extracts, in one structured model call, a session's summary, the goals worked on, the
coach's commitments (their own words, a due date when named, a status) and anything they asked to
be remembered. Each lives in its own table keyed by the coach (team_id, user_id) and indexed for
the query that reads it: a new session's context (active goals, open commitments, the last three
summaries), ``/coach memory``, and the check-ins' scan of open commitments by due date.
``session_summaries`` has one row per session: inserting it is the wrap-up's claim, so a button,
the words and the idle job racing on several replicas summarise a session once. The idle job
finds active sessions by ``updated_at`` through ``idx_sessions_active_updated``.
``coach_preferences`` holds a coach's switches (memory on or off; no row means on).

The source session is kept as a nullable reference (SET NULL): the retention purge deletes old
sessions, but what a coach remembers stays until they forget it. Like the revisions before, each
step runs only when its object is missing.

Revision ID: 0008_memory
Revises: 0006
Create Date: 2026-12-01 00:00:08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0008_memory"
# The coordinator rechains this after another branch's 0007 at merge.
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: later model changes must not alter this revision.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ID = sa.String(64)
SESSIONS_IDLE_INDEX = "idx_sessions_active_updated"


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _coach() -> tuple[sa.Column, sa.Column]:
    return sa.Column("team_id", _ID, nullable=False), sa.Column("user_id", _ID, nullable=False)


def _source_session(table: str, column: str = "source_session_id") -> tuple[sa.Column, sa.Constraint]:
    return (
        sa.Column(column, sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            [column],
            ["coaching_sessions.id"],
            name=f"fk_{table}_{column}_coaching_sessions",
            ondelete="SET NULL",
        ),
    )


def _tables() -> dict[str, tuple[tuple[object, ...], tuple[tuple[str, tuple[str, ...]], ...]]]:
    """Each new table: its columns and constraints, and its indexes (name, columns)."""
    return {
        "coach_goals": (
            (
                sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
                *_coach(),
                sa.Column("text", sa.Text(), nullable=False),
                sa.Column("status", sa.String(16), nullable=False),
                *_source_session("coach_goals"),
                _timestamp("created_at"),
                _timestamp("updated_at"),
                sa.PrimaryKeyConstraint("id", name="pk_coach_goals"),
            ),
            (("idx_coach_goals_coach", ("team_id", "user_id", "status", "updated_at")),),
        ),
        "coach_commitments": (
            (
                sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
                *_coach(),
                sa.Column("text", sa.Text(), nullable=False),
                sa.Column("due_date", sa.Date(), nullable=True),
                sa.Column("status", sa.String(16), nullable=False),
                *_source_session("coach_commitments"),
                _timestamp("created_at"),
                _timestamp("updated_at"),
                sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
                sa.PrimaryKeyConstraint("id", name="pk_coach_commitments"),
            ),
            (
                ("idx_coach_commitments_coach", ("team_id", "user_id", "status", "due_date")),
                ("idx_coach_commitments_status_due", ("status", "due_date", "created_at")),
            ),
        ),
        "session_summaries": (
            (
                sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
                *_source_session("session_summaries", "session_id"),
                *_coach(),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("summary", sa.Text(), nullable=True),
                sa.Column("channel_id", _ID, nullable=True),
                sa.Column("message_ts", _ID, nullable=True),
                _timestamp("created_at"),
                _timestamp("updated_at"),
                sa.PrimaryKeyConstraint("id", name="pk_session_summaries"),
                sa.UniqueConstraint("session_id", name="uq_session_summaries_session"),
            ),
            (("idx_session_summaries_coach", ("team_id", "user_id", "status", "created_at")),),
        ),
        "remembered_items": (
            (
                sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
                *_coach(),
                sa.Column("text", sa.Text(), nullable=False),
                *_source_session("remembered_items"),
                _timestamp("created_at"),
                _timestamp("updated_at"),
                sa.PrimaryKeyConstraint("id", name="pk_remembered_items"),
            ),
            (("idx_remembered_items_coach", ("team_id", "user_id", "created_at")),),
        ),
        "coach_preferences": (
            (
                *_coach(),
                sa.Column("memory_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
                _timestamp("updated_at"),
                sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_coach_preferences"),
            ),
            (),
        ),
    }


def _inspector() -> sa.Inspector | None:
    """The live schema, or None when writing an SQL script (offline: assume nothing exists)."""
    return None if context.is_offline_mode() else sa.inspect(op.get_bind())


def _has_table(inspector: sa.Inspector | None, table: str) -> bool:
    return inspector is not None and inspector.has_table(table)


def _has_index(inspector: sa.Inspector | None, table: str, index: str) -> bool:
    if inspector is None or not inspector.has_table(table):
        return False
    return index in {i["name"] for i in inspector.get_indexes(table)}


def upgrade() -> None:
    inspector = _inspector()
    if not _has_index(inspector, "coaching_sessions", SESSIONS_IDLE_INDEX):
        op.create_index(SESSIONS_IDLE_INDEX, "coaching_sessions", ["is_active", "updated_at"])
    for table, (elements, indexes) in _tables().items():
        if not _has_table(inspector, table):
            op.create_table(table, *elements)
        for name, columns in indexes:
            if not _has_index(inspector, table, name):
                op.create_index(name, table, list(columns))


def downgrade() -> None:
    inspector = _inspector()
    for table in reversed(list(_tables())):
        if inspector is None or _has_table(inspector, table):
            op.drop_table(table)
    if inspector is None or _has_index(inspector, "coaching_sessions", SESSIONS_IDLE_INDEX):
        op.drop_index(SESSIONS_IDLE_INDEX, table_name="coaching_sessions")
