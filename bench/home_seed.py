"""One coach with a long history, loaded straight into a migrated database: the App Home's worst case.

``seed_home_coach`` writes ``sessions`` sessions (the newest ``active`` of them still active, each
an hour apart), active goals, open commitments and stored files, for one (team, user), plus a few
other coaches' rows in the same tables so every query has to filter. Shared by ``bench.home``
and the Home's tests (500 sessions within Slack's 100 blocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert, select

from storage.engine import sync_url
from storage.file_store import object_key
from storage.models import (
    attachments,
    coach_commitments,
    coach_goals,
    coaching_sessions,
)


@dataclass(frozen=True)
class HomeHistory:
    sessions: int = 500
    active: int = 40
    goals: int = 12
    commitments: int = 25
    files: int = 30
    other_coaches: int = 5  # each with a few sessions of their own


def _session_rows(team_id: str, user_id: str, history: HomeHistory, now: datetime) -> list[dict]:
    rows = []
    for n in range(history.sessions):
        at = now - timedelta(hours=n + 1)
        rows.append(
            {
                "team_id": team_id,
                "channel_id": f"D{user_id[1:]}"[:20],
                "thread_ts": f"{int(at.timestamp())}.{n:06d}",
                "user_id": user_id,
                "is_active": n < history.active,
                "title": f"Session {n + 1}: delegating the weekly report",
                "created_at": at,
                "updated_at": at,
                "attachment_count": 1 if n < history.files else 0,
            }
        )
    return rows


def seed_home_coach(
    database_url: str,
    team_id: str,
    user_id: str,
    history: HomeHistory = HomeHistory(),
) -> list[int]:
    """Load the coach's history; returns their session ids, newest first."""
    now = datetime.now(UTC)
    engine = create_engine(sync_url(database_url))
    sessions = _session_rows(team_id, user_id, history, now)
    for k in range(history.other_coaches):
        sessions += _session_rows(team_id, f"U0OTHER{k}", HomeHistory(sessions=5, active=2, files=0), now)
    try:
        with engine.begin() as connection:
            connection.execute(insert(coaching_sessions), sessions)
            s = coaching_sessions.c
            owned = [
                {"id": row.id}
                for row in connection.execute(
                    select(s.id)
                    .where(s.team_id == team_id, s.user_id == user_id)
                    .order_by(s.updated_at.desc(), s.id.desc())
                )
            ]
            connection.execute(
                insert(coach_goals),
                [
                    {"team_id": team_id, "user_id": user_id, "text": f"Goal {g + 1}: grow the team's leads"}
                    for g in range(history.goals)
                ],
            )
            connection.execute(
                insert(coach_commitments),
                [
                    {
                        "team_id": team_id,
                        "user_id": user_id,
                        "source_session_id": owned[c % len(owned)]["id"],
                        "text": f"Commitment {c + 1}: hand the report to Sam",
                        "due_date": (now + timedelta(days=c + 1)).date(),
                    }
                    for c in range(history.commitments)
                ],
            )
            if history.files:
                connection.execute(
                    insert(attachments),
                    [
                        {
                            "session_id": owned[f]["id"],
                            "slack_file_id": f"F{team_id}{user_id}{f:05d}",
                            "team_id": team_id,
                            "user_id": user_id,
                            "name": f"notes-{f + 1}.txt",
                            "mime_type": "text/plain",
                            "size": 1200 + f,
                            "sha256": "0" * 64,
                            "storage_key": object_key(team_id, owned[f]["id"], f + 1, f"notes-{f + 1}.txt"),
                            "status": "stored",
                            "created_at": now - timedelta(hours=f + 1),
                            "updated_at": now - timedelta(hours=f + 1),
                        }
                        for f in range(history.files)
                    ],
                )
    finally:
        engine.dispose()
    return [s["id"] for s in owned]
