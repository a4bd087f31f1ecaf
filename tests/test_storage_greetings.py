"""The greeting ledger: one greeting per coach who has not coached here, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.database import create_jobs_engine
from jobs.event_ledger import prune_processed_events
from storage.conversations import ConversationStore, SessionKey
from storage.greetings import GreetingLedger


@pytest.fixture
async def ledger(engine: AsyncEngine, store: ConversationStore) -> AsyncIterator[GreetingLedger]:
    yield GreetingLedger(engine, sqlite_writer=store.sqlite_writer)


async def test_a_new_coach_is_greeted_once(ledger: GreetingLedger) -> None:
    assert await ledger.claim_first_greeting("T1", "U1") is True
    assert await ledger.claim_first_greeting("T1", "U1") is False


async def test_coaches_and_workspaces_are_greeted_apart(ledger: GreetingLedger) -> None:
    assert await ledger.claim_first_greeting("T1", "U1") is True
    assert await ledger.claim_first_greeting("T1", "U2") is True
    assert await ledger.claim_first_greeting("T2", "U1") is True


async def test_a_coach_with_a_session_is_not_greeted(
    ledger: GreetingLedger, store: ConversationStore
) -> None:
    await store.record_user_message(
        SessionKey("T1", "D1", "1700000000.000100"),
        user_id="U1",
        slack_ts="1700000000.000100",
        text="hello",
        event_id=None,
        start_session=True,
    )

    assert await ledger.claim_first_greeting("T1", "U1") is False


async def test_many_claims_at_once_let_exactly_one_through(ledger: GreetingLedger) -> None:
    won = await asyncio.gather(*(ledger.claim_first_greeting("T1", "U1") for _ in range(10)))

    assert won.count(True) == 1


async def test_a_coach_who_never_wrote_is_welcomed_again_once_the_claim_is_pruned(
    ledger: GreetingLedger, database_url: str
) -> None:
    assert await ledger.claim_first_greeting("T1", "U1") is True
    jobs_engine = create_jobs_engine(database_url)
    try:
        assert prune_processed_events(jobs_engine, now=datetime.now(UTC) + timedelta(days=8)) == 1
    finally:
        jobs_engine.dispose()

    assert await ledger.claim_first_greeting("T1", "U1") is True
