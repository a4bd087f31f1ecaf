"""The erasure in storage: a second delete moves the erasure time on, and a check-in whose
commitment was erased while its DM was being sent is not recorded (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, func, select

from storage.checkins import DueCheckin, record_sent
from storage.engine import sync_url
from storage.erasures import erase_rows, record_erasure
from storage.memory_records import Coach
from storage.models import checkins, coach_commitments, coach_erasures

COACH = Coach("T0TEAM", "U0COACH")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_check_in_sent_while_the_coach_erased_their_data_is_not_recorded(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            commitment_id = connection.execute(
                coach_commitments.insert()
                .values(team_id=COACH.team_id, user_id=COACH.user_id, text="Call Sam", status="open")
                .returning(coach_commitments.c.id)
            ).scalar_one()
        due = DueCheckin(commitment_id, 1, COACH.team_id, COACH.user_id, "Call Sam", None, None)
        with engine.connect() as connection:
            erased = erase_rows(connection, COACH)
        assert erased.count("coach_commitments") == 1

        with engine.connect() as connection:
            recorded = record_sent(connection, due, channel_id="D0COACH", message_ts="1.000001", now=NOW)

        assert recorded is None
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(checkins)).scalar_one() == 0
    finally:
        engine.dispose()


def test_a_second_delete_moves_the_erasure_time_on(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        for at in (NOW, NOW + timedelta(days=3)):
            with engine.connect() as connection:
                record_erasure(connection, COACH, at)
        with engine.connect() as connection:
            rows = connection.execute(select(coach_erasures.c.user_id, coach_erasures.c.erased_at)).all()
        assert [(user, at.astimezone(UTC)) for user, at in rows] == [("U0COACH", NOW + timedelta(days=3))]
    finally:
        engine.dispose()
