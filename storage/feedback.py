"""Feedback on replies: which reply a press names, the press stored (once per coach per reply),
the note after a thumbs-down, and the counts behind the helpful rate.

A press names a Slack message (channel, thread, ts). It counts only when that message is a reply
in a session of the coach who pressed, in their workspace: found by the session's thread (its
unique index) and the reply's ``chat_messages.reply_ts``. Nothing else in a payload is trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, and_, case, func, select, update

from storage.conversations import ConversationStore
from storage.engine import dialect_insert
from storage.memory_records import Coach
from storage.models import MessageType, Rating, chat_messages, coaching_sessions, reply_feedback, utcnow

NOTE_LIMIT = 2000


@dataclass(frozen=True)
class RatedReply:
    """A reply a coach may rate: its session, and what wrote it."""

    session_id: int
    channel_id: str
    message_ts: str
    model: str | None
    prompt_version: str | None


@dataclass(frozen=True)
class FeedbackCounts:
    """Ratings in a group: how many helped, how many in all, and how many coaches gave them."""

    helpful: int = 0
    rated: int = 0
    coaches: int = 0


class FeedbackStore:
    """reply_feedback on the conversation store's database (and its SQLite writer)."""

    def __init__(self, store: ConversationStore) -> None:
        self._store = store
        self._insert = dialect_insert(store.engine)

    async def reply_of(
        self, coach: Coach, channel_id: str, thread_ts: str, message_ts: str
    ) -> RatedReply | None:
        """The reply ``message_ts`` in ``coach``'s session of that thread; None if it is not theirs."""
        s, m = coaching_sessions, chat_messages
        statement = (
            select(m.c.session_id, m.c.model, m.c.prompt_version)
            .join(s, s.c.id == m.c.session_id)
            .where(
                s.c.team_id == coach.team_id,
                s.c.channel_id == channel_id,
                s.c.thread_ts == thread_ts,
                s.c.user_id == coach.user_id,
                m.c.reply_ts == message_ts,
                m.c.message_type == MessageType.ASSISTANT.value,
            )
            .limit(1)
        )
        async with self._store.reading() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        return RatedReply(row.session_id, channel_id, message_ts, row.model, row.prompt_version)

    async def is_coachs_thread(self, coach: Coach, channel_id: str, thread_ts: str) -> bool:
        """Whether the thread is a session of ``coach``'s, in their workspace: after ``reply_of``
        missed, it tells the coach's own reply from before revision 0010 (no ``reply_ts``) from
        someone else's."""
        s = coaching_sessions
        statement = select(s.c.id).where(
            s.c.team_id == coach.team_id,
            s.c.channel_id == channel_id,
            s.c.thread_ts == thread_ts,
            s.c.user_id == coach.user_id,
        )
        async with self._store.reading() as conn:
            return (await conn.execute(statement.limit(1))).first() is not None

    async def rate(self, coach: Coach, reply: RatedReply, rating: Rating) -> tuple[int, str | None]:
        """Store the press (a change of mind updates the row); its id and the rating it replaced."""
        f = reply_feedback

        def write(conn: Connection) -> tuple[int, str | None]:
            now = utcnow()
            key = and_(
                f.c.team_id == coach.team_id,
                f.c.channel_id == reply.channel_id,
                f.c.message_ts == reply.message_ts,
                f.c.user_id == coach.user_id,
            )
            before = conn.execute(select(f.c.rating).where(key)).scalar_one_or_none()
            insert = self._insert(f).values(
                team_id=coach.team_id,
                user_id=coach.user_id,
                channel_id=reply.channel_id,
                message_ts=reply.message_ts,
                session_id=reply.session_id,
                rating=rating.value,
                model=reply.model,
                prompt_version=reply.prompt_version,
                created_at=now,
                updated_at=now,
            )
            statement = insert.on_conflict_do_update(
                index_elements=[f.c.team_id, f.c.channel_id, f.c.message_ts, f.c.user_id],
                set_={"rating": rating.value, "updated_at": now},
            ).returning(f.c.id)
            feedback_id = int(conn.execute(statement).scalar_one())
            conn.commit()
            return feedback_id, before

        return await self._store.run_write(write)

    async def counts(self, start: datetime, end: datetime) -> dict[str, dict[Key, FeedbackCounts]]:
        """The ratings of [start, end): in all ("all"), per "team", "model" and "prompt_version"."""
        async with self._store.reading() as conn:
            return await conn.run_sync(lambda sync: counts_in(sync, start, end))

    async def add_note(self, coach: Coach, feedback_id: int, note: str) -> bool:
        """The note after a thumbs-down, on the coach's own negative rating only; False otherwise."""
        f = reply_feedback

        def write(conn: Connection) -> bool:
            changed = conn.execute(
                update(f)
                .where(
                    f.c.id == feedback_id,
                    f.c.team_id == coach.team_id,
                    f.c.user_id == coach.user_id,
                    f.c.rating == Rating.NEGATIVE.value,
                )
                .values(note=note[:NOTE_LIMIT], updated_at=utcnow())
            ).rowcount
            conn.commit()
            return bool(changed)

        return await self._store.run_write(write)


Key = tuple[str | None, ...]


def counts_in(connection: Connection, start: datetime, end: datetime) -> dict[str, dict[Key, FeedbackCounts]]:
    """``FeedbackStore.counts`` on a connection: in all (key ``()``), per team, model, prompt version."""
    f = reply_feedback
    groups = {
        "all": (),
        "team": (f.c.team_id,),
        "model": (f.c.model,),
        "prompt_version": (f.c.prompt_version,),
    }
    return {name: feedback_counts_in(connection, start, end, by=by) for name, by in groups.items()}


def feedback_counts_in(
    connection: Connection, start: datetime, end: datetime, *, by: Sequence[Column[Any]] = ()
) -> dict[Key, FeedbackCounts]:
    """Ratings given or changed in [start, end), per value of the ``by`` columns (e.g. team_id,
    model), off ``idx_reply_feedback_updated``. Counts only."""
    f = reply_feedback
    helpful = func.sum(case((f.c.rating == Rating.POSITIVE.value, 1), else_=0))
    statement = select(*by, helpful, func.count(), func.count(f.c.user_id.distinct())).where(
        f.c.updated_at >= start, f.c.updated_at < end
    )
    if by:
        statement = statement.group_by(*by)
    out: dict[Key, FeedbackCounts] = {}
    for row in connection.execute(statement):
        key, (good, rated, coaches) = tuple(row[: len(by)]), row[len(by) :]
        if int(rated):
            out[key] = FeedbackCounts(int(good or 0), int(rated), int(coaches))
    return out
