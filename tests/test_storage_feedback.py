"""reply_feedback on SQLite and PostgreSQL: a reply is rateable only by its session's coach in their
workspace, a change of mind updates the one row, a note goes only on the coach's own thumbs-down,
and the rows go with their session.
"""

from __future__ import annotations

from sqlalchemy import func, select

from jobs.database import create_jobs_engine
from jobs.retention import purge_sessions
from storage.conversations import ConversationStore
from storage.feedback import FeedbackStore, RatedReply
from storage.memory_records import Coach
from storage.models import Rating, coaching_sessions, reply_feedback
from tests.test_storage_conversations import THREAD, start

COACH = Coach("T1", "U1")
REPLY_TS = "1700000000.000300"


async def a_rated_reply(store: ConversationStore) -> RatedReply:
    recorded = await start(store)
    await store.record_assistant_message(
        recorded.session_id,
        slack_ts="1700000000.000200",
        text="What would a good outcome look like?",
        reply_ts=REPLY_TS,  # a reply in two messages: the buttons are on the second
        model="gpt-test",
        prompt_version="v1",
    )
    reply = await FeedbackStore(store).reply_of(COACH, THREAD.channel_id, THREAD.thread_ts, REPLY_TS)
    assert reply is not None
    return reply


async def test_only_the_sessions_coach_in_their_workspace_finds_the_reply(store: ConversationStore) -> None:
    reply = await a_rated_reply(store)
    feedback = FeedbackStore(store)

    assert (reply.session_id, reply.model, reply.prompt_version) == (reply.session_id, "gpt-test", "v1")
    for coach, ts in (
        (Coach("T1", "U2"), REPLY_TS),  # another coach
        (Coach("T2", "U1"), REPLY_TS),  # the same user id in another workspace
        (COACH, "1700000000.000200"),  # the reply's first part carries no buttons
        (COACH, THREAD.thread_ts),  # the coach's own message
    ):
        assert await feedback.reply_of(coach, THREAD.channel_id, THREAD.thread_ts, ts) is None


async def test_the_thread_is_the_coachs_only_in_their_own_session_and_workspace(
    store: ConversationStore,
) -> None:
    await a_rated_reply(store)
    feedback = FeedbackStore(store)

    assert await feedback.is_coachs_thread(COACH, THREAD.channel_id, THREAD.thread_ts)
    for coach, thread_ts in (
        (Coach("T1", "U2"), THREAD.thread_ts),  # another coach
        (Coach("T2", "U1"), THREAD.thread_ts),  # the same user id in another workspace
        (COACH, "1700000099.000100"),  # a thread with no session of theirs
    ):
        assert not await feedback.is_coachs_thread(coach, THREAD.channel_id, thread_ts)


async def test_a_change_of_mind_updates_the_one_row_and_a_note_needs_the_coachs_thumbs_down(
    store: ConversationStore, database_url: str
) -> None:
    reply = await a_rated_reply(store)
    feedback = FeedbackStore(store)

    first, before = await feedback.rate(COACH, reply, Rating.POSITIVE)
    assert before is None
    assert not await feedback.add_note(COACH, first, "only after a thumbs-down")
    again, before = await feedback.rate(COACH, reply, Rating.NEGATIVE)
    assert (again, before) == (first, "positive")
    assert not await feedback.add_note(Coach("T1", "U2"), first, "someone else's words")
    assert await feedback.add_note(COACH, first, "x" * 3000)

    engine = create_jobs_engine(database_url)  # the retention job's, with SQLite's foreign keys on
    try:
        with engine.connect() as conn:
            (row,) = conn.execute(select(reply_feedback)).all()
            assert (row.rating, len(row.note)) == ("negative", 2000)
        purge_sessions(engine, coaching_sessions.c.id == reply.session_id, delete_files=None)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(reply_feedback)).scalar_one() == 0
    finally:
        engine.dispose()
