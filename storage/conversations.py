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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import TextClause
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.caches import CountingTTLCache
from storage.engine import SqliteWriter, dialect_insert, reads_without_transaction
from storage.models import (
    TITLE_LENGTH,
    MessageType,
    utcnow,
)
from storage.turn_records import Bystander, HistoryMessage, RecordedMessage, SessionKey
from storage.turn_sql import pg_turn_sql, slack_time
from storage.turn_write import STALE_SESSION, TurnWrite, may_lack_opening, thread_params, with_opening

__all__ = ["Bystander", "ConversationStore", "HistoryMessage", "RecordedMessage", "SessionKey"]

logger = logging.getLogger(__name__)

SESSION_CACHE_TTL_SECONDS = 30.0
SESSION_CACHE_MAXSIZE = 10_000


T = TypeVar("T")


@dataclass(frozen=True)
class _Row:
    """The message a PostgreSQL turn statement just wrote, shaped like the history rows it read."""

    id: int
    message_type: str
    text: str
    at: Any


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

        # Built once (storage.turn_write): executing the same statement object skips rebuilding it.
        turn = TurnWrite(insert)
        self._select_session = turn.select_session
        self._insert_message = turn.insert_message
        self._insert_unposted_message = turn.insert_unposted_message
        self._select_message_by_ts = turn.select_message_by_ts
        self._history = turn.history
        self._opening = turn.opening
        # SQLite (and any database without the one-statement turn): the write of a coach's message.
        self._write_user_message = turn.write_user_message
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
            row = (await conn.execute(self._select_session, thread_params(key))).first()
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
            if recorded is STALE_SESSION:
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
            found = [row for row in rows if row.part == 1]
            found.append(_Row(id=head.id, message_type=MessageType.USER.value, text=text, at=said_at))
            found.sort(key=lambda row: (row.at, row.id), reverse=True)
            newest = found[:history_limit]
            opening = next((row for row in rows if row.part == 3), None)
            history = tuple(with_opening(newest, opening if len(found) > history_limit else None))
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
        """The newest ``limit`` messages of the session, oldest first (ties in time by id), led by the
        session's opening (its first coach message) when that is older."""
        if limit <= 0:
            return []
        async with self._connection(autocommit=True) as conn:
            return await self._read_history(conn, session_id, limit)

    async def _read_history(self, conn: AsyncConnection, session_id: int, limit: int) -> list[HistoryMessage]:
        params = {"session_id": session_id, "limit": limit}
        newest = (await conn.execute(self._history, params)).all()
        opening = (
            (await conn.execute(self._opening, params)).first() if may_lack_opening(newest, limit) else None
        )
        return with_opening(newest, opening)

    async def record_assistant_message(
        self,
        session_id: int,
        *,
        slack_ts: str | None,
        text: str,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        latency_ms: int | None = None,
        reply_ts: str | None = None,
        model: str | None = None,
        prompt_version: str | None = None,
    ) -> int:
        """Store the coach's reply with its cost and latency; returns its id (the first, per ``slack_ts``)."""
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
                "reply_ts": reply_ts,
                "model": model,
                "prompt_version": prompt_version,
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
        row = (await conn.execute(self._select_session, thread_params(key))).first()
        return None if row is None else row.id

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
