"""The coach's memory: goals, commitments, session summaries, remembered items, preferences.

Revision 0008_memory. Every row is keyed by workspace and coach (Slack ids are unique only within
a workspace); each index serves one query of storage/memory.py or the check-ins.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Table, Text, UniqueConstraint, func, true
from sqlalchemy.orm import Mapped, mapped_column

from storage.schema import SLACK_ID_LENGTH, Base, BigIntId, UtcDateTime, utcnow


class CommitmentStatus(StrEnum):
    """Where a commitment stands; stored as the plain string in ``coach_commitments.status``."""

    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


class GoalStatus(StrEnum):
    """Whether a goal is still being worked on; stored in ``coach_goals.status``."""

    ACTIVE = "active"
    DONE = "done"
    DROPPED = "dropped"


class SummaryStatus(StrEnum):
    """A wrap-up's progress: its row is the claim, so one replica summarises a session once."""

    PENDING = "pending"  # claimed; the extraction call is running
    DONE = "done"  # summary stored and posted
    FAILED = "failed"  # the model or Slack failed; the coach was told


class CoachGoal(Base):
    """A goal a coach is working on, extracted at a wrap-up (or edited by the coach)."""

    __tablename__ = "coach_goals"
    __table_args__ = (
        # A new session's context: the coach's active goals, newest first (revision 0008).
        Index("idx_coach_goals_coach", "team_id", "user_id", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=GoalStatus.ACTIVE.value)
    # The session it came from; kept (as NULL) when the retention purge deletes that session.
    source_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_sessions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class CoachCommitment(Base):
    """Something a coach said they would do, in their own words, with a due date when they named one."""

    __tablename__ = "coach_commitments"
    __table_args__ = (
        # A new session's context and /coach memory: a coach's open commitments by due date.
        Index("idx_coach_commitments_coach", "team_id", "user_id", "status", "due_date"),
        # Check-ins: open commitments due by a date (or, undated, made before one), across coaches.
        Index("idx_coach_commitments_status_due", "status", "due_date", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    text: Mapped[str] = mapped_column(Text)  # the coach's own words
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=CommitmentStatus.OPEN.value)
    source_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_sessions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SessionSummary(Base):
    """A wrapped-up session's summary, and where it was posted; one per session, ever."""

    __tablename__ = "session_summaries"
    __table_args__ = (
        # The claim: two replicas (or a button and the idle job) wrapping one session up.
        UniqueConstraint("session_id", name="uq_session_summaries_session"),
        # A new session's context: the coach's last three summaries.
        Index("idx_session_summaries_coach", "team_id", "user_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("coaching_sessions.id", ondelete="SET NULL"))
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default=SummaryStatus.PENDING.value)
    summary: Mapped[str | None] = mapped_column(Text)
    channel_id: Mapped[str | None] = mapped_column(String(SLACK_ID_LENGTH))
    message_ts: Mapped[str | None] = mapped_column(String(SLACK_ID_LENGTH))  # the posted summary
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class RememberedItem(Base):
    """Something the coach asked the coach bot to remember."""

    __tablename__ = "remembered_items"
    __table_args__ = (Index("idx_remembered_items_coach", "team_id", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    source_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_sessions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class CoachPreference(Base):
    """A coach's own switches (one row per coach, only once they change one): memory on or off."""

    __tablename__ = "coach_preferences"

    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    memory_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


# Core handles (``__table__`` is typed as a FromClause).
coach_goals = cast(Table, CoachGoal.__table__)
coach_commitments = cast(Table, CoachCommitment.__table__)
session_summaries = cast(Table, SessionSummary.__table__)
remembered_items = cast(Table, RememberedItem.__table__)
coach_preferences = cast(Table, CoachPreference.__table__)

#: Every memory table, each keyed by ``team_id`` (the uninstall purge deletes a workspace's rows).
MEMORY_TABLES: tuple[Table, ...] = (
    coach_goals,
    coach_commitments,
    session_summaries,
    remembered_items,
    coach_preferences,
)
