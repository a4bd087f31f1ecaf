"""Delivery claims older than Slack's retry window are pruned daily; recent ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from jobs.database import create_jobs_engine
from jobs.event_ledger import prune_ledgers, prune_processed_events
from storage.models import coach_erasures, processed_events

NOW = datetime(2026, 11, 30, 3, 45, tzinfo=UTC)


def test_claims_older_than_a_week_are_pruned_and_recent_ones_kept(database_url: str) -> None:
    engine = create_jobs_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(processed_events),
                [
                    {"team_id": "T1", "event_id": f"Ev{age}", "received_at": NOW - timedelta(days=age)}
                    for age in (0, 1, 6, 8, 30)
                ],
            )

        assert prune_processed_events(engine, now=NOW) == 2

        with engine.connect() as connection:
            kept = connection.execute(select(processed_events.c.event_id).order_by(processed_events.c.id))
            assert [row[0] for row in kept] == ["Ev0", "Ev1", "Ev6"]
    finally:
        engine.dispose()


def test_an_erasure_record_goes_once_the_week_in_which_a_delivery_could_still_come_has_passed(
    database_url: str,
) -> None:
    engine = create_jobs_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(coach_erasures),
                [
                    {"team_id": "T1", "user_id": f"U{age}", "erased_at": NOW - timedelta(days=age)}
                    for age in (1, 8)
                ],
            )

        assert prune_ledgers(engine, now=NOW) == 1

        with engine.connect() as connection:
            assert connection.execute(select(coach_erasures.c.user_id)).scalars().all() == ["U1"]
    finally:
        engine.dispose()


def test_pruning_goes_in_batches_until_nothing_old_is_left(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobs.event_ledger.BATCH_ROWS", 3)
    engine = create_jobs_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(processed_events),
                [
                    {"team_id": "T1", "event_id": f"Ev{n}", "received_at": NOW - timedelta(days=10)}
                    for n in range(7)
                ],
            )

        assert prune_processed_events(engine, now=NOW) == 7

        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(processed_events)).scalar_one() == 0
    finally:
        engine.dispose()


def test_the_app_schedules_the_prune_daily(settings: Settings) -> None:
    with BackgroundServer(settings) as server:
        jobs = {job["id"] for job in server.runtime.scheduler.status()}
    assert "event_ledger_prune" in jobs
