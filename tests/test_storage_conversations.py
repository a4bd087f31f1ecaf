"""How a coaching turn's data is stored: sessions per thread, deduplication, history.

Every test runs on SQLite and on PostgreSQL, each on a fresh migrated database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.caches import CountingTTLCache
from storage.conversations import ConversationStore, HistoryMessage, RecordedMessage, SessionKey
from storage.engine import create_db_engine
from storage.models import TITLE_LENGTH, chat_messages, coaching_sessions, processed_events

THREAD = SessionKey(team_id="T1", channel_id="C1", thread_ts="1700000000.000100")
OTHER_THREAD = SessionKey(team_id="T1", channel_id="C1", thread_ts="1700000000.000200")


async def start(store: ConversationStore, key: SessionKey = THREAD, **overrides: object) -> RecordedMessage:
    """Open a session with a first message (asserting it was recorded)."""
    args: dict = {
        "user_id": "U1",
        "slack_ts": key.thread_ts,
        "text": "I want to get better at giving feedback",
        "event_id": f"Ev-{key.thread_ts}",
        "start_session": True,
        "title": "Giving feedback",
    }
    args.update(overrides)
    recorded = await store.record_user_message(key, **args)
    assert recorded is not None
    return recorded


async def count(engine: AsyncEngine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def session_row(engine: AsyncEngine, session_id: int):
    async with engine.connect() as conn:
        result = await conn.execute(select(coaching_sessions).where(coaching_sessions.c.id == session_id))
        return result.one()


async def test_first_message_in_a_thread_creates_a_session(store: ConversationStore, engine: AsyncEngine):
    before = datetime.now(UTC)

    recorded = await start(store)

    assert recorded.is_new_session
    assert await store.find_session_id(THREAD) == recorded.session_id
    row = await session_row(engine, recorded.session_id)
    assert (row.team_id, row.channel_id, row.thread_ts) == ("T1", "C1", THREAD.thread_ts)
    assert (row.user_id, row.is_active, row.title) == ("U1", True, "Giving feedback")
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= row.created_at <= datetime.now(UTC)
    assert await store.load_history(recorded.session_id) == [
        HistoryMessage("user", "I want to get better at giving feedback")
    ]


async def test_follow_up_in_the_thread_joins_the_same_session(store: ConversationStore, engine: AsyncEngine):
    first = await start(store)
    opened = await session_row(engine, first.session_id)

    follow_up = await store.record_user_message(
        THREAD, user_id="U1", slack_ts="1700000000.000300", text="How?", event_id="Ev2", start_session=False
    )

    assert follow_up is not None
    assert (follow_up.session_id, follow_up.is_new_session, follow_up.coach_seq) == (
        first.session_id,
        False,
        2,
    )
    assert follow_up.message_id != first.message_id
    assert (await session_row(engine, first.session_id)).updated_at > opened.updated_at
    assert [m.text for m in await store.load_history(first.session_id)] == [
        "I want to get better at giving feedback",
        "How?",
    ]


async def test_another_replica_finds_the_session_in_the_database(
    store: ConversationStore, engine: AsyncEngine
):
    first = await start(store)
    other_replica = ConversationStore(engine)

    follow_up = await other_replica.record_user_message(
        THREAD, user_id="U2", slack_ts="1700000000.000300", text="Me too", event_id="Ev2", start_session=False
    )

    assert follow_up is not None and follow_up.session_id == first.session_id
    assert other_replica.session_cache.get(THREAD) == first.session_id


async def test_message_in_an_unknown_thread_is_not_stored_when_not_starting_a_session(
    store: ConversationStore, engine: AsyncEngine
):
    recorded = await store.record_user_message(
        THREAD, user_id="U1", slack_ts=THREAD.thread_ts, text="hello", event_id="Ev1", start_session=False
    )

    assert recorded is None
    assert await store.find_session_id(THREAD) is None
    for table in (coaching_sessions, chat_messages, processed_events):
        assert await count(engine, table) == 0, table.name


async def test_a_thread_found_absent_is_not_cached_as_absent(store: ConversationStore, engine: AsyncEngine):
    assert await store.find_session_id(THREAD) is None

    created = await start(ConversationStore(engine))  # e.g. by another replica

    assert await store.find_session_id(THREAD) == created.session_id


async def test_the_session_lookup_is_served_from_the_cache_after_the_first_time(store: ConversationStore):
    created = await start(store)
    store.session_cache.clear()
    before = store.session_cache.stats()

    assert await store.find_session_id(THREAD) == created.session_id
    assert await store.find_session_id(THREAD) == created.session_id

    after = store.session_cache.stats()
    assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (1, 1)
    assert after["entries"] == 1


async def test_repeated_event_id_is_recorded_once(store: ConversationStore, engine: AsyncEngine):
    first = await start(store, event_id="Ev1")

    again = await store.record_user_message(
        THREAD, user_id="U1", slack_ts="1700000000.000300", text="retry", event_id="Ev1", start_session=True
    )

    assert again is None
    assert await count(engine, chat_messages) == 1
    assert [m.text for m in await store.load_history(first.session_id)] == [
        "I want to get better at giving feedback"
    ]


async def test_concurrent_redeliveries_of_one_event_are_recorded_once(database_url: str, engine: AsyncEngine):
    second_engine = create_db_engine(database_url)
    try:
        replicas = [ConversationStore(engine), ConversationStore(second_engine)]
        results = await asyncio.gather(
            *(
                replica.record_user_message(
                    THREAD,
                    user_id="U1",
                    slack_ts=THREAD.thread_ts,
                    text="hi",
                    event_id="Ev1",
                    start_session=True,
                )
                for replica in replicas
            )
        )
    finally:
        await second_engine.dispose()

    assert sum(result is not None for result in results) == 1
    assert await count(engine, chat_messages) == 1
    assert await count(engine, coaching_sessions) == 1


async def test_event_ids_are_scoped_to_their_team(store: ConversationStore):
    await start(store, event_id="Ev1")
    elsewhere = SessionKey(team_id="T2", channel_id="C1", thread_ts=THREAD.thread_ts)

    other_team = await store.record_user_message(
        elsewhere, user_id="U9", slack_ts=THREAD.thread_ts, text="hi", event_id="Ev1", start_session=True
    )

    assert other_team is not None and other_team.is_new_session


async def test_same_slack_message_under_two_event_ids_is_recorded_once(
    store: ConversationStore, engine: AsyncEngine
):
    # Slack delivers a mention as both app_mention and message, each with its own event id.
    first = await start(store, event_id="Ev-app-mention")

    as_message = await store.record_user_message(
        THREAD,
        user_id="U1",
        slack_ts=THREAD.thread_ts,
        text="I want to get better at giving feedback",
        event_id="Ev-message",
        start_session=False,
    )

    assert as_message is None
    assert await count(engine, chat_messages) == 1
    assert len(await store.load_history(first.session_id)) == 1


async def test_messages_without_event_id_are_deduplicated_by_slack_ts(store: ConversationStore):
    first = await start(store, event_id=None)

    again = await store.record_user_message(
        THREAD, user_id="U1", slack_ts=THREAD.thread_ts, text="same", event_id=None, start_session=True
    )

    assert again is None
    assert len(await store.load_history(first.session_id)) == 1


async def test_history_is_the_newest_messages_oldest_first_led_by_the_opening(store: ConversationStore):
    session_id = (await start(store, text="turn 0")).session_id
    for turn in range(1, 8):
        if turn % 2:
            await store.record_assistant_message(
                session_id, slack_ts=f"1700000001.{turn:06d}", text=f"turn {turn}"
            )
        else:
            await store.record_user_message(
                THREAD,
                user_id="U1",
                slack_ts=f"1700000001.{turn:06d}",
                text=f"turn {turn}",
                event_id=f"Ev{turn}",
                start_session=False,
            )

    history = await store.load_history(session_id, limit=5)

    assert history == [
        HistoryMessage("user", "turn 0"),  # the session's opening: what it is for
        HistoryMessage("assistant", "turn 3"),
        HistoryMessage("user", "turn 4"),
        HistoryMessage("assistant", "turn 5"),
        HistoryMessage("user", "turn 6"),
        HistoryMessage("assistant", "turn 7"),
    ]
    assert len(await store.load_history(session_id)) == 8
    assert await store.load_history(session_id, limit=0) == []


async def test_messages_stored_at_the_same_instant_keep_their_insertion_order(
    store: ConversationStore, engine: AsyncEngine
):
    session_id = (await start(store, text="first")).session_id
    same_instant = datetime(2030, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        for text in ("a", "b", "c"):
            await conn.execute(
                insert(chat_messages).values(
                    session_id=session_id, message_type="user", text=text, timestamp=same_instant
                )
            )

    assert [m.text for m in await store.load_history(session_id, limit=2)] == ["first", "b", "c"]


async def test_history_of_one_session_never_includes_another(store: ConversationStore):
    mine = await start(store, text="mine")
    theirs = await start(store, OTHER_THREAD, text="theirs", user_id="U2")
    await store.record_assistant_message(
        theirs.session_id, slack_ts="1700000002.000001", text="reply to them"
    )

    assert mine.session_id != theirs.session_id
    assert await store.load_history(mine.session_id) == [HistoryMessage("user", "mine")]
    assert [m.text for m in await store.load_history(theirs.session_id)] == ["theirs", "reply to them"]
    assert await store.load_history(mine.session_id + theirs.session_id + 1000) == []


async def test_assistant_reply_is_stored_with_latency_and_tokens(
    store: ConversationStore, engine: AsyncEngine
):
    session_id = (await start(store)).session_id

    message_id = await store.record_assistant_message(
        session_id,
        slack_ts="1700000000.000400",
        text="Try the SBI model.",
        prompt_tokens=120,
        completion_tokens=45,
        latency_ms=830,
    )

    async with engine.connect() as conn:
        row = (await conn.execute(select(chat_messages).where(chat_messages.c.id == message_id))).one()
    assert (row.session_id, row.message_type, row.slack_ts, row.text) == (
        session_id,
        "assistant",
        "1700000000.000400",
        "Try the SBI model.",
    )
    assert (row.prompt_tokens, row.completion_tokens, row.latency_ms) == (120, 45, 830)
    assert row.timestamp.utcoffset() == timedelta(0)


async def test_recording_the_same_posted_reply_twice_keeps_one(store: ConversationStore, engine: AsyncEngine):
    session_id = (await start(store)).session_id

    first = await store.record_assistant_message(session_id, slack_ts="1700000000.000400", text="reply")
    second = await store.record_assistant_message(session_id, slack_ts="1700000000.000400", text="reply")

    assert first == second
    assert await count(engine, chat_messages) == 2


async def test_system_notes_are_part_of_the_history(store: ConversationStore):
    session_id = (await start(store, text="question")).session_id

    await store.record_assistant_message(session_id, slack_ts=None, text="partial answer")
    await store.record_system_message(session_id, "The reply failed: the model timed out.")

    assert await store.load_history(session_id) == [
        HistoryMessage("user", "question"),
        HistoryMessage("assistant", "partial answer"),
        HistoryMessage("system", "The reply failed: the model timed out."),
    ]


async def test_concurrent_first_messages_in_one_thread_create_one_session(
    database_url: str, engine: AsyncEngine
):
    # Two replicas (own engines, own caches) receive the first messages of the same threads at once.
    second_engine = create_db_engine(database_url)
    threads = [SessionKey("T1", "C1", f"1700000100.{n:06d}") for n in range(5)]
    try:
        replicas = [ConversationStore(engine), ConversationStore(second_engine)]
        results = await asyncio.gather(
            *(
                replica.record_user_message(
                    key,
                    user_id="U1",
                    slack_ts=f"{key.thread_ts}{r}",
                    text=f"replica {r}",
                    event_id=f"Ev-{key.thread_ts}-{r}",
                    start_session=True,
                )
                for key in threads
                for r, replica in enumerate(replicas)
            )
        )
    finally:
        await second_engine.dispose()

    assert all(result is not None for result in results)
    for index in range(len(threads)):
        pair = [r for r in results[2 * index : 2 * index + 2] if r is not None]
        assert len({r.session_id for r in pair}) == 1
        assert sorted(r.is_new_session for r in pair) == [False, True]
    assert await count(engine, coaching_sessions) == len(threads)
    assert await count(engine, chat_messages) == 2 * len(threads)


async def test_concurrent_follow_ups_in_one_session_are_all_stored(store: ConversationStore):
    session_id = (await start(store)).session_id

    results = await asyncio.gather(
        *(
            store.record_user_message(
                THREAD,
                user_id="U1",
                slack_ts=f"1700000200.{n:06d}",
                text=f"follow-up {n}",
                event_id=f"Ev-f{n}",
                start_session=False,
            )
            for n in range(10)
        )
    )

    assert {r.session_id for r in results if r is not None} == {session_id}
    assert len(await store.load_history(session_id)) == 11


async def test_deleting_a_session_deletes_its_messages(store: ConversationStore, engine: AsyncEngine):
    session_id = (await start(store)).session_id
    await store.record_assistant_message(session_id, slack_ts=None, text="reply")

    async with engine.begin() as conn:
        await conn.execute(delete(coaching_sessions).where(coaching_sessions.c.id == session_id))

    assert await count(engine, chat_messages) == 0


async def test_a_cached_session_that_was_deleted_is_not_written_to(
    store: ConversationStore, engine: AsyncEngine
):
    session_id = (await start(store)).session_id
    async with engine.begin() as conn:  # e.g. a retention purge on another replica
        await conn.execute(delete(coaching_sessions).where(coaching_sessions.c.id == session_id))

    follow_up = await store.record_user_message(
        THREAD,
        user_id="U1",
        slack_ts="1700000000.000300",
        text="still there?",
        event_id="Ev2",
        start_session=False,
    )
    restarted = await store.record_user_message(
        THREAD, user_id="U1", slack_ts="1700000000.000400", text="hello?", event_id="Ev3", start_session=True
    )

    assert follow_up is None
    assert restarted is not None and restarted.is_new_session and restarted.session_id != session_id
    assert await store.find_session_id(THREAD) == restarted.session_id


async def test_a_cached_id_that_now_names_another_thread_is_not_trusted(store: ConversationStore):
    mine = await start(store)
    theirs = await start(store, OTHER_THREAD, user_id="U2")
    store.session_cache.set(THREAD, theirs.session_id)  # as if the id had been reused

    follow_up = await store.record_user_message(
        THREAD, user_id="U1", slack_ts="1700000000.000300", text="mine", event_id="Ev2", start_session=False
    )

    assert follow_up is not None and follow_up.session_id == mine.session_id
    assert [m.text for m in await store.load_history(theirs.session_id)] == [
        "I want to get better at giving feedback"
    ]


async def test_a_long_title_is_cut_to_fit(store: ConversationStore, engine: AsyncEngine):
    session_id = (await start(store, title="x" * 1000)).session_id

    assert (await session_row(engine, session_id)).title == "x" * TITLE_LENGTH


async def test_the_title_is_only_set_when_the_session_is_created(
    store: ConversationStore, engine: AsyncEngine
):
    session_id = (await start(store, title="First title")).session_id
    opened = await session_row(engine, session_id)

    # Another replica (nothing cached) sees the coach mention the bot in the same thread.
    again = await ConversationStore(engine).record_user_message(
        THREAD,
        user_id="U1",
        slack_ts="1700000000.000300",
        text="again",
        event_id="Ev2",
        start_session=True,
        title="Second title",
    )

    assert again is not None
    assert (again.session_id, again.is_new_session) == (session_id, False)
    row = await session_row(engine, session_id)
    assert (row.title, row.user_id) == ("First title", "U1")
    assert row.updated_at > opened.updated_at


async def test_a_shared_cache_can_be_passed_in(engine: AsyncEngine):
    cache: CountingTTLCache[SessionKey, int] = CountingTTLCache(100, 5.0, name="sessions")
    store = ConversationStore(engine, session_cache=cache)

    created = await start(store)

    assert store.session_cache is cache
    assert cache.get(THREAD) == created.session_id


async def test_recording_can_return_the_history_read_in_the_same_transaction(
    store: ConversationStore,
) -> None:
    first = await start(store, history_limit=50)
    assert first.history == (HistoryMessage("user", "I want to get better at giving feedback"),)
    await store.record_assistant_message(first.session_id, slack_ts="1700000000.000150", text="Tell me more.")

    follow_up = await store.record_user_message(
        THREAD,
        user_id="U1",
        slack_ts="1700000000.000300",
        text="My feedback lands badly",
        event_id="Ev-follow-up",
        start_session=True,
        history_limit=2,
    )

    assert follow_up is not None
    assert follow_up.history == (
        HistoryMessage("user", "I want to get better at giving feedback"),  # the opening
        HistoryMessage("assistant", "Tell me more."),
        HistoryMessage("user", "My feedback lands badly"),
    )
    assert list(follow_up.history) == await store.load_history(first.session_id, limit=2)


async def test_the_history_returned_with_a_message_is_in_time_order_even_when_a_reply_is_stamped_later(
    store: ConversationStore, engine: AsyncEngine
) -> None:
    first = await start(store)
    # Another replica's clock runs ahead: its reply is stamped after the next coach message.
    async with engine.begin() as conn:
        await conn.execute(
            insert(chat_messages).values(
                session_id=first.session_id,
                message_type="assistant",
                slack_ts="1700000000.000150",
                text="from the future",
                timestamp=datetime.now(UTC) + timedelta(minutes=5),
            )
        )

    follow_up = await store.record_user_message(
        THREAD,
        user_id="U1",
        slack_ts="1700000000.000300",
        text="now",
        event_id="Ev2",
        start_session=False,
        history_limit=2,
    )

    assert follow_up is not None
    assert [m.text for m in follow_up.history] == [
        "I want to get better at giving feedback",
        "now",
        "from the future",
    ]
    assert list(follow_up.history) == await store.load_history(first.session_id, limit=2)


async def test_a_long_sessions_history_is_led_by_its_opening_once(store: ConversationStore) -> None:
    first = await start(store, text="My goal: lead the Q3 planning")
    for n in range(1, 400):
        if n % 2:
            await store.record_assistant_message(
                first.session_id, slack_ts=f"1700000001.{n:06d}", text=f"r{n}"
            )
        else:
            await store.record_user_message(
                THREAD,
                user_id="U1",
                slack_ts=f"1700000001.{n:06d}",
                text=f"m{n}",
                event_id=None,
                start_session=False,
            )

    latest = await store.record_user_message(
        THREAD,
        user_id="U1",
        slack_ts="1700000002.000000",
        text="so?",
        event_id="Ev-last",
        start_session=False,
        history_limit=50,
    )

    assert latest is not None
    assert [m.text for m in latest.history][:2] == ["My goal: lead the Q3 planning", "r351"]
    assert len(latest.history) == 51 and latest.history[-1] == HistoryMessage("user", "so?")
    assert list(latest.history) == await store.load_history(first.session_id, limit=50)
    # A short session's opening is among the newest messages already: it comes once.
    assert [m.text for m in await store.load_history(first.session_id, limit=1000)].count(
        "My goal: lead the Q3 planning"
    ) == 1


async def test_a_redelivered_follow_up_changes_nothing(store: ConversationStore, engine: AsyncEngine) -> None:
    first = await start(store)
    args = {"user_id": "U1", "slack_ts": "1700000000.000300", "text": "How?", "event_id": "Ev2"}
    stored = await store.record_user_message(THREAD, start_session=False, history_limit=50, **args)
    touched = (await session_row(engine, first.session_id)).updated_at

    again = await store.record_user_message(THREAD, start_session=False, history_limit=50, **args)

    assert stored is not None and [m.text for m in stored.history][-1] == "How?"
    assert again is None
    assert await count(engine, chat_messages) == 2
    assert (await session_row(engine, first.session_id)).updated_at == touched


@pytest.mark.postgres
async def test_on_postgresql_a_coach_message_and_its_history_take_one_statement(
    postgresql_database_url: str,
) -> None:
    engine = create_db_engine(postgresql_database_url)
    store = ConversationStore(engine)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        first = await start(store, history_limit=50)
        opened = len(statements)
        follow_up = await store.record_user_message(
            THREAD,
            user_id="U1",
            slack_ts="1700000000.000300",
            text="How?",
            event_id="Ev2",
            start_session=False,
            history_limit=50,
        )
    finally:
        await engine.dispose()

    assert (opened, len(statements) - opened) == (1, 1)
    assert first.is_new_session
    assert follow_up is not None and not follow_up.is_new_session
    assert [m.text for m in follow_up.history] == ["I want to get better at giving feedback", "How?"]
