"""The weekly report's follow-through figures: sessions wrapped up, commitments made and kept,
check-ins answered, per workspace.

Counts only, never text. A figure is shown only when at least ``MIN_COACHES`` coaches are behind
it, so a small team's report can't tell who wrapped up or kept what; each figure therefore comes
with the number of distinct coaches it counts. Each is one aggregate over a week's range of a
timestamp column, off the tables' coach indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Column, Connection, Table, func, select

from storage.models import (
    CommitmentStatus,
    SummaryStatus,
    checkins,
    coach_commitments,
    session_summaries,
)

MIN_COACHES = 5
HIDDEN = "–"


@dataclass(frozen=True)
class Figure:
    """How many, and how many coaches are behind the count."""

    count: int = 0
    coaches: int = 0

    @property
    def shown(self) -> bool:
        return self.coaches >= MIN_COACHES

    def text(self) -> str:
        return f"{self.count:,}" if self.shown else HIDDEN


@dataclass(frozen=True)
class FollowThrough:
    wrapped_up: Figure = field(default_factory=Figure)
    commitments_made: Figure = field(default_factory=Figure)
    commitments_kept: Figure = field(default_factory=Figure)
    checkins_answered: Figure = field(default_factory=Figure)

    @property
    def any_hidden(self) -> bool:
        figures = (self.wrapped_up, self.commitments_made, self.commitments_kept, self.checkins_answered)
        return any(not f.shown for f in figures)

    def line(self) -> str:
        return (
            f"• Follow-through: {self.wrapped_up.text()} sessions wrapped up · "
            f"commitments {self.commitments_made.text()} made, {self.commitments_kept.text()} kept · "
            f"{self.checkins_answered.text()} check-ins answered"
        )


def _counts(
    connection: Connection, table: Table, at: Column, start: datetime, end: datetime, *where: object
) -> dict[str, Figure]:
    rows = connection.execute(
        select(table.c.team_id, func.count(), func.count(table.c.user_id.distinct()))
        .where(at >= start, at < end, *where)  # type: ignore[arg-type]
        .group_by(table.c.team_id)
    )
    return {team_id: Figure(int(count), int(coaches)) for team_id, count, coaches in rows}


def follow_through_in(connection: Connection, start: datetime, end: datetime) -> dict[str, FollowThrough]:
    """Each workspace's follow-through in [start, end); workspaces without any are left out."""
    s, c, k = session_summaries.c, coach_commitments.c, checkins.c
    wrapped = _counts(
        connection, session_summaries, s.created_at, start, end, s.status == SummaryStatus.DONE.value
    )
    made = _counts(connection, coach_commitments, c.created_at, start, end)
    kept = _counts(
        connection, coach_commitments, c.done_at, start, end, c.status == CommitmentStatus.DONE.value
    )
    answered = _counts(connection, checkins, k.answered_at, start, end)
    teams = set(wrapped) | set(made) | set(kept) | set(answered)
    return {
        team: FollowThrough(
            wrapped_up=wrapped.get(team, Figure()),
            commitments_made=made.get(team, Figure()),
            commitments_kept=kept.get(team, Figure()),
            checkins_answered=answered.get(team, Figure()),
        )
        for team in teams
    }
