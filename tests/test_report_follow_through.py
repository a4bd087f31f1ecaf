"""The weekly report's follow-through: wrap-ups, commitments made and kept, check-ins answered.

Counts only, never text, and a workspace's figure only when at least five coaches are behind it.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, insert

from bot.operations.follow_through import Figure
from bot.operations.report import build_weekly_report, report_text
from storage.engine import sync_url
from storage.models import checkins, coach_commitments, session_summaries

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday: the report covers 23–29 November
IN_THE_WEEK = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
THE_WEEK_BEFORE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET = "Tell my manager I am leaving"


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_engine(sync_url(database_url))
    yield engine
    engine.dispose()


def seed_coach(db: Engine, team: str, user: str, *, kept: bool, answered: bool, at=IN_THE_WEEK) -> None:
    """One coach's week: a wrap-up, a commitment (kept or not), a check-in (answered or not)."""
    with db.begin() as conn:
        conn.execute(
            insert(session_summaries).values(
                team_id=team, user_id=user, status="done", summary=SECRET, created_at=at, updated_at=at
            )
        )
        commitment = conn.execute(
            insert(coach_commitments)
            .values(
                team_id=team,
                user_id=user,
                text=SECRET,
                status="done" if kept else "open",
                done_at=at if kept else None,
                created_at=at,
                updated_at=at,
            )
            .returning(coach_commitments.c.id)
        ).scalar_one()
        conn.execute(
            insert(checkins).values(
                commitment_id=commitment,
                round=1,
                team_id=team,
                user_id=user,
                channel_id=f"D{user}",
                message_ts="1.0",
                sent_at=at,
                answer="done" if answered else None,
                answered_at=at if answered else None,
            )
        )


def test_the_report_counts_follow_through_and_hides_what_fewer_than_five_coaches_are_behind(
    db: Engine,
) -> None:
    for n in range(6):  # a workspace of six coaches: four kept theirs, five answered a check-in
        seed_coach(db, "T0BIG", f"U{n}", kept=n < 4, answered=n < 5)
    seed_coach(db, "T0BIG", "U9", kept=True, answered=True, at=THE_WEEK_BEFORE)  # not this week
    for n in range(2):  # a workspace of two coaches: nothing of theirs can be shown
        seed_coach(db, "T0SMALL", f"U{n}", kept=True, answered=True)

    report = build_weekly_report(db, now=NOW, timezone="UTC")

    big = report.workspace("T0BIG")
    assert big is not None
    assert big.follow_through.wrapped_up == Figure(count=6, coaches=6)
    assert big.follow_through.commitments_made == Figure(count=6, coaches=6)
    assert big.follow_through.commitments_kept == Figure(count=4, coaches=4)
    assert big.follow_through.checkins_answered == Figure(count=5, coaches=5)
    small = report.workspace("T0SMALL")
    assert small is not None and small.follow_through.wrapped_up == Figure(count=2, coaches=2)

    text = report_text(report)
    blocks = text.split("*Workspace ")
    big_text = next(b for b in blocks if b.startswith("T0BIG"))
    small_text = next(b for b in blocks if b.startswith("T0SMALL"))
    assert (
        "• Follow-through: 6 sessions wrapped up · commitments 6 made, – kept · 5 check-ins answered"
        in big_text
    )
    assert (
        "• Follow-through: – sessions wrapped up · commitments – made, – kept · – check-ins answered"
        in small_text
    )
    assert "fewer than 5 coaches behind the figure" in text
    assert SECRET not in text
