"""A coach who erased their data: the one row kept, so nothing written from before comes back.

Revision 0011_erasures. ``erased_at`` is when the coach confirmed the delete: a coach message Slack
dated before it (a redelivery, a turn still being stored on another replica) is refused, one
dated after starts afresh. The row holds nothing but the two ids and the time; a second delete
moves the time on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, String, Table, func, select
from sqlalchemy.orm import Mapped, mapped_column

from storage.schema import SLACK_ID_LENGTH, Base, UtcDateTime, utcnow


class CoachErasure(Base):
    """The coach (in one workspace) erased everything at ``erased_at``."""

    __tablename__ = "coach_erasures"

    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


coach_erasures = cast(Table, CoachErasure.__table__)


def erased_before(coach_team: Any, coach_user: Any, said_at: Any) -> Select[Any]:
    """``EXISTS``-able: the coach erased their data at or after ``said_at`` (the write paths' guard)."""
    e = coach_erasures
    return select(e.c.team_id).where(
        e.c.team_id == coach_team, e.c.user_id == coach_user, e.c.erased_at >= said_at
    )
