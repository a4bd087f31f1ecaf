"""job runs, claimed once per period

The ``job_runs`` table: a once-per-period job (the weekly report, the daily retention purge)
inserts its (job, period) row with ``ON CONFLICT DO NOTHING`` before doing any work, so with
several replicas sharing the database exactly one of them does it. Plus the weekly report's
indexes: chat_messages by timestamp and coaching_sessions by created_at, each covering the
columns the report reads, so a week of a million-message table is read off the indexes without
touching the rows (and their text).

Like 0002 and 0003, each step runs only when its object is missing: a database created straight
from the models already has everything, and SQLite commits DDL as it goes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 00:00:05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: later model changes must not alter this revision.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# (index name, table, columns)
INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # Covering: the report reads a week of messages off the index alone, never the rows' text.
    ("idx_chat_messages_report", "chat_messages", ("timestamp", "message_type", "session_id", "latency_ms")),
    ("idx_sessions_created_team", "coaching_sessions", ("created_at", "team_id")),
)


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
    if not _has_table(inspector, "job_runs"):
        op.create_table(
            "job_runs",
            sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
            sa.Column("job", sa.String(64), nullable=False),
            sa.Column("period", sa.String(32), nullable=False),
            sa.Column("claimed_by", sa.String(128), nullable=False),
            sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("outcome", sa.String(255), nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_job_runs"),
            sa.UniqueConstraint("job", "period", name="uq_job_runs_job_period"),
        )
    for name, table, columns in INDEXES:
        if not _has_index(inspector, table, name):
            op.create_index(name, table, list(columns))


def downgrade() -> None:
    inspector = _inspector()
    for name, table, _columns in INDEXES:
        if inspector is None or _has_index(inspector, table, name):
            op.drop_index(name, table_name=table)
    if inspector is None or _has_table(inspector, "job_runs"):
        op.drop_table("job_runs")
