"""A coach's rows in one workspace, read for their data export: streamed, never loaded whole.

Each statement is keyed by the coach's workspace and user id, the columns every per-coach table
has, so a new table joins the export as one ``coach_rows(table, order)`` entry. Rows come off
a server-side cursor in chunks of ``STREAM_CHUNK`` (asyncpg's cursor on PostgreSQL, aiosqlite's
on SQLite): a coach with 20,000 messages costs the same memory as one with 2,000.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.erasure_models import coach_erasures
from storage.memory_records import Coach
from storage.models import attachments, bystander_notes, chat_messages, coaching_sessions

STREAM_CHUNK = 500
#: Who the rows belong to; the export names the coach once, in its header.
_OWNER_COLUMNS = frozenset({"team_id", "user_id"})

Statement = Callable[[Coach], Select[Any]]


def coach_rows(table: Table, *order_by: ColumnElement[Any]) -> Statement:
    """Every row of a per-coach table (``team_id``, ``user_id``) for one coach, all other columns."""
    columns = [column for column in table.c if column.name not in _OWNER_COLUMNS]

    def statement(coach: Coach) -> Select[Any]:
        return (
            select(*columns)
            .where(table.c.team_id == coach.team_id, table.c.user_id == coach.user_id)
            .order_by(*order_by, *table.primary_key.columns)
        )

    return statement


def session_messages(coach: Coach) -> Select[Any]:
    """The coach's sessions with their messages, one row per message (a session without any: one
    row of NULLs), in session order then Slack's order, off ``idx_session_timestamp``."""
    s, m = coaching_sessions, chat_messages
    return (
        select(
            s.c.id.label("session_id"),
            s.c.channel_id,
            s.c.thread_ts,
            s.c.title,
            s.c.is_active,
            s.c.created_at.label("started_at"),
            s.c.updated_at.label("last_activity_at"),
            m.c.id.label("message_id"),
            m.c.message_type.label("role"),
            m.c.slack_ts,
            m.c.timestamp,
            m.c.text,
        )
        .select_from(s.outerjoin(m, m.c.session_id == s.c.id))
        .where(s.c.team_id == coach.team_id, s.c.user_id == coach.user_id)
        .order_by(s.c.id, m.c.timestamp, m.c.id)
    )


def session_files(coach: Coach) -> Select[Any]:
    """The files shared in the coach's sessions (any status), oldest first."""
    a, s = attachments, coaching_sessions
    return (
        select(
            a.c.id,
            a.c.session_id,
            a.c.name,
            a.c.mime_type,
            a.c.size,
            a.c.sha256,
            a.c.status,
            a.c.error,
            a.c.storage_key,
            a.c.created_at,
        )
        .join(s, s.c.id == a.c.session_id)
        .where(s.c.team_id == coach.team_id, s.c.user_id == coach.user_id)
        .order_by(a.c.created_at, a.c.id)
    )


def bystander_notices(coach: Coach) -> Select[Any]:
    """Where the coach wrote in another coach's session in the workspace, and was told so once."""
    b, s = bystander_notes, coaching_sessions
    return (
        select(b.c.session_id, s.c.channel_id, s.c.thread_ts, b.c.noted_at)
        .join(s, s.c.id == b.c.session_id)
        .where(s.c.team_id == coach.team_id, b.c.user_id == coach.user_id)
        .order_by(b.c.noted_at, b.c.id)
    )


@contextlib.asynccontextmanager
async def export_reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection for the whole export; on PostgreSQL one REPEATABLE READ snapshot, so the
    sections agree with each other even while the coach keeps talking."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execution_options(isolation_level="REPEATABLE READ")
        try:
            yield connection
        finally:
            await connection.rollback()  # read only: nothing to keep


async def erasure_mark(connection: AsyncConnection, coach: Coach) -> datetime | None:
    """When the coach last erased their data (None: never); an export compares it before sharing."""
    e = coach_erasures
    statement = select(e.c.erased_at).where(e.c.team_id == coach.team_id, e.c.user_id == coach.user_id)
    return (await connection.execute(statement)).scalar_one_or_none()


async def erasure_under_way(connection: AsyncConnection, coach: Coach, erased_at: datetime) -> bool:
    """The erasure is recorded but its rows not yet deleted (they go in one later transaction): a
    session of the coach's started before it is still there. Sessions after it start afresh."""
    s = coaching_sessions
    statement = select(
        exists().where(s.c.team_id == coach.team_id, s.c.user_id == coach.user_id, s.c.created_at < erased_at)
    )
    return bool((await connection.execute(statement)).scalar())


async def stream_rows(connection: AsyncConnection, statement: Select[Any]) -> AsyncIterator[dict[str, Any]]:
    """The statement's rows as plain dicts, fetched ``STREAM_CHUNK`` at a time."""
    result = await connection.stream(statement.execution_options(yield_per=STREAM_CHUNK))
    async for row in result.mappings():
        yield dict(row)
