"""The portable write of a coach's message: claim, session, message and history in one transaction.

SQLite runs it on the store's single writer thread (``storage.engine.SqliteWriter``);
PostgreSQL sends the same write as one statement instead (``storage.turn_sql``). The
statements are built once here and shared with ``ConversationStore``'s reads and inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, Select, bindparam, select, update
from sqlalchemy.engine import Connection

from storage.erasure_models import erased_before
from storage.models import (
    TITLE_LENGTH,
    MessageType,
    chat_messages,
    coaching_sessions,
    processed_events,
    utcnow,
)
from storage.turn_records import Bystander, HistoryMessage, RecordedMessage, SessionKey
from storage.turn_sql import lease_claim_values, slack_time

# Signal (compared by identity) that a known session id turned out to be gone.
STALE_SESSION = RecordedMessage(session_id=-1, message_id=-1, is_new_session=False)


def with_opening(newest: Sequence[Any], opening: Any) -> list[HistoryMessage]:
    """The newest rows (newest first, with ``id``) as history, oldest first, led by the opening.

    The opening, the coach's first message, states what the session is for; a trimmed prompt
    keeps it (``bot.conversation.prompt``). ``opening`` is None when it was not read: only a
    session with at least as many messages as were read can have it outside them
    (``may_lack_opening``).
    """
    history = [HistoryMessage(role=row.message_type, text=row.text) for row in reversed(newest)]
    if opening is None or any(row.id == opening.id for row in newest):
        return history
    return [HistoryMessage(role=opening.message_type, text=opening.text), *history]


def may_lack_opening(newest: Sequence[Any], limit: int) -> bool:
    """Whether the session may hold older messages than the ``limit`` newest rows read."""
    return len(newest) >= limit > 0


def opening_statement() -> Select[Any]:
    """The session's first coach message (idx_session_timestamp, read from the oldest end)."""
    m = chat_messages
    return (
        select(m.c.id, m.c.message_type, m.c.text)
        .where(m.c.session_id == bindparam("session_id"), m.c.message_type == MessageType.USER.value)
        .order_by(m.c.timestamp, m.c.id)
        .limit(1)
    )


def thread_params(key: SessionKey) -> dict[str, str]:
    return {"team_id": key.team_id, "channel_id": key.channel_id, "thread_ts": key.thread_ts}


