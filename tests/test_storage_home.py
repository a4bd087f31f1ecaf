"""The App Home's reads (storage/home.py) on SQLite and PostgreSQL: one coach's rows only, in
their workspace, newest first, bounded, with the counts of the rest."""

from __future__ import annotations

from sqlalchemy import create_engine

from bench.home_seed import HomeHistory, seed_home_coach
from storage.checkins import set_checkins_enabled
from storage.engine import sync_url
from storage.home import HomeLimits, home_records

LIMITS = HomeLimits(active=3, inactive=2, memory=4, files=5)


def test_a_coachs_home_records_are_theirs_in_their_workspace_newest_first_and_bounded(
    database_url: str,
) -> None:
    seed_home_coach(
        database_url, "T1", "U1", HomeHistory(sessions=30, active=6, goals=7, commitments=9, files=8)
    )
    # The same user id in another workspace is someone else (Slack ids are unique per workspace).
    seed_home_coach(
        database_url, "T2", "U1", HomeHistory(sessions=4, active=4, goals=2, commitments=2, files=2)
    )
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            set_checkins_enabled(connection, "T2", "U1", False)
        with engine.connect() as connection:
            records = home_records(connection, "T1", "U1", LIMITS)
            other = home_records(connection, "T2", "U1", LIMITS)
    finally:
        engine.dispose()

    assert (records.active_count, records.inactive_count) == (6, 24)
    assert [s.title for s in records.active] == [
        f"Session {n}: delegating the weekly report" for n in (1, 2, 3)
    ]
    assert records.inactive[0].title.startswith("Session 7:")
    assert all(s.is_active for s in records.active) and not any(s.is_active for s in records.inactive)
    updated = [s.updated_at for s in records.active]
    assert updated == sorted(updated, reverse=True)
    assert len(records.memory.goals) == 4 and len(records.memory.commitments) == 4
    assert [f.name for f in records.files] == [f"notes-{n}.txt" for n in range(1, 6)]
    assert {f.team_id for f in records.files} == {"T1"} and records.checkins_on is True
    assert (other.active_count, other.inactive_count, len(other.files)) == (4, 0, 2)
    assert other.checkins_on is False
