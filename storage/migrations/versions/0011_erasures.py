"""erasures: the coaches who deleted their data, and when

``coach_erasures`` has one row per coach (team, user) who confirmed "Delete my data": the write
paths refuse anything of theirs Slack dated before ``erased_at`` (an owed reply, a redelivery,
a retried job), so the delete holds on every replica.

Like the revisions before, the step runs only when its table is missing.

Revision ID: 0011_erasures
Revises: 0009_checkins
Create Date: 2026-12-01 00:00:11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0011_erasures"
down_revision: str | Sequence[str] | None = "0010_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: later model changes must not alter this revision.
_ID = sa.String(64)


def _has_table(table: str) -> bool:
    """Whether the table exists (offline, writing an SQL script: assume it does not)."""
    return not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if not _has_table("coach_erasures"):
        op.create_table(
            "coach_erasures",
            sa.Column("team_id", _ID, nullable=False),
            sa.Column("user_id", _ID, nullable=False),
            sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_coach_erasures"),
        )


def downgrade() -> None:
    if context.is_offline_mode() or _has_table("coach_erasures"):
        op.drop_table("coach_erasures")
