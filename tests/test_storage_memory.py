"""The memory store: wrap-up claims, what a wrap-up keeps, the coach's own changes (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.conversations import ConversationStore, SessionKey
from storage.memory import MemoryStore
from storage.memory_records import Coach, ExtractedCommitment, Extraction, MemoryKind, WrapTarget
from storage.models import CommitmentStatus, coaching_sessions, utcnow

ADA = Coach("T1", "U1")


@pytest.fixture
async def memory(engine: AsyncEngine, store: ConversationStore) -> AsyncIterator[MemoryStore]:
    yield MemoryStore(engine, sqlite_writer=store.sqlite_writer)


async def _session(
    store: ConversationStore, thread_ts: str = "1700000000.000100", user: str = "U1"
) -> WrapTarget:
    recorded = await store.record_user_message(
        SessionKey("T1", "D1", thread_ts),
        user_id=user,
        slack_ts=thread_ts,
        text="My goal is to delegate more.",
        event_id=None,
        start_session=True,
    )
    assert recorded is not None and not hasattr(recorded, "coach_id")
    return WrapTarget(recorded.session_id, "T1", user, "D1", thread_ts, True)  # type: ignore[union-attr]


EXTRACTION = Extraction(
    summary="Ada wants to delegate the weekly report.",
    goals=("Delegate more",),
    commitments=(ExtractedCommitment("I'll hand the report to Sam by Friday", date(2026, 12, 4), "open"),),
    remember=("Ada prefers short answers",),
)


async def test_a_wrap_up_ends_the_session_and_keeps_what_was_extracted(
    memory: MemoryStore, store: ConversationStore, engine: AsyncEngine
) -> None:
    target = await _session(store)

    summary_id = await memory.claim_wrap_up(target)
    assert summary_id is not None
    saved = await memory.save_extraction(summary_id, target, EXTRACTION)

    async with engine.connect() as conn:
        active = (
            await conn.execute(
                select(coaching_sessions.c.is_active).where(coaching_sessions.c.id == target.session_id)
            )
        ).scalar_one()
    assert active is False
    loaded = await memory.load(ADA)
    assert loaded.enabled
    assert [g.text for g in loaded.goals] == ["Delegate more"]
    assert [(c.text, c.due_date, c.status) for c in loaded.commitments] == [
        ("I'll hand the report to Sam by Friday", date(2026, 12, 4), "open")
    ]
    assert [c.id for c in loaded.commitments] == [c.id for c in saved.commitments]
    assert [s.text for s in loaded.summaries] == ["Ada wants to delegate the weekly report."]
    assert [r.text for r in loaded.remembered] == ["Ada prefers short answers"]


async def test_a_session_is_wrapped_up_once_however_many_try(
    memory: MemoryStore, store: ConversationStore
) -> None:
    target = await _session(store)

    claims = await asyncio.gather(*(memory.claim_wrap_up(target) for _ in range(5)))

    assert len([c for c in claims if c is not None]) == 1


async def test_a_failed_wrap_up_may_be_tried_again(memory: MemoryStore, store: ConversationStore) -> None:
    target = await _session(store)
    first = await memory.claim_wrap_up(target)
    assert first is not None
    await memory.fail_wrap_up(first)

    assert await memory.claim_wrap_up(target) == first
    assert await memory.claim_wrap_up(target) is None


async def test_the_context_holds_only_the_last_three_summaries_newest_first(
    memory: MemoryStore, store: ConversationStore
) -> None:
    for n in range(5):
        target = await _session(store, thread_ts=f"170000000{n}.000100")
        summary_id = await memory.claim_wrap_up(target)
        assert summary_id is not None
        await memory.save_extraction(summary_id, target, Extraction(summary=f"Session {n}"))

    loaded = await memory.load(ADA)

    assert [s.text for s in loaded.summaries] == ["Session 4", "Session 3", "Session 2"]


async def test_a_coach_sees_and_changes_only_their_own_memory(
    memory: MemoryStore, store: ConversationStore
) -> None:
    target = await _session(store)
    summary_id = await memory.claim_wrap_up(target)
    assert summary_id is not None
    saved = await memory.save_extraction(summary_id, target, EXTRACTION)
    commitment = saved.commitments[0].id
    someone_else = Coach("T1", "U2")
    other_workspace = Coach("T2", "U1")

    assert (await memory.load(someone_else)).empty
    assert await memory.set_commitment_status(someone_else, commitment, CommitmentStatus.DONE) is False
    assert await memory.delete_item(other_workspace, MemoryKind.COMMITMENT, commitment) is False
    assert await memory.item(someone_else, MemoryKind.COMMITMENT, commitment) is None

    assert await memory.set_commitment_status(ADA, commitment, CommitmentStatus.DONE) is True
    assert (await memory.load(ADA)).commitments == ()


async def test_edits_deletions_and_forgetting(memory: MemoryStore, store: ConversationStore) -> None:
    target = await _session(store)
    summary_id = await memory.claim_wrap_up(target)
    assert summary_id is not None
    await memory.save_extraction(summary_id, target, EXTRACTION)
    goal = (await memory.load(ADA)).goals[0]

    assert await memory.update_text(ADA, MemoryKind.GOAL, goal.id, "Delegate the report") is True
    assert [g.text for g in (await memory.load(ADA)).goals] == ["Delegate the report"]
    assert await memory.delete_item(ADA, MemoryKind.SUMMARY, summary_id) is True
    assert (await memory.load(ADA)).summaries == ()

    assert await memory.forget(ADA) == 3  # the goal, the commitment, the remembered item
    assert (await memory.load(ADA)).empty
    assert await memory.claim_wrap_up(target) is None  # a forgotten session is not summarised again


async def test_memory_can_be_turned_off_and_on(memory: MemoryStore) -> None:
    assert (await memory.load(ADA)).enabled is True

    await memory.set_enabled(ADA, False)
    assert (await memory.load(ADA)).enabled is False
    await memory.set_enabled(ADA, True)
    assert (await memory.load(ADA)).enabled is True


async def test_idle_sessions_are_found_once_answered(
    memory: MemoryStore, store: ConversationStore, engine: AsyncEngine
) -> None:
    target = await _session(store)

    assert await memory.idle_sessions(utcnow() - timedelta(hours=1), limit=10) == []
    # The coach's message is still owed a reply: not idle, whatever the clock says.
    assert await memory.idle_sessions(utcnow() + timedelta(hours=1), limit=10) == []
    async with engine.begin() as conn:  # as the reply's write does
        s = coaching_sessions
        await conn.execute(update(s).where(s.c.id == target.session_id).values(answered_seq=s.c.coach_seq))
    assert await memory.idle_sessions(utcnow() + timedelta(hours=1), limit=10) == [target.session_id]
