"""Check-ins: the DMs that ask a coach how a commitment went, and the coaches who turned them off.

Revision 0009_checkins. Sending is claimed once per (commitment, round) in ``job_runs``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import ForeignKey, Index, Integer, String, Table, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from storage.schema import SLACK_ID_LENGTH, Base, BigIntId, UtcDateTime, utcnow


class CheckinAnswer(StrEnum):
    """How a coach answered a check-in; stored in ``checkins.answer`` (NULL until answered)."""

    DONE = "done"
    NOT_YET = "not_yet"
    TALK = "talk"


class Checkin(Base):
    """One check-in DM about a commitment: the n-th (``round``) time the coach is asked how it went.

    Written once the DM is posted (its channel and ts), answered by one of its buttons;
    ``next_due_at`` is when the next round becomes due (after "Not yet" or "Let's talk"), NULL
    when there is none. Sending is claimed once per (commitment, round) in ``job_runs``.
    """

    __tablename__ = "checkins"
    __table_args__ = (
        # One DM per round, and the check-in job's "latest round of each open commitment".
        UniqueConstraint("commitment_id", "round", name="uq_checkins_commitment_round"),
        # The weekly report's "check-ins answered": a week's answers off the index (revision 0009).
        Index("idx_checkins_answered", "answered_at", "team_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    commitment_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("coach_commitments.id", ondelete="CASCADE")
    )
    round: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    channel_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    message_ts: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    answer: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CheckinOptOut(Base):
    """A coach who turned check-ins off (``/coach checkins off``); no row means they are on."""

    __tablename__ = "checkin_opt_outs"

    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


checkins = cast(Table, Checkin.__table__)
checkin_opt_outs = cast(Table, CheckinOptOut.__table__)
