"""The ``attachments`` table: one row per Slack file shared in a session, through its intake.

A row is written ``pending`` before a byte is downloaded, so a crash or a failure always leaves a
trace the retry job can find; it ends ``stored`` (size, sha256 and storage key set, and the
session's ``attachment_count`` bumped in the same transaction), ``failed`` (retried later) or
``rejected`` (bad input, never retried). State changes only ever leave ``pending``: a late or
duplicate writer can never turn a stored file back into a failed one.

Same patterns as ``storage.conversations``: prebuilt Core statements, ``INSERT … ON CONFLICT DO
NOTHING … RETURNING`` for idempotency, SQLite writes in one hop on a writer thread, reads on an
autocommit connection.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Integer, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.engine import SqliteWriter, dialect_insert, reads_without_transaction
from storage.models import (
    ATTACHMENT_MIME_LENGTH,
    ATTACHMENT_NAME_LENGTH,
    AttachmentStatus,
    attachments,
    coaching_sessions,
    utcnow,
)

T = TypeVar("T")

#: The App Home's files come from the coach's most recently active sessions holding one, this many.
FILE_SESSIONS_LIMIT = 200
#: A row still ``pending`` this long after its last change was left by a crashed intake.
STALE_PENDING_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class NewAttachment:
    """What is known about a shared file before its bytes are fetched (Slack's metadata)."""

    session_id: int
    slack_file_id: str
    team_id: str
    user_id: str
    name: str
    mime_type: str
    size: int | None


@dataclass(frozen=True)
class AttachmentRecord:
    """One row of ``attachments``."""

    id: int
    session_id: int
    slack_file_id: str
    team_id: str
    user_id: str
    name: str
    mime_type: str
    size: int | None
    sha256: str | None
    storage_key: str | None
    status: str
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RetryCandidate:
    """A failed attachment and the thread to tell about it once it is stored."""

    attachment: AttachmentRecord
    channel_id: str
    thread_ts: str


_a = attachments
_COLUMNS = (
    _a.c.id,
    _a.c.session_id,
    _a.c.slack_file_id,
    _a.c.team_id,
    _a.c.user_id,
    _a.c.name,
    _a.c.mime_type,
    _a.c.size,
    _a.c.sha256,
    _a.c.storage_key,
    _a.c.status,
    _a.c.error,
    _a.c.attempts,
    _a.c.created_at,
    _a.c.updated_at,
)


def _record(row: Row[Any]) -> AttachmentRecord:
    return AttachmentRecord(**{column.name: getattr(row, column.name) for column in _COLUMNS})


class AttachmentStore:
    """Attachment rows on an AsyncEngine (SQLite via aiosqlite or PostgreSQL via asyncpg)."""

    def __init__(self, engine: AsyncEngine, *, sqlite_writer: SqliteWriter | None = None) -> None:
        """``sqlite_writer``: the conversation store's, so a SQLite database keeps one queue of
        writers (two would make each other's transactions wait on the file lock); this store
        then leaves closing it to its owner."""
        insert = dialect_insert(engine)
        self._autocommit = reads_without_transaction(engine)
        self._engine = engine
        self._owns_writer = sqlite_writer is None
        self._sqlite_writer = sqlite_writer if sqlite_writer is not None else SqliteWriter.for_engine(engine)

        a, s = attachments, coaching_sessions
        self._insert = (
            insert(a).on_conflict_do_nothing(index_elements=[a.c.slack_file_id]).returning(*_COLUMNS)
        )
        self._by_file_id = select(*_COLUMNS).where(a.c.slack_file_id == bindparam("slack_file_id"))
        self._by_id = select(*_COLUMNS).where(a.c.id == bindparam("b_id"))
        # Every transition leaves "pending" only, so it happens at most once per attempt.
        self._finish = (
            update(a)
            .where(a.c.id == bindparam("b_id"), a.c.status == AttachmentStatus.PENDING.value)
            .returning(a.c.session_id)
        )
        self._bump_count = (
            update(s)
            .where(s.c.id == bindparam("b_session_id"))
            .values(attachment_count=s.c.attachment_count + 1)
        )
        # Served by idx_attachments_session_created; id breaks ties between equal timestamps.
        self._for_session = (
            select(*_COLUMNS)
            .where(a.c.session_id == bindparam("session_id"))
            .order_by(a.c.created_at.desc(), a.c.id.desc())
        )
        # Served by idx_attachments_status_updated.
        self._retryable = (
            select(*_COLUMNS, s.c.channel_id, s.c.thread_ts)
            .join(s, s.c.id == a.c.session_id)
            .where(
                or_(
                    a.c.status == AttachmentStatus.FAILED.value,
                    (a.c.status == AttachmentStatus.PENDING.value) & (a.c.updated_at < bindparam("stale")),
                ),
                a.c.attempts < bindparam("max_attempts", type_=Integer),
            )
            .order_by(a.c.updated_at)
            .limit(bindparam("limit", type_=Integer))
        )
        # Optimistic claim: only the replica that sees the attempts it read wins the retry.
        self._claim = update(a).where(
            a.c.id == bindparam("b_id"),
            a.c.attempts == bindparam("b_attempts"),
            a.c.status.in_([AttachmentStatus.FAILED.value, AttachmentStatus.PENDING.value]),
        )

    async def create_pending(self, new: NewAttachment) -> tuple[AttachmentRecord, bool]:
        """The file's row, written ``pending`` (attempt 1) unless it exists; (row, created).

        Idempotent on ``slack_file_id``: a Slack retry, or a second replica, gets the first row back
        and ``created`` False, and must leave the file alone.
        """
        now = utcnow()
        params = {
            "session_id": new.session_id,
            "slack_file_id": new.slack_file_id,
            "team_id": new.team_id,
            "user_id": new.user_id,
            "name": new.name[:ATTACHMENT_NAME_LENGTH],
            "mime_type": new.mime_type[:ATTACHMENT_MIME_LENGTH],
            "size": new.size,
            "status": AttachmentStatus.PENDING.value,
            "attempts": 1,
            "created_at": now,
            "updated_at": now,
        }
        return await self._run_write(functools.partial(self._create_in, params=params))

    def _create_in(self, conn: Connection, *, params: dict[str, Any]) -> tuple[AttachmentRecord, bool]:
        row = conn.execute(self._insert, params).first()
        created = row is not None
        if row is None:
            row = conn.execute(self._by_file_id, {"slack_file_id": params["slack_file_id"]}).one()
        conn.commit()
        return _record(row), created

    async def mark_stored(self, attachment_id: int, *, size: int, sha256: str, storage_key: str) -> bool:
        """Record the stored bytes and count them in the session, in one transaction.

        False when the row is no longer pending (another writer finished it) or is gone (its
        session was deleted meanwhile): the caller then owns the object it just wrote.
        """
        values = {
            "status": AttachmentStatus.STORED.value,
            "size": size,
            "sha256": sha256,
            "storage_key": storage_key,
            "error": None,
        }
        return await self._run_write(
            functools.partial(self._finish_in, attachment_id=attachment_id, values=values, count=True)
        )

    async def mark_failed(self, attachment_id: int, error: str) -> bool:
        """A download or upload failed: the retry job picks the row up later."""
        values = {"status": AttachmentStatus.FAILED.value, "error": error}
        return await self._run_write(
            functools.partial(self._finish_in, attachment_id=attachment_id, values=values, count=False)
        )

    async def mark_rejected(self, attachment_id: int, error: str, *, size: int | None = None) -> bool:
        """Bad input (empty, too large, unsupported, a login page): final, never retried."""
        values: dict[str, Any] = {"status": AttachmentStatus.REJECTED.value, "error": error}
        if size is not None:
            values["size"] = size
        return await self._run_write(
            functools.partial(self._finish_in, attachment_id=attachment_id, values=values, count=False)
        )

    def _finish_in(
        self, conn: Connection, *, attachment_id: int, values: dict[str, Any], count: bool
    ) -> bool:
        finished = conn.execute(
            self._finish.values(**values, updated_at=utcnow()), {"b_id": attachment_id}
        ).first()
        if finished is None:
            return False  # rolled back on leaving the connection
        if count:
            conn.execute(self._bump_count, {"b_session_id": finished.session_id})
        conn.commit()
        return True

    async def claim_retry(self, attachment_id: int, *, attempts: int) -> bool:
        """Take a failed (or stuck pending) row for one more attempt; False when someone else did."""
        return await self._run_write(
            functools.partial(self._claim_in, attachment_id=attachment_id, attempts=attempts)
        )

    def _claim_in(self, conn: Connection, *, attachment_id: int, attempts: int) -> bool:
        claimed = conn.execute(
            self._claim.values(
                status=AttachmentStatus.PENDING.value, attempts=attempts + 1, updated_at=utcnow()
            ),
            {"b_id": attachment_id, "b_attempts": attempts},
        )
        if claimed.rowcount != 1:
            return False
        conn.commit()
        return True

    async def get(self, attachment_id: int) -> AttachmentRecord | None:
        async with self._connection() as conn:
            row = (await conn.execute(self._by_id, {"b_id": attachment_id})).first()
        return _record(row) if row is not None else None

    async def session_coach(self, session_id: int) -> str | None:
        """The user who started the session (its coach), or None when it is gone."""
        async with self._connection() as conn:
            result = await conn.execute(
                select(coaching_sessions.c.user_id).where(coaching_sessions.c.id == session_id)
            )
            return result.scalar_one_or_none()

    async def coach_of_stored_file(self, storage_key: str) -> str | None:
        """The coach of the session a stored file (by its object key) belongs to; None if unknown."""
        parts = storage_key.split("/")
        if len(parts) != 4 or not parts[2].isdigit():  # storage.files.object_key's shape
            return None
        a, s = attachments, coaching_sessions
        async with self._connection() as conn:
            result = await conn.execute(
                select(s.c.user_id)
                .join(a, a.c.session_id == s.c.id)
                .where(a.c.id == int(parts[2]), a.c.storage_key == storage_key, a.c.status == "stored")
            )
            return result.scalar_one_or_none()

    async def list_for_session(self, session_id: int) -> list[AttachmentRecord]:
        """The session's attachments, newest first (every status: the coach sees failures too)."""
        async with self._connection() as conn:
            result = await conn.execute(self._for_session, {"session_id": session_id})
            return [_record(row) for row in result.all()]

    async def failed_for_retry(
        self, limit: int, max_attempts: int, *, stale_after: timedelta = STALE_PENDING_AFTER
    ) -> list[RetryCandidate]:
        """Failed rows with attempts left, oldest first, with their thread.

        Rows left ``pending`` for ``stale_after`` count too: their intake died with its process.
        """
        params = {"stale": utcnow() - stale_after, "max_attempts": max_attempts, "limit": limit}
        async with self._connection() as conn:
            rows = (await conn.execute(self._retryable, params)).all()
        return [RetryCandidate(_record(row), row.channel_id, row.thread_ts) for row in rows]

    async def close(self) -> None:
        """Release the SQLite writer thread if it is ours (the engine belongs to the caller)."""
        if self._sqlite_writer is not None and self._owns_writer:
            await self._sqlite_writer.close()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        async with self._autocommit.connect() as conn:
            yield conn

    async def _run_write(self, transaction: Callable[[Connection], T]) -> T:
        """One write transaction in one piece (see ``ConversationStore._run_write``)."""
        if self._sqlite_writer is not None:
            return await self._sqlite_writer.run(transaction)
        async with self._engine.connect() as conn:
            return await conn.run_sync(transaction)


def stored_files_of_coach(
    connection: Connection, team_id: str, user_id: str, limit: int
) -> list[AttachmentRecord]:
    """A coach's stored files across their sessions, newest first, at most ``limit`` (the App Home).

    Two index ranges: the coach's most recently active sessions that hold a stored file (at most
    ``FILE_SESSIONS_LIMIT``, off ``idx_user_active_updated``), then those sessions' files
    (``idx_attachments_session_created``).
    The ids are sent as a list, not a subquery, so the planner sees how few sessions they are, and
    the status is compared through ``coalesce``, so SQLite can't prefer the status index (which
    would walk every coach's stored files).
    """
    s = coaching_sessions
    session_ids = (
        connection.execute(
            select(s.c.id).where(s.c.user_id == user_id, s.c.team_id == team_id, s.c.attachment_count > 0)
        )
        .scalars()
        .all()
    )
    if not session_ids:
        return []
    rows = connection.execute(
        select(*_COLUMNS)
        .where(
            _a.c.session_id.in_(session_ids),
            func.coalesce(_a.c.status, "") == AttachmentStatus.STORED.value,  # not by the status index
        )
        .order_by(_a.c.created_at.desc(), _a.c.id.desc())
        .limit(limit)
    ).all()
    return [_record(row) for row in rows]
