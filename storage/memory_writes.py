"""The parts of a wrap-up's save that the store's transaction shares: whose rows, and the goals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, select, update
from sqlalchemy.engine import Connection

from storage.memory_models import GoalStatus, coach_goals
from storage.memory_records import Coach


def of_coach(table: Table, coach: Coach) -> Any:
    return and_(table.c.team_id == coach.team_id, table.c.user_id == coach.user_id)


def save_goals(conn: Connection, coach: Coach, session_id: int, goals: Sequence[str], now: datetime) -> None:
    """Insert goals not already active (same words, any case); touch those that are."""
    g = coach_goals
    active = {
        row.text.casefold(): row.id
        for row in conn.execute(
            select(g.c.id, g.c.text).where(of_coach(g, coach), g.c.status == GoalStatus.ACTIVE.value)
        )
    }
    for text in goals:
        existing = active.get(text.casefold())
        if existing is not None:
            conn.execute(update(g).where(g.c.id == existing).values(updated_at=now))
            continue
        conn.execute(
            g.insert().values(
                team_id=coach.team_id,
                user_id=coach.user_id,
                text=text,
                status=GoalStatus.ACTIVE.value,
                source_session_id=session_id,
                created_at=now,
                updated_at=now,
            )
        )
        active[text.casefold()] = -1
