"""Feedback on replies: one row per coach per reply they rated, changed in place when they change their mind.

Revision 0010_feedback. The reply is the Slack message that carried the feedback buttons (a
multi-part reply's last part); ``model`` and ``prompt_version`` are copied from the reply's row in
``chat_messages``, so the figures per model and per prompt version need no join.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import ForeignKey, Index, String, Table, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from storage.schema import SLACK_ID_LENGTH, Base, BigIntId, UtcDateTime, utcnow

MODEL_LENGTH = 128
PROMPT_VERSION_LENGTH = 64


class Rating(StrEnum):
    """A press of the reply's feedback buttons; stored in ``reply_feedback.rating``."""

    POSITIVE = "positive"
    NEGATIVE = "negative"


class ReplyFeedback(Base):
    """A coach's rating of one reply, and what would have helped (``note``, after a thumbs-down)."""

    __tablename__ = "reply_feedback"
    __table_args__ = (
        # Once per coach per reply: a second press updates this row.
        UniqueConstraint(
            "team_id", "channel_id", "message_ts", "user_id", name="uq_reply_feedback_reply_user"
        ),
        # The figures (/perf, /metrics, the weekly report): a period's ratings off the index.
        Index("idx_reply_feedback_updated", "updated_at", "team_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    channel_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    message_ts: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    session_id: Mapped[int] = mapped_column(ForeignKey("coaching_sessions.id", ondelete="CASCADE"))
    rating: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(MODEL_LENGTH))
    prompt_version: Mapped[str | None] = mapped_column(String(PROMPT_VERSION_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


reply_feedback = cast(Table, ReplyFeedback.__table__)