class TurnWrite:
    """A turn's prebuilt statements, and the transaction that records a coach's message with them."""

    def __init__(self, insert: Any) -> None:
        """``insert``: the dialect's INSERT construct (``storage.engine.dialect_insert``)."""
        s, m, e = coaching_sessions, chat_messages, processed_events
        # Built once: executing the same statement object skips rebuilding it on the hot path,
        # and values travel as parameters so the compiled form is cached.
        self.select_session = select(s.c.id, s.c.user_id).where(
            s.c.team_id == bindparam("team_id"),
            s.c.channel_id == bindparam("channel_id"),
            s.c.thread_ts == bindparam("thread_ts"),
        )
        self.create_session = (
            insert(s)
            .on_conflict_do_nothing(index_elements=[s.c.team_id, s.c.channel_id, s.c.thread_ts])
            .returning(s.c.id)
        )
        # Matching the thread as well as the id validates a cached id for free: a deleted
        # session updates no row, and the transaction is abandoned before anything is written.
        # It counts the message as owed and takes a free lease, like the PostgreSQL statement.
        self.touch_session = (
            update(s)
            .where(
                s.c.id == bindparam("b_session_id"),
                s.c.team_id == bindparam("b_team_id"),
                s.c.channel_id == bindparam("b_channel_id"),
                s.c.thread_ts == bindparam("b_thread_ts"),
            )
            .values(updated_at=bindparam("b_now"), **lease_claim_values())
            .returning(
                s.c.attachment_count,
                s.c.user_id,
                s.c.coach_seq,
                s.c.answered_seq,
                s.c.lease_stream_ts,
                (s.c.lease_owner == bindparam("b_owner")).label("leased"),
            )
        )
        self.claim_event = (
            insert(e).on_conflict_do_nothing(index_elements=[e.c.team_id, e.c.event_id]).returning(e.c.id)
        )
        self.insert_message = (
            insert(m).on_conflict_do_nothing(index_elements=[m.c.session_id, m.c.slack_ts]).returning(m.c.id)
        )
        self.insert_unposted_message = insert(m).returning(m.c.id)
        # The coach erased their data after Slack dated the message (storage.erasures).
        self.erased = erased_before(bindparam("team_id"), bindparam("user_id"), bindparam("said_at"))
        self.select_message_by_ts = select(m.c.id).where(
            m.c.session_id == bindparam("session_id"), m.c.slack_ts == bindparam("slack_ts")
        )
        # Served by idx_session_timestamp; id breaks ties between equal timestamps.
        self.history = (
            select(m.c.id, m.c.message_type, m.c.text)
            .where(m.c.session_id == bindparam("session_id"))
            .order_by(m.c.timestamp.desc(), m.c.id.desc())
            .limit(bindparam("limit", type_=Integer))
        )
        self.opening = opening_statement()

    def read_history(self, conn: Connection, session_id: int, limit: int) -> list[HistoryMessage]:
        """The newest ``limit`` messages, oldest first, led by the opening (``with_opening``)."""
        params = {"session_id": session_id, "limit": limit}
        newest = conn.execute(self.history, params).all()
        opening = conn.execute(self.opening, params).first() if may_lack_opening(newest, limit) else None
        return with_opening(newest, opening)

    def write_user_message(
        self,
        conn: Connection,
        key: SessionKey,
        session_id: int | None,
        *,
        user_id: str,
        slack_ts: str,
        text: str,
        event_id: str | None,
        title: str | None,
        history_limit: int,
        lease_owner: str | None = None,
        lease_seconds: float = 30.0,
    ) -> RecordedMessage | Bystander | None:
        """The turn's write transaction; ``session_id`` None means find-or-create the session.

        Synchronous so that it runs in one piece (``ConversationStore._run_write``: on SQLite, on its
        single writer thread). Returns ``STALE_SESSION``
        when the given session no longer exists. Returning without ``commit`` (every early
        return) rolls everything back.
        """
        now = utcnow()
        lease_until = now + timedelta(seconds=lease_seconds)
        if event_id is not None:
            claim = conn.execute(
                self.claim_event, {"team_id": key.team_id, "event_id": event_id, "received_at": now}
            )
            if claim.first() is None:
                return None  # this event was recorded before
        said_at = slack_time(slack_ts, now)
        erased = {"team_id": key.team_id, "user_id": user_id, "said_at": said_at}
        if conn.execute(self.erased, erased).first() is not None:
            return None  # said before the coach erased everything: nothing of it is kept
        is_new_session = False
        attachment_count = 0
        coach_seq, answered_seq, leased, stale_stream_ts = 1, 0, lease_owner is not None, None
        if session_id is None:
            created = conn.execute(
                self.create_session,
                {
                    "team_id": key.team_id,
                    "channel_id": key.channel_id,
                    "thread_ts": key.thread_ts,
                    "user_id": user_id,
                    "is_active": True,
                    "title": title[:TITLE_LENGTH] if title else None,
                    "created_at": now,
                    "updated_at": now,
                    "coach_seq": 1,
                    "lease_owner": lease_owner,
                    "lease_expires_at": lease_until if lease_owner is not None else None,
                },
            )
            session_id = created.scalar_one_or_none()
            if session_id is not None:
                is_new_session = True
            else:  # the session exists (maybe a racing replica just committed it)
                found = conn.execute(self.select_session, thread_params(key))
                session_id = found.one().id
        if not is_new_session:
            touched = conn.execute(
                self.touch_session,
                {
                    "b_session_id": session_id,
                    "b_team_id": key.team_id,
                    "b_channel_id": key.channel_id,
                    "b_thread_ts": key.thread_ts,
                    "b_now": now,
                    "b_owner": lease_owner,
                    "b_until": lease_until,
                },
            )
            touched_row = touched.first()
            if touched_row is None:
                return STALE_SESSION
            if touched_row.user_id != user_id:
                return Bystander(session_id=session_id, coach_id=touched_row.user_id)
            attachment_count = touched_row.attachment_count
            coach_seq, answered_seq = touched_row.coach_seq, touched_row.answered_seq
            leased, stale_stream_ts = bool(touched_row.leased), touched_row.lease_stream_ts
        message = conn.execute(
            self.insert_message,
            {
                "session_id": session_id,
                "message_type": MessageType.USER.value,
                "slack_ts": slack_ts,
                "text": text,
                "timestamp": said_at,
            },
        )
        message_id = message.scalar_one_or_none()
        if message_id is None:
            return None  # this Slack message is stored already, under another event id
        history: tuple[HistoryMessage, ...] = ()
        if history_limit > 0:
            if is_new_session:  # nothing older to read
                history = (HistoryMessage(role=MessageType.USER.value, text=text),)
            else:
                history = tuple(self.read_history(conn, session_id, history_limit))
        conn.commit()
        return RecordedMessage(
            session_id=session_id,
            message_id=message_id,
            is_new_session=is_new_session,
            history=history,
            attachment_count=attachment_count,
            coach_seq=coach_seq,
            answered_seq=answered_seq,
            leased=leased,
            stale_stream_ts=stale_stream_ts,
        )
