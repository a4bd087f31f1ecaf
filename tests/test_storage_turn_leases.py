"""The owed-reply count and the per-session turn lease, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.conversations import Bystander, ConversationStore, RecordedMessage, SessionKey
from storage.engine import create_db_engine
from storage.models import coaching_sessions
from storage.turn_leases import ReplyToStore, TurnLeaseStore

THREAD = SessionKey("T1", "D1", "1700000000.000100")


async def say(
    store: ConversationStore, n: int, *, owner: str | None, key: SessionKey = THREAD, user: str = "U1"
) -> RecordedMessage | Bystander | None:
    return await store.record_user_message(
        key,
        user_id=user,
        slack_ts=f"1700000000.{100 + 100 * n:06d}" if n else key.thread_ts,
        text=f"message {n}",
        event_id=f"Ev{key.thread_ts}-{n}-{user}",
        start_session=True,
        history_limit=50,
        lease_owner=owner,
        lease_seconds=30,
    )


async def session_row(engine: AsyncEngine, session_id: int):
    async with engine.connect() as conn:
        return (
            await conn.execute(select(coaching_sessions).where(coaching_sessions.c.id == session_id))
        ).one()


async def test_the_first_message_takes_the_lease_and_one_arriving_meanwhile_waits_for_it(
    store: ConversationStore, engine: AsyncEngine
) -> None:
    leases = TurnLeaseStore(store)
    first = await say(store, 0, owner="turn-a")
    second = await say(store, 1, owner="turn-b")

    assert isinstance(first, RecordedMessage) and isinstance(second, RecordedMessage)
    assert (first.leased, first.coach_seq) == (True, 1)
    assert (second.leased, second.coach_seq) == (False, 2), "stored and owed, answered by turn-a"

    done = await leases.finish(
        first.session_id,
        "turn-a",
        covered_seq=1,
        reply=ReplyToStore("reply 1", "1700000000.000150"),
        keep=True,
    )
    assert (done.more_owed, done.lease_kept) == (True, True)
    owed = await leases.owed_history(first.session_id, limit=50)
    assert owed.coach_seq == 2
    assert [(m.role, m.text) for m in owed.history] == [
        ("user", "message 0"),
        ("assistant", "reply 1"),
        ("user", "message 1"),
    ]
    done = await leases.finish(
        first.session_id, "turn-a", covered_seq=2, reply=ReplyToStore("reply 2"), keep=True
    )
    assert (done.more_owed, done.lease_kept) == (False, False)
    row = await session_row(engine, first.session_id)
    assert (row.coach_seq, row.answered_seq, row.lease_owner, row.lease_expires_at) == (2, 2, None, None)


async def test_a_live_lease_is_never_taken_over_and_an_abandoned_one_is_once(
    store: ConversationStore, engine: AsyncEngine, database_url: str
) -> None:
    leases = TurnLeaseStore(store)
    live = await say(store, 0, owner="alive")
    dead = await say(store, 0, owner="dead", key=SessionKey("T1", "D2", "1700000001.000100"))
    handed_back = await say(store, 0, owner="stopping", key=SessionKey("T1", "D3", "1700000002.000100"))
    assert isinstance(live, RecordedMessage) and isinstance(dead, RecordedMessage)
    assert isinstance(handed_back, RecordedMessage)
    await leases.renew(dead.session_id, "dead", seconds=-1, stream_ts="1700000001.000200")  # it died
    await leases.release(handed_back.session_id, "stopping")

    # Two replicas sweep at the same moment.
    other_engine = create_db_engine(database_url)
    try:
        other_store = ConversationStore(other_engine)
        other = TurnLeaseStore(other_store)
        found = await asyncio.gather(
            leases.take_over_abandoned("r1:", seconds=30), other.take_over_abandoned("r2:", seconds=30)
        )
        await other_store.close()
    finally:
        await other_engine.dispose()

    taken = sorted((turn for sweep in found for turn in sweep), key=lambda turn: turn.session_id)
    assert [turn.session_id for turn in taken] == [dead.session_id, handed_back.session_id]
    assert taken[0].stale_stream_ts == "1700000001.000200", "the dead turn's stream, to close"
    assert taken[0].lease_owner.endswith(str(dead.session_id))
    assert (await session_row(engine, live.session_id)).lease_owner == "alive"
    assert not await leases.renew(dead.session_id, "dead", seconds=30, stream_ts=None), (
        "the dead turn lost it"
    )


async def test_a_message_in_a_session_whose_turn_died_takes_the_lease_over_itself(
    store: ConversationStore, engine: AsyncEngine
) -> None:
    leases = TurnLeaseStore(store)
    first = await say(store, 0, owner="dead")
    assert isinstance(first, RecordedMessage)
    await leases.renew(first.session_id, "dead", seconds=-1, stream_ts="1700000000.000150")

    again = await say(store, 1, owner="fresh")

    assert isinstance(again, RecordedMessage)
    assert again.leased and again.takes_over
    assert again.stale_stream_ts == "1700000000.000150"
    assert [m.text for m in again.history] == ["message 0", "message 1"], "both are answered together"


async def test_shutting_down_hands_messages_that_arrived_meanwhile_back(
    store: ConversationStore, engine: AsyncEngine
) -> None:
    leases = TurnLeaseStore(store)
    first = await say(store, 0, owner="turn-a")
    assert isinstance(first, RecordedMessage)
    await say(store, 1, owner=None)  # arrived while shutting down: stored and owed only

    done = await leases.finish(
        first.session_id, "turn-a", covered_seq=1, reply=ReplyToStore("reply"), keep=False
    )

    assert (done.more_owed, done.lease_kept) == (False, False)
    row = await session_row(engine, first.session_id)
    assert (row.coach_seq, row.answered_seq, row.lease_owner) == (2, 1, None)
    assert [turn.session_id for turn in await leases.take_over_abandoned("r:", seconds=30)] == [
        first.session_id
    ]


async def test_someone_else_in_the_coachs_thread_stores_nothing_and_is_noted_once(
    store: ConversationStore, engine: AsyncEngine
) -> None:
    leases = TurnLeaseStore(store)
    first = await say(store, 0, owner="turn-a")
    assert isinstance(first, RecordedMessage)

    peer = await say(store, 1, owner="turn-b", user="U2")

    assert peer == Bystander(session_id=first.session_id, coach_id="U1")
    row = await session_row(engine, first.session_id)
    assert (row.coach_seq, row.lease_owner) == (1, "turn-a")
    assert (await leases.owed_history(first.session_id, limit=50)).coach_seq == 1
    assert [await leases.note_bystander(first.session_id, "U2") for _ in range(2)] == [True, False]
