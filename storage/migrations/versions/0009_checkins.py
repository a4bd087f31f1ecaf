"""check-ins: the DMs asking a coach how a commitment went, and who turned them off

``checkins`` holds one row per check-in DM posted: the commitment and its round (the first
check-in is round 1, each "Not yet" schedules the next), where the DM is, the answer and when
the next round is due. Unique per (commitment, round), which also serves the check-in job's
"latest round of each open commitment"; rows go with their commitment (``/coach forget``).
``idx_checkins_answered`` covers the weekly report's count of a week's answers.
``checkin_opt_outs`` has a row per coach who turned check-ins off.

Like the revisions before, each step runs only when its object is missing.

Revision ID: 0009_checkins
Revises: 0008_memory
Create Date: 2026-12-01 00:00:09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0009_checkins"
down_revision: str | Sequence[str] | None = "0008_memory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: later model changes must not alter this revision.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ID = sa.String(64)
ANSWERED_INDEX = ("idx_checkins_answered", ("answered_at", "team_id", "user_id"))


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
    if not _has_table(inspector, "checkins"):
        op.create_table(
            "checkins",
            sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
            sa.Column("commitment_id", _BIG_ID, nullable=False),
            sa.Column("round", sa.Integer(), nullable=False),
            sa.Column("team_id", _ID, nullable=False),
            sa.Column("user_id", _ID, nullable=False),
            sa.Column("channel_id", _ID, nullable=False),
            sa.Column("message_ts", _ID, nullable=False),
            sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.Column("answer", sa.String(16), nullable=True),
            sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_checkins"),
            sa.ForeignKeyConstraint(
                ["commitment_id"],
                ["coach_commitments.id"],
                name="fk_checkins_commitment_id_coach_commitments",
                ondelete="CASCADE",
            ),
            sa.UniqueConstraint("commitment_id", "round", name="uq_checkins_commitment_round"),
        )
    name, columns = ANSWERED_INDEX
    if not _has_index(inspector, "checkins", name):
        op.create_index(name, "checkins", list(columns))
    if not _has_table(inspector, "checkin_opt_outs"):
        op.create_table(
            "checkin_opt_outs",
            sa.Column("team_id", _ID, nullable=False),
            sa.Column("user_id", _ID, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_checkin_opt_outs"),
        )


def downgrade() -> None:
    inspector = _inspector()
    if inspector is None or _has_table(inspector, "checkin_opt_outs"):
        op.drop_table("checkin_opt_outs")
    if inspector is None or _has_table(inspector, "checkins"):
        op.drop_table("checkins")  # its index goes with it
