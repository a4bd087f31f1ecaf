"""feedback on replies: the coach's thumbs up or down on each reply, and what would have helped

``reply_feedback`` holds one row per coach per reply they rated (unique per team, channel, the
reply's ts and user; a second press updates it), with the session, the rating, the optional note
after a thumbs-down, and the model and prompt version that wrote the reply.
``idx_reply_feedback_updated`` serves the figures over a period (/perf, the weekly report).

``chat_messages`` gains three nullable columns on the coach's replies: ``reply_ts`` (the Slack
message that carries the reply's feedback buttons, its last part), ``model`` and
``prompt_version``. A press is checked against them: the message must be a reply in a session of
the coach who pressed, in that workspace. Added in place (nullable, no default), rows before
this revision simply cannot be rated.

Like the revisions before, each step runs only when its object is missing.

Revision ID: 0010_feedback
Revises: 0009_checkins
Create Date: 2026-12-01 00:00:10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0010_feedback"
down_revision: str | Sequence[str] | None = "0009_checkins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: later model changes must not alter this revision.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ID = sa.String(64)
UPDATED_INDEX = ("idx_reply_feedback_updated", ("updated_at", "team_id", "user_id"))
MESSAGE_COLUMNS = (("reply_ts", 64), ("model", 128), ("prompt_version", 64))


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
    for name, length in MESSAGE_COLUMNS:
        if not _has_column(inspector, "chat_messages", name):
            op.add_column("chat_messages", sa.Column(name, sa.String(length), nullable=True))
    if not _has_table(inspector, "reply_feedback"):
        op.create_table(
            "reply_feedback",
            sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
            sa.Column("team_id", _ID, nullable=False),
            sa.Column("user_id", _ID, nullable=False),
            sa.Column("channel_id", _ID, nullable=False),
            sa.Column("message_ts", _ID, nullable=False),
            sa.Column("session_id", sa.Integer(), nullable=False),
            sa.Column("rating", sa.String(16), nullable=False),
            sa.Column("note", sa.Text(), nullable=True),
            sa.Column("model", sa.String(128), nullable=True),
            sa.Column("prompt_version", sa.String(64), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.PrimaryKeyConstraint("id", name="pk_reply_feedback"),
            sa.ForeignKeyConstraint(
                ["session_id"],
                ["coaching_sessions.id"],
                name="fk_reply_feedback_session_id_coaching_sessions",
                ondelete="CASCADE",
            ),
            sa.UniqueConstraint(
                "team_id", "channel_id", "message_ts", "user_id", name="uq_reply_feedback_reply_user"
            ),
        )
    name, columns = UPDATED_INDEX
    if not _has_index(inspector, "reply_feedback", name):
        op.create_index(name, "reply_feedback", list(columns))


def downgrade() -> None:
    inspector = _inspector()
    if inspector is None or _has_table(inspector, "reply_feedback"):
        op.drop_table("reply_feedback")  # its index goes with it
    for name, _ in reversed(MESSAGE_COLUMNS):
        if inspector is None or _has_column(inspector, "chat_messages", name):
            # SQLite (3.35+) drops a column in place; batch mode would copy chat_messages.
            op.drop_column("chat_messages", name)
