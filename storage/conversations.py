"""The data access of a coaching turn: thread -> session, history, and recording messages.

Every coach message passes through here, so it is written for latency: prebuilt Core statements
(no ORM object loading), one pooled connection and as few round trips as the semantics allow,
``INSERT … ON CONFLICT DO NOTHING … RETURNING`` instead of read-then-write, and a cache for the
thread -> session id mapping (ids never change; absent sessions are never cached because another
replica may create one at any moment).

On PostgreSQL, reads and single-statement writes run in autocommit mode, saving the BEGIN and
COMMIT/ROLLBACK round trips a transaction would add; a single statement is atomic anyway. A coach's
message is one such statement (``storage.turn_sql``): the event claim, the session upsert with the
owed-reply count and the turn's lease, the message insert and the history read travel together, one
round trip instead of seven (bench.storage_lookup measures both).

Messages are stamped with Slack's own time (their ``ts``), so the history comes back in Slack's
order whatever order the deliveries arrived in.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Integer, TextClause, bindparam, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection, Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.caches import CountingTTLCache
from storage.engine import SqliteWriter, dialect_insert, reads_without_transaction
from storage.models import (
    TITLE_LENGTH,
    MessageType,
    chat_messages,
    coaching_sessions,
    processed_events,
    utcnow,
)
from storage.turn_records import Bystander, HistoryMessage, RecordedMessage, SessionKey
from storage.turn_sql import lease_claim_values, pg_turn_sql, slack_time

__all__ = ["Bystander", "ConversationStore", "HistoryMessage", "RecordedMessage", "SessionKey"]

logger = logging.getLogger(__name__)

SESSION_CACHE_TTL_SECONDS = 30.0
SESSION_CACHE_MAXSIZE = 10_000


T = TypeVar("T")


def _history_rows(result: Result[Any]) -> list[HistoryMessage]:
    """History query rows (newest first) as messages, oldest first."""
    return [HistoryMessage(role=row.message_type, text=row.text) for row in reversed(result.all())]


# Internal signal (compared by identity) that a known session id turned out to be gone.
_STALE_SESSION = RecordedMessage(session_id=-1, message_id=-1, is_new_session=False)


class ConversationStore:
    """Sessions and messages on an AsyncEngine (SQLite via aiosqlite or PostgreSQL via asyncpg)."""

    def __init__(
        self, engine: AsyncEngine, *, session_cache: CountingTTLCache[SessionKey, int] | None = None
    ) -> None:
        dialect = engine.dialect.name
        insert = dialect_insert(engine)
        self._autocommit = reads_without_transaction(engine)
        self._engine = engine
        # SQLite has one writer at a time: its write transactions queue in one SqliteWriter.
        self._sqlite_writer = SqliteWriter.for_engine(engine)
        # A turn's queries take about a millisecond. In a burst, queueing them for the pool's
        # standing connections beats opening overflow connections mid-burst, which costs
        # several milliseconds of CPU on both sides (bench/: 50 concurrent first messages).
        # Other users of the engine (jobs, reports) still have the overflow.
        standing = getattr(engine.pool, "size", None)
        self._slots = (
            asyncio.Semaphore(standing()) if dialect == "postgresql" and callable(standing) else None
        )
        self.session_cache: CountingTTLCache[SessionKey, int] = (
            session_cache
            if session_cache is not None
            else CountingTTLCache(SESSION_CACHE_MAXSIZE, SESSION_CACHE_TTL_SECONDS, name="sessions")
        )

        s, m, e = coaching_sessions, chat_messages, processed_events
        # Built once: executing the same statement object skips rebuilding it on the hot path,
        # and values travel as parameters so the compiled form is cached.
        self._select_session = select(s.c.id, s.c.user_id).where(
            s.c.team_id == bindparam("team_id"),
            s.c.channel_id == bindparam("channel_id"),
            s.c.thread_ts == bindparam("thread_ts"),
        )
        self._create_session = (
            insert(s)
            .on_conflict_do_nothing(index_elements=[s.c.team_id, s.c.channel_id, s.c.thread_ts])
            .returning(s.c.id)
        )
        # Matching the thread as well as the id validates a cached id for free: a deleted
        # session updates no row, and the transaction is abandoned before anything is written.
        # It counts the message as owed and takes a free lease, like the PostgreSQL statement.
        self._touch_session = (
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
        self._claim_event = (
            insert(e).on_conflict_do_nothing(index_elements=[e.c.team_id, e.c.event_id]).returning(e.c.id)
        )
        self._insert_message = (
            insert(m).on_conflict_do_nothing(index_elements=[m.c.session_id, m.c.slack_ts]).returning(m.c.id)
        )
        self._insert_unposted_message = insert(m).returning(m.c.id)
        self._select_message_by_ts = select(m.c.id).where(
            m.c.session_id == bindparam("session_id"), m.c.slack_ts == bindparam("slack_ts")
        )
        # Served by idx_session_timestamp; id breaks ties between equal timestamps.
        self._history = (
            select(m.c.message_type, m.c.text)
            .where(m.c.session_id == bindparam("session_id"))
            .order_by(m.c.timestamp.desc(), m.c.id.desc())
            .limit(bindparam("limit", type_=Integer))
        )
        # PostgreSQL: the whole write of a coach's message in one statement, per (claim, start).
        self._pg_turn: dict[tuple[bool, bool], TextClause] | None = (
            {
                (claim, start): sql_text(pg_turn_sql(claim=claim, start_session=start))
                for claim in (True, False)
                for start in (True, False)
            }
            if dialect == "postgresql"
            else None
        )

    async def find_session_id(self, key: SessionKey) -> int | None:
        """The session coaching in this thread, or None when the bot is not coaching there."""
        session_id: int | None = self.session_cache.get(key)
        if session_id is not None:
            return session_id
        async with self._connection(autocommit=True) as conn:
            session_id = await self._select_session_id(conn, key)
        if session_id is not None:
            self.session_cache.set(key, session_id)
        return session_id

    async def session_coach(self, key: SessionKey) -> str | None:
        """The user whose session this thread is, or None when it is not one."""
        async with self._connection(autocommit=True) as conn:
            row = (await conn.execute(self._select_session, _thread_params(key))).first()
        return None if row is None else row.user_id

    async def record_user_message(
        self,
        key: SessionKey,
        *,
        user_id: str,
        slack_ts: str,
        text: str,
        event_id: str | None,
        start_session: bool,
        title: str | None = None,
        history_limit: int = 0,
        lease_owner: str | None = None,
        lease_seconds: float = 30.0,
    ) -> RecordedMessage | Bystander | None:
        """Store a user's message, opening the thread's session when ``start_session``.

        With ``history_limit``, the session's newest messages come back too, read in the same
        transaction: the coaching turn needs both, and one connection checkout is cheaper than two.
        The same write counts the message as owed a reply and, with ``lease_owner``, takes the
        session's turn lease for ``lease_seconds`` when no live turn holds it (``leased``).

        Returns a ``Bystander``, having stored nothing, when the session belongs to another user.

        Returns None, having written nothing, when the thread is not a session and
        ``start_session`` is False, and when the message is a duplicate: an ``event_id`` already
        claimed (Slack redelivery) or a ``slack_ts`` already stored in the session (the same
        message delivered as both app_mention and message). Otherwise claim, session, message and
        the session's ``updated_at`` are written in one transaction.
        """
        if self._pg_turn is not None:
            recorded = await self._record_user_message_pg(
                key,
                user_id=user_id,
                slack_ts=slack_ts,
                text=text,
                event_id=event_id,
                start_session=start_session,
                title=title,
                history_limit=history_limit,
                lease_owner=lease_owner,
                lease_seconds=lease_seconds,
            )
            if recorded is not None:
                self.session_cache.set(key, recorded.session_id)
            return recorded
        use_cache = True
        while True:
            session_id: int | None = self.session_cache.get(key) if use_cache else None
            if session_id is None and not start_session:
                async with self._connection(autocommit=True) as conn:
                    session_id = await self._select_session_id(conn, key)
                if session_id is None:
                    return None
            recorded = await self._run_write(
                functools.partial(
                    self._write_user_message,
                    key=key,
                    session_id=session_id,
                    user_id=user_id,
                    slack_ts=slack_ts,
                    text=text,
                    event_id=event_id,
                    title=title,
                    history_limit=history_limit,
                    lease_owner=lease_owner,
                    lease_seconds=lease_seconds,
                )
            )
            if recorded is _STALE_SESSION:
                # The session was deleted since it was cached or looked up (e.g. by a retention
                # purge). Forget it and decide once more from what the database holds now.
                self.session_cache.pop(key)
                if not use_cache:
                    return None
                logger.info("session %s of %s is gone; looking the thread up again", session_id, key)
                use_cache = False
                continue
            if recorded is not None:
                self.session_cache.set(key, recorded.session_id)
            return recorded

    async def _record_user_message_pg(
        self,
        key: SessionKey,
        *,
        user_id: str,
        slack_ts: str,
        text: str,
        event_id: str | None,
        start_session: bool,
        title: str | None,
        history_limit: int,
        lease_owner: str | None,
        lease_seconds: float,
    ) -> RecordedMessage | Bystander | None:
        """``record_user_message`` on PostgreSQL: one statement, one round trip (``pg_turn_sql``)."""
        assert self._pg_turn is not None
        now = utcnow()
        said_at = slack_time(slack_ts, now)
        statement = self._pg_turn[(event_id is not None, start_session)]
        params = {
            "team_id": key.team_id,
            "channel_id": key.channel_id,
            "thread_ts": key.thread_ts,
            "user_id": user_id,
            "title": title[:TITLE_LENGTH] if title else None,
            "event_id": event_id,
            "slack_ts": slack_ts,
            "text": text,
            "now": now,
            "said_at": said_at,
            "history_limit": max(history_limit, 0),
            "lease_owner": lease_owner,
            "lease_until": now + timedelta(seconds=lease_seconds),
        }
        if event_id is None:
            del params["event_id"]
        if not start_session:
            del params["title"]
        async with self._connection(autocommit=True) as conn:
            rows = (await conn.execute(statement, params)).all()
        head = next((row for row in rows if row.part == 0), None)
        if head is None:
            thread = next((row for row in rows if row.part == 2), None)
            if thread is not None and thread.text != user_id:
                return Bystander(session_id=thread.session_id, coach_id=thread.text)
            return None  # a redelivery, a thread that is not a session, or a stored Slack message
        history: tuple[HistoryMessage, ...] = ()
        if history_limit > 0:
            # Newest first from the snapshot, plus the message just written; ties in time by id.
            found = [(row.at, row.id, row.message_type, row.text) for row in rows if row.part == 1]
            found.append((said_at, head.id, MessageType.USER.value, text))
            found.sort(key=lambda item: (item[0], item[1]))
            history = tuple(
                HistoryMessage(role=role, text=body) for _, _, role, body in found[-history_limit:]
            )
        return RecordedMessage(
            session_id=head.session_id,
            message_id=head.id,
            is_new_session=bool(head.created),
            history=history,
            attachment_count=head.attachment_count or 0,
            coach_seq=head.coach_seq,
            answered_seq=head.answered_seq,
            leased=bool(head.leased),
            stale_stream_ts=head.lease_stream_ts,
        )

    async def load_history(self, session_id: int, *, limit: int = 50) -> list[HistoryMessage]:
        """The newest ``limit`` messages of the session, oldest first (ties in time by id)."""
        if limit <= 0:
            return []
        async with self._connection(autocommit=True) as conn:
            return await self._read_history(conn, session_id, limit)

    async def _read_history(self, conn: AsyncConnection, session_id: int, limit: int) -> list[HistoryMessage]:
        return _history_rows(await conn.execute(self._history, {"session_id": session_id, "limit": limit}))

    async def record_assistant_message(
        self,
        session_id: int,
        *,
        slack_ts: str | None,
        text: str,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        latency_ms: int | None = None,
    ) -> int:
        """Store the coach's reply with its cost and latency; returns the message id.

        Idempotent per ``slack_ts``: recording the same posted reply again returns the first id.
        """
        return await self._insert_single_message(
            {
                "session_id": session_id,
                "message_type": MessageType.ASSISTANT.value,
                "slack_ts": slack_ts,
                "text": text,
                "timestamp": slack_time(slack_ts, utcnow()),
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "latency_ms": latency_ms,
            }
        )

    async def record_system_message(self, session_id: int, text: str) -> int:
        """Store a note in the session (e.g. that a reply failed) so later turns can see it."""
        return await self._insert_single_message(
            {
                "session_id": session_id,
                "message_type": MessageType.SYSTEM.value,
                "slack_ts": None,
                "text": text,
                "timestamp": utcnow(),
            }
        )

    @contextlib.asynccontextmanager
    async def _connection(self, *, autocommit: bool) -> AsyncIterator[AsyncConnection]:
        engine = self._autocommit if autocommit else self._engine
        async with self._slots or contextlib.nullcontext(), engine.connect() as conn:
            yield conn

    async def _run_write(self, transaction: Callable[[Connection], T]) -> T:
        """Run a write transaction in one piece.

        SQLite (a file): on the store's single writer thread, one hop from the event loop
        instead of one per statement and fetch, and writers queue there rather than on the
        file lock. PostgreSQL (and in-memory SQLite): on a pooled connection through
        ``run_sync``, one greenlet for the whole transaction.
        """
        if self._sqlite_writer is not None:
            return await self._sqlite_writer.run(transaction)
        async with self._connection(autocommit=False) as conn:
            return await conn.run_sync(transaction)

    async def run_write(self, transaction: Callable[[Connection], T]) -> T:
        """``_run_write`` for the stores that share this one's database and SQLite writer."""
        return await self._run_write(transaction)

    def reading(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads without a transaction, from the turn's pool slots."""
        return self._connection(autocommit=True)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def sqlite_writer(self) -> SqliteWriter | None:
        """What queues this SQLite database's writes, for other stores on the same database."""
        return self._sqlite_writer

    async def close(self) -> None:
        """Release the SQLite writer thread (the engine itself belongs to the caller)."""
        if self._sqlite_writer is not None:
            await self._sqlite_writer.close()

    async def _select_session_id(self, conn: AsyncConnection, key: SessionKey) -> int | None:
        row = (await conn.execute(self._select_session, _thread_params(key))).first()
        return None if row is None else row.id

    def _write_user_message(
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

        Synchronous so that it runs in one piece (see ``_run_write``). Returns ``_STALE_SESSION``
        when the given session no longer exists. Returning without ``commit`` (every early
        return) rolls everything back.
        """
        now = utcnow()
        lease_until = now + timedelta(seconds=lease_seconds)
        if event_id is not None:
            claim = conn.execute(
                self._claim_event, {"team_id": key.team_id, "event_id": event_id, "received_at": now}
            )
            if claim.first() is None:
                return None  # this event was recorded before
        is_new_session = False
        attachment_count = 0
        coach_seq, answered_seq, leased, stale_stream_ts = 1, 0, lease_owner is not None, None
        if session_id is None:
            created = conn.execute(
                self._create_session,
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
                found = conn.execute(self._select_session, _thread_params(key))
                session_id = found.one().id
        if not is_new_session:
            touched = conn.execute(
                self._touch_session,
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
                return _STALE_SESSION
            if touched_row.user_id != user_id:
                return Bystander(session_id=session_id, coach_id=touched_row.user_id)
            attachment_count = touched_row.attachment_count
            coach_seq, answered_seq = touched_row.coach_seq, touched_row.answered_seq
            leased, stale_stream_ts = bool(touched_row.leased), touched_row.lease_stream_ts
        message = conn.execute(
            self._insert_message,
            {
                "session_id": session_id,
                "message_type": MessageType.USER.value,
                "slack_ts": slack_ts,
                "text": text,
                "timestamp": slack_time(slack_ts, now),
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
                history = tuple(
                    _history_rows(
                        conn.execute(self._history, {"session_id": session_id, "limit": history_limit})
                    )
                )
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

    async def _insert_single_message(self, params: dict[str, Any]) -> int:
        """One INSERT (plus a lookup when the posted message is already stored)."""
        return await self._run_write(functools.partial(self._insert_single_message_in, params=params))

    def _insert_single_message_in(self, conn: Connection, *, params: dict[str, Any]) -> int:
        message_id: int | None
        if params["slack_ts"] is None:
            message_id = conn.execute(self._insert_unposted_message, params).scalar_one()
        else:
            message_id = conn.execute(self._insert_message, params).scalar_one_or_none()
            if message_id is None:
                existing = conn.execute(
                    self._select_message_by_ts,
                    {"session_id": params["session_id"], "slack_ts": params["slack_ts"]},
                )
                message_id = existing.scalar_one()
        conn.commit()
        return message_id


def _thread_params(key: SessionKey) -> dict[str, str]:
    return {"team_id": key.team_id, "channel_id": key.channel_id, "thread_ts": key.thread_ts}
